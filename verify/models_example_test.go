package verify_test

import (
	"fmt"
	"log"
	"os"

	"github.com/oneface/oneface/verify"
)

// ParseModel reads a model name, e.g. from a command-line flag; anything
// but the two models is an error.
func ExampleParseModel() {
	for _, s := range []string{"arcface", "dlib", "facenet"} {
		m, err := verify.ParseModel(s)
		fmt.Printf("%q %v\n", m, err != nil)
	}
	// Output:
	// "arcface" false
	// "dlib" false
	// "" true
}

// A kiosk that still accepts dlib references while cards are re-issued
// under the default embedding: the engine runs both models (the default),
// the opener accepts both IDs, and the policy lists both. Each reference
// is compared under its own model, metric and calibrated threshold. Leave
// ModelDlib out of Policy.Models to refuse the weaker model. This needs
// the face models, so it is compiled but not run.
func ExamplePolicy_models() {
	engine, err := verify.OpenEngine(".models", verify.EngineOptions{Model: verify.ModelArcFace})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	dlibID, _ := engine.ModelIDFor(verify.ModelDlib)
	kioskKey, _ := verify.ParseVerifierKey(os.Getenv("KIOSK_KEY"))
	issuer, _ := verify.ParseIssuerPublicKey(os.Getenv("ISSUER_PUBLIC_KEY"))
	secret, _ := verify.ParseDeploymentSecret(os.Getenv("DEPLOYMENT_SECRET"))
	opener, err := verify.NewOpener(verify.OpenerConfig{Issuers: []*verify.IssuerPublicKey{issuer}, Keys: []*verify.VerifierKey{kioskKey},
		Secret: secret, ModelID: engine.ModelID(), ModelIDs: []verify.ModelID{dlibID}})
	if err != nil {
		log.Fatal(err)
	}
	policy := verify.Policy{Models: []verify.Model{verify.ModelArcFace, verify.ModelDlib}, Liveness: verify.LivenessNone,
		Notices: map[string][32]byte{"notice-2026-11": verify.NoticeHash("We compare your face with your card…")}}
	_, _ = opener, policy // then verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Policy: policy, …})
}
