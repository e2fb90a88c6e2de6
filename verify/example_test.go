package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

// Keys for a deployment: one issuer, one kiosk. Store the secret forms in
// files readable only by the service that uses them; DO NOT hardcode them.
func Example_keys() {
	issuer, err := verify.GenerateIssuerKey("badges.example.org")
	if err != nil {
		log.Fatal(err)
	}
	kiosk, err := verify.GenerateVerifierKey()
	if err != nil {
		log.Fatal(err)
	}
	secret := verify.GenerateDeploymentSecret()

	fmt.Println(strings.HasPrefix(issuer.String(), "PRIVATE+KEY+badges.example.org+"))
	fmt.Println(strings.HasPrefix(issuer.Public().String(), "badges.example.org+"))
	fmt.Println(strings.HasPrefix(kiosk.String(), "AGE-SECRET-KEY-1"))
	fmt.Println(strings.HasPrefix(kiosk.Recipient().String(), "age1"))
	fmt.Println(strings.HasPrefix(secret.String(), "ONEFACE-DEPLOYMENT-SECRET-1:"))
	// Output:
	// true
	// true
	// true
	// true
	// true
}

// Enrol a person from two photos. This needs the face models (`make
// setup`), so it is compiled but not run.
func ExampleIssuer_Enroll() {
	engine, err := verify.OpenEngine(".models", verify.EngineOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	key, _ := verify.ParseIssuerKey(os.Getenv("ISSUER_KEY"))
	secret, _ := verify.ParseDeploymentSecret(os.Getenv("DEPLOYMENT_SECRET"))
	kiosk, _ := verify.ParseVerifierRecipient("age1...")
	issuer, err := verify.NewIssuer(verify.IssuerConfig{Key: key, Secret: secret, Engine: engine})
	if err != nil {
		log.Fatal(err)
	}
	a, _ := os.ReadFile("photo1.jpg")
	b, _ := os.ReadFile("photo2.jpg")
	enr, err := issuer.Enroll(context.Background(), verify.EnrollRequest{
		SubjectID: "employee-1234",
		Photos:    [][]byte{a, b},
		Purposes:  []string{"door-main"},
		Verifiers: []*verify.VerifierRecipient{kiosk},
	})
	if err != nil {
		log.Fatal(err) // a *verify.QualityError says which photo and why
	}
	png, _ := verify.QRCode(enr.Reference, 6)
	os.WriteFile("card.png", png, 0o600)
	fmt.Println("reference", enr.ID, "expires", enr.ExpiresAt)
}

// A kiosk: one verification with the person's consent, recorded in the
// kiosk's audit log before the door opens. This needs the face models, so
// it is compiled but not run.
func ExampleVerifier_Verify() {
	engine, err := verify.OpenEngine(".models", verify.EngineOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	kioskKey, _ := verify.ParseVerifierKey(os.Getenv("KIOSK_KEY"))
	issuer, _ := verify.ParseIssuerPublicKey(os.Getenv("ISSUER_PUBLIC_KEY"))
	secret, _ := verify.ParseDeploymentSecret(os.Getenv("DEPLOYMENT_SECRET"))
	opener, err := verify.NewOpener(verify.OpenerConfig{
		Issuers: []*verify.IssuerPublicKey{issuer}, Keys: []*verify.VerifierKey{kioskKey}, Secret: secret, ModelID: engine.ModelID(),
	})
	if err != nil {
		log.Fatal(err)
	}
	auditLog, err := audit.Open("/var/lib/oneface/audit", os.Getenv("LOG_KEY"), audit.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer auditLog.Close()
	// The kiosk's durable state: consent nonces, lockout, withdrawals. It
	// is created with the audit log and must exist from then on.
	state, err := verify.OpenState("/var/lib/oneface/kiosk.state", kioskKey, auditLog.Size() == 0)
	if err != nil {
		log.Fatal(err) // missing or damaged: never start afresh silently
	}
	defer state.Close()
	signer, _ := verify.ParseKioskKey(os.Getenv("LOG_KEY")) // the audit key also signs consent statements
	const notice = "We compare your face with your card, keep no image, and log the use."
	v, err := verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Audit: auditLog, State: state, KioskKey: signer, Policy: verify.Policy{
		Notices:  map[string][32]byte{"notice-2026-11": verify.NoticeHash(notice)},
		Liveness: verify.LivenessNone, // no liveness check (see ExampleVerifier_Challenge): a photo of the holder matches
	}})
	if err != nil {
		log.Fatal(err)
	}

	card, _ := os.ReadFile("card.txt")       // read from the person's QR code
	jpegBytes, _ := os.ReadFile("frame.jpg") // from the camera (an image.Image goes in Frame.Image)
	consent := &verify.Consent{Purpose: "door-main", NoticeVersion: "notice-2026-11",
		NoticeHash: verify.NoticeHash(notice), GivenAt: time.Now()}
	rand.Read(consent.Nonce[:])
	d, err := v.Verify(context.Background(), verify.Request{Reference: card, Frames: []verify.Frame{{Encoded: jpegBytes, CapturedAt: time.Now()}}, Consent: consent, Purpose: "door-main"})
	if err != nil {
		log.Fatal(err) // no decision (for instance the audit log could not be written): keep the door shut
	}
	if d.Match {
		fmt.Println("open the door")
		os.WriteFile("consent.note", d.Consent.Statement, 0o600) // the person can check it with the kiosk's public key
	} else {
		fmt.Println("refused or no match:", d.Reasons)
	}
}

// Anyone holding the kiosk's public key (the key of its audit log) checks
// a consent statement offline: which reference, purpose, notice, when and
// what was decided. Any change to the text or signature fails.
func ExampleCheckConsentStatement() {
	const kioskPublicKey = "kiosk-1.example+a9e6dc46+AT0oqbztViDQyUf6OcGfa7QFL+pFhclTptkG7icPwaSn"
	statement := []byte("oneface consent v1\nreference 06ea0902e692085fae9061211507a681\npurpose door-main\n" +
		"notice notice-2026-11\nnotice-sha256 f0c783e83f9a3a3c4bce524ce474c052342c6aed100758a4ba0ecbe863c52bca\n" +
		"nonce 81036f73000000000000000000000000\ngiven 2026-11-30T09:15:00Z\ndecision match\nreason ok\n\n" +
		"— kiosk-1.example qebcRvhV7VeA6uEuVn87m09vQlp49/UjWN95LbY83KdqMykHaf1WU1XC7t5jWQnPvFUplc131xWWE9BgIq2CMjzQ8gg=\n")
	st, err := verify.CheckConsentStatement(statement, kioskPublicKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.ReferenceID, st.Purpose, st.NoticeVersion, st.GivenAt.Format(time.RFC3339), st.Decision)
	forged := bytes.Replace(statement, []byte("decision match"), []byte("decision refused"), 1)
	_, err = verify.CheckConsentStatement(forged, kioskPublicKey)
	fmt.Println(errors.Is(err, verify.ErrConsentStatement))
	// Output:
	// 06ea0902e692085fae9061211507a681 door-main notice-2026-11 2026-11-30T09:15:00Z match
	// true
}
