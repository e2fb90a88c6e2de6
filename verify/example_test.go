package verify_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

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
