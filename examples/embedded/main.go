// Command embedded is the smallest oneface kiosk: it verifies one camera
// frame against one presented reference, with the person's consent,
// records the decision in the kiosk's audit log, and exits as `oneface
// verify` does: 0 for a match, 3 for no match, 4 for a refusal (no
// comparison was made), 1 when no decision could be made (keep the door
// shut) and 2 for a usage error.
//
//	embedded -models .models -keys /etc/oneface -data /var/lib/oneface card.ref frame.jpg
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

// The privacy notice the kiosk shows before anything is captured.
const notice = "We compare your face with your card, keep no image, and log the use."

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
	}
	os.Exit(code)
}

func run() (int, error) {
	models := flag.String("models", ".models", "face model directory (made by 'make setup')")
	keys := flag.String("keys", "keys", "directory holding kiosk.key, issuer.pub, deployment.secret and log.key")
	data := flag.String("data", "data", "the kiosk's directory: audit/ (the audit log) and state")
	purpose := flag.String("purpose", "door-main", "what the verification is for")
	liveness := flag.String("liveness", "passive", "liveness check: passive (presentation-attack detection on the compared frame) or none (a photo of the holder matches too)")
	flag.Parse()
	if flag.NArg() != 2 {
		return 2, fmt.Errorf("usage: embedded [flags] REFERENCE-FILE FRAME.jpg")
	}
	var errs []error // reading the key files; reported with the parse errors
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(*keys, name))
		errs = append(errs, err)
		return strings.TrimSpace(string(b))
	}
	kioskKey, err1 := verify.ParseVerifierKey(read("kiosk.key"))
	issuer, err2 := verify.ParseIssuerPublicKey(read("issuer.pub"))
	secret, err3 := verify.ParseDeploymentSecret(read("deployment.secret"))
	signer, err4 := verify.ParseKioskKey(read("log.key")) // the audit log's key also signs consent statements
	if err := errors.Join(append(errs, err1, err2, err3, err4)...); err != nil {
		return 1, err
	}

	log, err := audit.Open(filepath.Join(*data, "audit"), read("log.key"), audit.Options{})
	if err != nil {
		return 1, err
	}
	defer log.Close()
	// Consent nonces, lockout counters, withdrawals: created with the log,
	// required from then on (a kiosk that forgets them is the attack).
	state, err := verify.OpenState(filepath.Join(*data, "state"), kioskKey, log.Size() == 0)
	if err != nil {
		return 1, err
	}
	defer state.Close()
	// PAD: the passive presentation-attack network (.models/antispoof).
	engine, err := verify.OpenEngine(*models, verify.EngineOptions{PoolSize: 1, PAD: verify.Liveness(*liveness) != verify.LivenessNone}) // one analysis at a time
	if err != nil {
		return 1, err
	}
	defer engine.Close()
	opener, err := verify.NewOpener(verify.OpenerConfig{Issuers: []*verify.IssuerPublicKey{issuer},
		Keys: []*verify.VerifierKey{kioskKey}, Secret: secret, ModelID: engine.ModelID()})
	if err != nil {
		return 1, err
	}
	v, err := verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Audit: log, State: state, KioskKey: signer,
		// Passive: one frame cannot answer a challenge (see README.md).
		Policy: verify.Policy{Notices: map[string][32]byte{"notice-1": verify.NoticeHash(notice)}, Liveness: verify.Liveness(*liveness)}})
	if err != nil {
		return 1, err
	}

	card, err1 := os.ReadFile(flag.Arg(0))
	frame, err2 := os.ReadFile(flag.Arg(1))
	if err := errors.Join(err1, err2); err != nil {
		return 1, err
	}
	// Your consent screen fills this in when the person agrees to the notice.
	consent := &verify.Consent{Purpose: *purpose, NoticeVersion: "notice-1", NoticeHash: verify.NoticeHash(notice), GivenAt: time.Now()}
	rand.Read(consent.Nonce[:])
	d, err := v.Verify(context.Background(), verify.Request{Reference: card, Consent: consent, Purpose: *purpose,
		Frames: []verify.Frame{{Encoded: frame, CapturedAt: time.Now()}}})
	if err != nil {
		return 1, err // no decision, for instance the audit log could not be written
	}
	switch {
	case d.Match:
		fmt.Println("match: open the door")
		return 0, nil
	case d.Refused: // the first reason is the one recorded; Retry: the person may simply try again
		fmt.Printf("refused: %s (retry: %v)\n", d.Reasons[0].Code, d.Reasons[0].Retry)
		return 4, nil
	default:
		fmt.Println("no match")
		return 3, nil
	}
}
