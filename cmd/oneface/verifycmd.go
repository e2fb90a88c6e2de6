package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/safefile"
	"github.com/oneface/oneface/verify"
)

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("verify", stderr)
	keyFile := fs.String("key", "", "kiosk (verifier) secret key file")
	secretFile := fs.String("secret", "", "deployment secret file (for PIN references)")
	purpose := fs.String("purpose", "", "what the verification is for")
	pinEnv := fs.String("pin-env", "", "environment variable holding the holder's PIN")
	auditDir := fs.String("audit-log", "", "the kiosk's audit log directory (required: no decision without a record)")
	logKey := fs.String("log-key", "", "the audit log's secret key file")
	notice := fs.String("notice", "", "the privacy notice shown to the person (text file; its name is the notice version)")
	consented := fs.Bool("consented", false, "the person has read the notice and consents (required)")
	receipt := fs.String("receipt", "", "write the person's audit receipt to this file")
	fmr := fs.Float64("fmr", 1e-3, "target false-match rate (the threshold comes from the calibration table)")
	showDistance := fs.Bool("show-distance", false, "print the distance (calibration and debugging only)")
	var issuers list
	fs.Var(&issuers, "issuer", "trusted issuer public key, repeatable")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *purpose == "" || len(issuers) == 0 || *auditDir == "" || *notice == "" || fs.NArg() < 2 {
		return usageError{"verify needs -key, -issuer, -purpose, -audit-log, -log-key, -notice, a reference and at least one frame"}
	}
	pin, err := pinFromEnv(*pinEnv)
	if err != nil {
		return err
	}
	noticeText, err := readSmall(*notice)
	if err != nil {
		return err
	}
	version := strings.TrimSuffix(filepath.Base(*notice), filepath.Ext(*notice))
	cfg, err := openerConfig(issuers, *keyFile, *secretFile)
	if err != nil {
		return err
	}
	ref, err := readReference(fs.Arg(0))
	if unreadableCard(err) {
		// A card image that cannot be read is a refusal, audited like any
		// other: Verify gets no reference and refuses reference_malformed.
		fmt.Fprintf(stderr, "oneface: card unreadable: %v\n", err)
		ref, err = nil, nil
	}
	if err != nil {
		return err
	}
	var frames [][]byte
	for _, p := range fs.Args()[1:] {
		// One byte over the decoder's bound, so an oversized frame is
		// refused (and audited) by the verifier, not here.
		b, err := safefile.ReadFile(p, imageio.DefaultMaxBytes+1)
		if err != nil {
			return err
		}
		frames = append(frames, b)
	}
	alog, err := openLog(*auditDir, *logKey)
	if err != nil {
		return err
	}
	defer alog.Close()
	engine, err := verify.OpenEngine(*dir, verify.EngineOptions{})
	if err != nil {
		return engineError(*dir, err)
	}
	defer engine.Close()
	cfg.ModelID = engine.ModelID()
	opener, err := verify.NewOpener(cfg)
	if err != nil {
		return err
	}
	hash := verify.NoticeHash(string(noticeText))
	v, err := verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Audit: alog, Policy: verify.Policy{
		TargetFMR: *fmr, Notices: map[string][32]byte{version: hash}, Liveness: verify.LivenessNone, ExposeDistance: *showDistance}})
	if err != nil {
		return err
	}
	req := verify.Request{Reference: ref, PIN: pin, Frames: frames, Purpose: *purpose}
	if *consented {
		c := &verify.Consent{Purpose: *purpose, NoticeVersion: version, NoticeHash: hash, GivenAt: time.Now()}
		rand.Read(c.Nonce[:])
		req.Consent = c
	}
	d, err := v.Verify(context.Background(), req)
	if err != nil {
		return err
	}
	switch {
	case d.Match:
		fmt.Fprintln(stdout, "MATCH: the person is the holder of the reference")
	case d.Refused:
		fmt.Fprintln(stdout, "REFUSED: no comparison was made")
	default:
		fmt.Fprintln(stdout, "NO MATCH")
	}
	for _, r := range d.Reasons {
		kind := ": reject"
		switch {
		case r.Code == verify.ReasonOK:
			kind = ""
		case r.Retry:
			kind = ": retry"
		}
		where := ""
		if r.Frame >= 0 {
			where = fmt.Sprintf(" (frame %d)", r.Frame+1)
		}
		fmt.Fprintf(stdout, "  reason %s%s%s\n", r.Code, kind, where)
	}
	if *showDistance && !d.Refused {
		fmt.Fprintf(stdout, "  distance %.4f, threshold %.4f (FMR %g)\n", d.Distance, d.Threshold, *fmr)
	}
	if d.ReferenceID != (verify.ReferenceID{}) {
		fmt.Fprintf(stdout, "  reference %s; live data wiped\n", d.ReferenceID)
	}
	if info, err := audit.CheckReceipt(d.Receipt, alog.PublicKey()); err == nil {
		fmt.Fprintf(stdout, "  audited as entry %d of %s\n", info.Record.Index, alog.Origin())
	}
	if *receipt != "" {
		if err := os.WriteFile(*receipt, d.Receipt, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  receipt -> %s\n", *receipt)
	}
	return nil
}

// unreadableCard reports whether err means the reference was an image in
// which no reference could be read (no code, another code, the search
// budget spent, an image format or size the reader refuses).
func unreadableCard(err error) bool {
	for _, e := range []error{verify.ErrNoQR, verify.ErrNotReference, verify.ErrQRBudget,
		imageio.ErrUnsupported, imageio.ErrTooLarge, imageio.ErrCorrupt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
