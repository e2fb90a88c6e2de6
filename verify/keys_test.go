package verify

import (
	"errors"
	"strings"
	"testing"
)

func TestIssuerKeyText(t *testing.T) {
	k, err := GenerateIssuerKey("issuer.example")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.String(), "PRIVATE+KEY+issuer.example+") {
		t.Fatalf("secret form %q", k.String())
	}
	back, err := ParseIssuerKey(k.String())
	if err != nil || back.Public().String() != k.Public().String() || !back.priv.Equal(k.priv) {
		t.Fatalf("round trip: %v", err)
	}
	pub, err := ParseIssuerPublicKey(k.Public().String())
	if err != nil || pub.ID() != k.Public().ID() || pub.Name() != "issuer.example" {
		t.Fatalf("public round trip: %v", err)
	}
	s, p := k.String(), k.Public().String()
	for _, bad := range []string{"", s[:len(s)-1], s + "A", strings.Replace(s, "issuer.example", "issuer.exampl3", 1), p} {
		if _, err := ParseIssuerKey(bad); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("ParseIssuerKey(%q): %v", bad, err)
		}
	}
	for _, bad := range []string{"", p[:len(p)-2], strings.Replace(p, "issuer.example", "other", 1), s} {
		if _, err := ParseIssuerPublicKey(bad); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("ParseIssuerPublicKey(%q): %v", bad, err)
		}
	}
}

// TestIssuerKeyWithPlusInBase64 pins a key pair whose base64 contains '+',
// the signed-note separator (a test key: never use it for anything else).
func TestIssuerKeyWithPlusInBase64(t *testing.T) {
	const (
		skey = "PRIVATE+KEY+issuer.example+7dac21c5+AVVmdrFNXOLBQYIyvWUPYao9PSFgfzr8RTMxO6ZowysM"
		vkey = "issuer.example+7dac21c5+Aek30XMOQgLWQkfe9RdyKaqnm577+E77YbMrMbbpc8oX"
	)
	k, err := ParseIssuerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if k.Public().String() != vkey || k.Public().ID() != 0x7dac21c5 {
		t.Fatalf("public key %q id %08x", k.Public(), k.Public().ID())
	}
	if _, err := ParseIssuerPublicKey(vkey); err != nil {
		t.Fatal(err)
	}
}

func TestVerifierKeyText(t *testing.T) {
	k, err := GenerateVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseVerifierKey(k.String())
	if err != nil || back.Recipient().String() != k.Recipient().String() {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ParseVerifierRecipient(k.Recipient().String()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "AGE-SECRET-KEY-1", k.Recipient().String()} {
		if _, err := ParseVerifierKey(bad); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("ParseVerifierKey(%q): %v", bad, err)
		}
	}
	if _, err := ParseVerifierRecipient(k.String()); !errors.Is(err, ErrKeyFormat) {
		t.Error("a secret key parsed as a recipient")
	}
}

func TestDeploymentSecret(t *testing.T) {
	s := GenerateDeploymentSecret()
	back, err := ParseDeploymentSecret(s.String())
	if err != nil || back.b != s.b {
		t.Fatalf("round trip: %v", err)
	}
	txt := s.String()
	for _, bad := range []string{"", txt[:len(txt)-1], txt + "A", strings.ToLower(txt), strings.Replace(txt, "-1:", "-2:", 1)} {
		if _, err := ParseDeploymentSecret(bad); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("ParseDeploymentSecret(%q): %v", bad, err)
		}
	}
	// Pseudonyms: stable within a deployment, unlinkable across.
	other := GenerateDeploymentSecret()
	if s.Pseudonym("employee-42") != back.Pseudonym("employee-42") {
		t.Fatal("pseudonym not deterministic")
	}
	if s.Pseudonym("employee-42") == s.Pseudonym("employee-43") || s.Pseudonym("employee-42") == other.Pseudonym("employee-42") {
		t.Fatal("pseudonyms collide")
	}
}
