package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	model := modelFlag(fs)
	keyFile := fs.String("key", "", "kiosk (verifier) secret key file")
	secretFile := fs.String("secret", "", "deployment secret file (references are bound to their deployment)")
	purpose := fs.String("purpose", "", "what the verification is for")
	pinEnv := fs.String("pin-env", "", "environment variable holding the holder's PIN")
	auditDir := fs.String("audit-log", "", "the kiosk's audit log directory (required: no decision without a record)")
	logKey := fs.String("log-key", "", "the audit log's secret key file (also signs the consent statements)")
	statePath := fs.String("state", "", "the kiosk's state file: consent nonces, lockout, withdrawals, revocations (default: beside the audit log, DIR.state)")
	notice := fs.String("notice", "", "the privacy notice shown to the person (text file; its name is the notice version)")
	consented := fs.Bool("consented", false, "the person has read the notice and consents (required)")
	receipt := fs.String("receipt", "", "write the person's audit receipt to this file")
	consentOut := fs.String("consent-statement", "", "write the kiosk's signed consent statement to this file")
	fmr := fs.Float64("fmr", 1e-3, "target false-match rate: one of the calibration table's targets (1e-2, 1e-3, 1e-4, 1e-5)")
	showDistance := fs.Bool("show-distance", false, "print the distance (calibration and debugging only)")
	allowV1 := fs.Bool("allow-v1", false, "also accept version 1 references (WEAKER: their PIN can be stripped; see OpenerConfig.AllowV1)")
	var issuers list
	fs.Var(&issuers, "issuer", "trusted issuer public key, repeatable")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *purpose == "" || len(issuers) == 0 || *auditDir == "" || *notice == "" || *secretFile == "" || fs.NArg() < 2 {
		return usageError{"verify needs -key, -secret, -issuer, -purpose, -audit-log, -log-key, -notice, a reference and at least one frame"}
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
	cfg.AllowV1 = *allowV1
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
	var frames []verify.Frame
	for _, p := range fs.Args()[1:] {
		// One byte over the decoder's bound, so an oversized frame is
		// refused (and audited) by the verifier, not here.
		b, err := safefile.ReadFile(p, imageio.DefaultMaxBytes+1)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		frames = append(frames, verify.Frame{Encoded: b, CapturedAt: st.ModTime()})
	}
	alog, kiosk, err := openKioskLog(*auditDir, *logKey)
	if err != nil {
		return err
	}
	defer alog.Close()
	st, err := openKioskState(*auditDir, *statePath, cfg.Keys[0], alog)
	if err != nil {
		return err
	}
	defer st.Close()
	engine, err := openEngine(*dir, *model)
	if err != nil {
		return err
	}
	defer engine.Close()
	cfg.ModelID = engine.ModelID()
	opener, err := verify.NewOpener(cfg)
	if err != nil {
		return err
	}
	hash := verify.NoticeHash(string(noticeText))
	v, err := verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Audit: alog, State: st, KioskKey: kiosk, Policy: verify.Policy{
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
	if *consentOut != "" && d.Consent != nil {
		if err := os.WriteFile(*consentOut, d.Consent.Statement, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  signed consent statement -> %s\n", *consentOut)
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

// openKioskLog opens the kiosk's audit log and parses its key as the
// kiosk key that signs consent statements.
func openKioskLog(dir, keyFile string) (*audit.Log, *verify.KioskKey, error) {
	alog, err := openLog(dir, keyFile)
	if err != nil {
		return nil, nil, err
	}
	k, _ := readSmall(keyFile)
	kiosk, err := verify.ParseKioskKey(string(k))
	clear(k)
	if err != nil {
		alog.Close()
		return nil, nil, err
	}
	return alog, kiosk, nil
}

// defaultStatePath is the state file beside an audit log directory.
func defaultStatePath(auditDir string) string {
	return filepath.Clean(auditDir) + ".state"
}

// openKioskState opens the kiosk's state file. It is created only while
// the audit log is empty (a fresh kiosk); a kiosk with a history and no
// state file has lost its lockouts and withdrawals, and must not silently
// start afresh.
func openKioskState(auditDir, path string, key *verify.VerifierKey, alog *audit.Log) (*verify.State, error) {
	if path == "" {
		path = defaultStatePath(auditDir)
	}
	st, err := verify.OpenState(path, key, alog.Size() == 0)
	switch {
	case errors.Is(err, verify.ErrStateMissing):
		return nil, hintError{err, []string{
			fmt.Sprintf("the audit log %s has %d entries, so this kiosk has a history: its state file (consent nonces, lockouts, withdrawals, revocations) should exist", auditDir, alog.Size()),
			"restore it from a backup, or pass -state with its location",
		}}
	case errors.Is(err, verify.ErrStateCorrupt), errors.Is(err, verify.ErrStateKey):
		return nil, hintError{err, []string{"the state file is damaged or belongs to another kiosk key: it is never reset silently; restore it from a backup"}}
	}
	return st, err
}

// runBlock implements `oneface revoke` and `oneface withdraw`.
func runBlock(name string, withdraw bool) func(args []string, stdout, stderr io.Writer) error {
	return func(args []string, stdout, stderr io.Writer) error {
		fs, _ := newFlags(name, stderr)
		keyFile := fs.String("key", "", "kiosk (verifier) secret key file")
		auditDir := fs.String("audit-log", "", "the kiosk's audit log directory")
		logKey := fs.String("log-key", "", "the audit log's secret key file")
		statePath := fs.String("state", "", "the kiosk's state file (default: beside the audit log, DIR.state)")
		subject := fs.String("subject", "", "the holder's subject pseudonym (hex), to file the entry under the holder")
		reason := fs.String("reason", "issuer_request", "reason code recorded in the audit log (revoke only)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *keyFile == "" || *auditDir == "" || *logKey == "" || fs.NArg() != 1 {
			return usageError{name + " needs -key, -audit-log, -log-key and one reference ID"}
		}
		id, err := verify.ParseReferenceID(fs.Arg(0))
		if err != nil {
			return usageError{err.Error()}
		}
		var sub verify.Pseudonym
		if *subject != "" {
			raw, err := hex.DecodeString(*subject)
			if err != nil || len(raw) != len(sub) {
				return usageError{fmt.Sprintf("-subject: want %d bytes of hex", len(sub))}
			}
			copy(sub[:], raw)
		}
		kt, err := readSmall(*keyFile)
		if err != nil {
			return err
		}
		vk, err := verify.ParseVerifierKey(string(kt))
		if err != nil {
			return err
		}
		alog, err := openLog(*auditDir, *logKey)
		if err != nil {
			return err
		}
		defer alog.Close()
		st, err := openKioskState(*auditDir, *statePath, vk, alog)
		if err != nil {
			return err
		}
		defer st.Close()
		if withdraw {
			err = st.Withdraw(context.Background(), alog, id, sub)
		} else {
			err = st.Revoke(context.Background(), alog, id, sub, *reason)
		}
		if err != nil {
			return err
		}
		what := "revoked"
		if withdraw {
			what = "withdrawn (consent)"
		}
		fmt.Fprintf(stdout, "reference %s %s on this kiosk; audited as entry %d of %s\n", id, what, alog.Size()-1, alog.Origin())
		return nil
	}
}
