package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/term"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/verify"
)

// console is the standard input verify waits on for a challenge: the
// person presses Enter once the frames are captured. Tests give their own.
type console struct {
	in io.Reader
	// terminal reports whether in is a terminal, where a person can
	// press Enter (not a pipe, a file or the end of input).
	terminal func() bool
}

// stdinConsole is the process's standard input.
func stdinConsole() console {
	return console{in: os.Stdin, terminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }}
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	return runVerifyOn(stdinConsole(), args, stdout, stderr)
}

func runVerifyOn(con console, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("verify", stderr)
	model := modelFlag(fs)
	keyFile := fs.String("key", "", "kiosk (verifier) secret key file")
	secretFile := fs.String("secret", "", "deployment secret file (references are bound to their deployment)")
	purpose := fs.String("purpose", "", "what the verification is for")
	pinEnv := fs.String("pin-env", "", "environment variable holding the holder's PIN")
	pinFile := fs.String("pin-file", "", "file holding the holder's PIN (\"-\": standard input)")
	auditDir := fs.String("audit-log", "", "the kiosk's audit log directory (required: no decision without a record)")
	logKey := fs.String("log-key", "", "the audit log's secret key file (also signs the consent statements)")
	statePath := fs.String("state", "", "the kiosk's state file: consent nonces, lockout, withdrawals, revocations (default: beside the audit log, DIR.state)")
	notice := fs.String("notice", "", "the privacy notice shown to the person (text file; its name is the notice version)")
	consented := fs.Bool("consented", false, "the person has read the notice and consents (required)")
	fmr := fs.Float64("fmr", 1e-3, "target false-match rate: one of the calibration table's targets (1e-2, 1e-3, 1e-4, 1e-5)")
	showDistance := fs.Bool("show-distance", false, "print the distance (calibration and debugging only)")
	livenessMode := fs.String("liveness", "both", "liveness check: both (the kiosk default: issue a challenge, print it, wait for a person at the terminal to press Enter while the frames are captured, then read them, and score the compared frame with the PAD network; standard input must be a terminal), challenge, passive (PAD on the compared frame only: for frames captured before the command, e.g. from a script) or none (a photo of the holder matches)")
	siteCal := fs.String("site-calibration", "", "signed site calibration from 'oneface calibrate-site' (stricter comparison thresholds; the PAD threshold of this camera)")
	siteKey := fs.String("site-key", "", "the deployment's site public key (as calibrate-site -genkey prints it), or a file holding it; required with -site-calibration")
	allowV1 := fs.Bool("allow-v1", false, "also accept version 1 references (WEAKER: their PIN can be stripped; see OpenerConfig.AllowV1)")
	outs := verifyOutputFlags(fs)
	var issuers list
	fs.Var(&issuers, "issuer", "trusted issuer public key, or a file holding it (as keygen issuer prints it), repeatable")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *purpose == "" || len(issuers) == 0 || *auditDir == "" || *notice == "" || *secretFile == "" || fs.NArg() < 2 {
		return usageError{"verify needs -key, -secret, -issuer, -purpose, -audit-log, -log-key, -notice, a reference and at least one frame"}
	}
	inputs := map[string]string{"-key": *keyFile, "-secret": *secretFile, "-log-key": *logKey,
		"-pin-file": *pinFile, "-site-calibration": *siteCal, "-site-key": *siteKey, "reference": fs.Arg(0)}
	for i, p := range fs.Args()[1:] {
		inputs[fmt.Sprintf("frame %d", i+1)] = p
	}
	if err := oneStdin(inputs); err != nil {
		return err
	}
	mode := verify.Liveness(*livenessMode)
	if !slices.Contains([]verify.Liveness{verify.LivenessNone, verify.LivenessPassive, verify.LivenessChallenge, verify.LivenessBoth}, mode) {
		return usageError{fmt.Sprintf("-liveness %q: want none, passive, challenge or both", *livenessMode)}
	}
	if *notice == stdinName {
		return usageError{"-notice takes a file: its name is the notice version recorded with the consent"}
	}
	if (*siteCal == "") != (*siteKey == "") {
		return usageError{"-site-calibration and -site-key go together"}
	}
	var siteText []byte
	var siteVKey string
	if *siteCal != "" {
		var err error
		if siteText, err = readSmall(*siteCal); err != nil {
			return err
		}
		if len(strings.TrimSpace(string(siteText))) == 0 {
			// Never "no calibration": the deployment asked for one.
			return fmt.Errorf("-site-calibration %s is empty: no signed site calibration to verify under", *siteCal)
		}
		siteVKey = *siteKey
		if _, err := note.NewVerifier(siteVKey); err != nil { // not a key: a file holding one
			b, err := readSmall(siteVKey)
			if err != nil {
				return err
			}
			siteVKey = strings.TrimSpace(string(b))
		}
	}
	outs.fmr, outs.showDistance = *fmr, *showDistance
	if err := outs.check(); err != nil {
		return err
	}
	challenge := mode == verify.LivenessChallenge || mode == verify.LivenessBoth
	if challenge {
		// The challenge is answered by frames captured after it is shown;
		// the person says so by pressing Enter. Without a terminal, the
		// end of input would count as Enter and the frames (captured
		// before) would be refused, a failed attempt towards the lockout.
		for _, name := range slices.Sorted(maps.Keys(inputs)) {
			if inputs[name] == stdinName {
				return usageError{fmt.Sprintf("-liveness %s waits for Enter on standard input: %s cannot be read from it (or use -liveness passive)", *livenessMode, name)}
			}
		}
		if !con.terminal() {
			return usageError{fmt.Sprintf("-liveness %s needs a person at a terminal to press Enter after capturing the frames, and standard input is not a terminal; for frames captured beforehand use -liveness passive", *livenessMode)}
		}
	}
	pin, err := readPIN(*pinFile, *pinEnv)
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
	readFrames := func() error {
		for _, p := range fs.Args()[1:] {
			f, err := readFrame(p)
			if err != nil {
				return err
			}
			frames = append(frames, f)
		}
		return nil
	}
	if !challenge {
		// No challenge to wait for: the frames are read first, as they
		// were captured before the run.
		if err := readFrames(); err != nil {
			return err
		}
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
	engine, err := openEngine(*dir, *model, mode == verify.LivenessPassive || mode == verify.LivenessBoth)
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
		TargetFMR: *fmr, Notices: map[string][32]byte{version: hash}, Liveness: mode, ExposeDistance: *showDistance},
		SiteCalibration: siteText, SiteKey: siteVKey})
	if err != nil {
		return err
	}
	req := verify.Request{Reference: ref, PIN: pin, Frames: frames, Purpose: *purpose}
	if *consented {
		c := &verify.Consent{Purpose: *purpose, NoticeVersion: version, NoticeHash: hash, GivenAt: time.Now()}
		rand.Read(c.Nonce[:])
		req.Consent = c
		if challenge {
			ch, err := v.Challenge(context.Background(), c.Nonce)
			if err != nil {
				return err
			}
			prompt := stdout
			if *outs.json {
				prompt = stderr // stdout holds the one JSON object
			}
			fmt.Fprintf(prompt, "CHALLENGE: %s, before %s; capture the frames, then press Enter\n", ch, ch.Expires.Format(time.TimeOnly))
			// At end of input the frames are read as they are (and refused
			// if they were captured before the challenge).
			if _, err := bufio.NewReader(con.in).ReadString('\n'); err != nil && err != io.EOF {
				return err
			}
		}
	}
	if len(frames) == 0 {
		if err := readFrames(); err != nil {
			return err
		}
	}
	req.Frames = frames
	d, err := v.Verify(context.Background(), req)
	if err != nil {
		return err
	}
	return finishVerify(stdout, d, alog, outs)
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
// kiosk key that signs consent statements. The key file is read once, so
// it may be standard input ("-").
func openKioskLog(dir, keyFile string) (*audit.Log, *verify.KioskKey, error) {
	if keyFile == "" {
		return nil, nil, usageError{"verify needs -log-key FILE (the audit log's secret key)"}
	}
	if err := requireController(dir); err != nil {
		return nil, nil, err
	}
	k, err := readSmall(keyFile)
	if err != nil {
		return nil, nil, err
	}
	defer clear(k)
	kiosk, err := verify.ParseKioskKey(string(k))
	if err != nil {
		return nil, nil, err
	}
	alog, err := audit.Open(dir, strings.TrimSpace(string(k)), audit.Options{})
	if errors.Is(err, audit.ErrNoController) {
		return nil, nil, hintError{err, []string{initHint}}
	}
	if err != nil {
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
		if err := requireController(*auditDir); err != nil {
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
