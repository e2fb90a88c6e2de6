package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

// Both sides of a deployment: an issuer station enrols a person into a
// reference (the library records the enrolment in the station's audit log),
// and a kiosk verifies the holder with their consent (the decision is
// recorded in the kiosk's audit log before it is returned). It needs the
// face models (`make setup`), so it is compiled but not run. The README's
// "Go example" is this function's body (TestREADMEGoExample).
func Example() {
	ctx := context.Background()
	// Keys (made by `oneface keygen`) come from files, the environment or a secrets store; DO NOT hardcode them.
	issuerKey, err1 := verify.ParseIssuerKey(os.Getenv("ONEFACE_ISSUER_KEY"))
	secret, err2 := verify.ParseDeploymentSecret(os.Getenv("ONEFACE_DEPLOYMENT_SECRET"))
	kioskKey, err3 := verify.ParseVerifierKey(os.Getenv("ONEFACE_KIOSK_KEY"))
	signer, err4 := verify.ParseKioskKey(os.Getenv("ONEFACE_KIOSK_LOG_KEY")) // signs checkpoints and consent statements
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		log.Fatal(err)
	}
	engine, err := verify.OpenEngine(".models", verify.EngineOptions{}) // checks the model pins
	if err != nil {
		log.Fatal(err) // errors.Is(err, verify.ErrModelFiles): run `make setup`
	}
	defer engine.Close()

	// Issuer station: photos -> sealed reference; the library audits the enrolment.
	stationLog, err := audit.Open("/var/lib/oneface/issuer-audit", os.Getenv("ONEFACE_ISSUER_LOG_KEY"), audit.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer stationLog.Close()
	issuer, err := verify.NewIssuer(verify.IssuerConfig{Key: issuerKey, Secret: secret, Engine: engine, Audit: stationLog})
	if err != nil {
		log.Fatal(err)
	}
	photo, _ := os.ReadFile("photo.jpg")
	enr, err := issuer.Enroll(ctx, verify.EnrollRequest{SubjectID: "employee-1234", Photos: [][]byte{photo},
		Purposes: []string{"door-main"}, Verifiers: []*verify.VerifierRecipient{kioskKey.Recipient()}})
	if err != nil {
		log.Fatal(err) // a *verify.QualityError names the photo and the reason; nothing was issued
	}
	presented := enr.Reference // the card: a file, verify.EncodeText or verify.QRCode; the station keeps no copy

	// Kiosk: the presented card and a camera frame -> a decision, audited first.
	opener, err := verify.NewOpener(verify.OpenerConfig{Issuers: []*verify.IssuerPublicKey{issuerKey.Public()},
		Keys: []*verify.VerifierKey{kioskKey}, Secret: secret, ModelID: engine.ModelID()})
	if err != nil {
		log.Fatal(err)
	}
	kioskLog, err := audit.Open("/var/lib/oneface/audit", os.Getenv("ONEFACE_KIOSK_LOG_KEY"), audit.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer kioskLog.Close()
	state, err := verify.OpenState("/var/lib/oneface/state", kioskKey, kioskLog.Size() == 0) // nonces, lockout
	if err != nil {
		log.Fatal(err)
	}
	defer state.Close()
	const notice = "We compare your face with your card, keep no image, and log the use."
	v, err := verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Audit: kioskLog, State: state, KioskKey: signer,
		Policy: verify.Policy{Notices: map[string][32]byte{"notice-1": verify.NoticeHash(notice)}, Liveness: verify.LivenessNone}})
	if err != nil {
		log.Fatal(err)
	}
	frame, _ := os.ReadFile("frame.jpg") // or Frame{Image: img}: an image.Image from the camera driver
	consent := &verify.Consent{Purpose: "door-main", NoticeVersion: "notice-1", NoticeHash: verify.NoticeHash(notice), GivenAt: time.Now()}
	rand.Read(consent.Nonce[:]) // from the consent screen, once per attempt
	d, err := v.Verify(ctx, verify.Request{Reference: presented, Consent: consent, Purpose: "door-main",
		Frames: []verify.Frame{{Encoded: frame, CapturedAt: time.Now()}}})
	switch {
	case err != nil:
		log.Fatal(err) // no decision (the audit log could not be written...): keep the door shut
	case d.Match:
		fmt.Println("open the door") // d.Receipt is the person's audit receipt
	case d.Refused:
		fmt.Println("refused:", d.Reasons[0].Code, "retry:", d.Reasons[0].Retry)
	default:
		fmt.Println("no match")
	}
}

// TestREADMEGoExample: the README's "Go example" is the body of Example,
// so the code people copy from the README compiles against the API.
func TestREADMEGoExample(t *testing.T) {
	src, err := os.ReadFile("example_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_readme_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example" {
			body = string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		}
	}
	var want []string
	for _, line := range strings.Split(strings.Trim(body, "\n"), "\n") {
		want = append(want, strings.TrimPrefix(line, "\t"))
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := bytes.Cut(readme, []byte("\n## Go example\n"))
	_, block, ok2 := bytes.Cut(section, []byte("\n```go\n"))
	block, _, ok3 := bytes.Cut(block, []byte("\n```\n"))
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no ```go block under \"## Go example\"")
	}
	got := strings.Split(string(block), "\n")
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("README.md's Go example differs from Example's body at line %d:\nREADME:  %q\nExample: %q\n(paste the body of Example, one tab removed, into the README)", i+1, g, w)
		}
	}
}
