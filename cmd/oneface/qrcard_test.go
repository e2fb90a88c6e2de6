//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyUnreadableCardIsAudited: a card image in which no reference
// can be read — here ../shared/bugreports/qr-finder-tiles, which spends
// ReadQR's budget — is a refusal the kiosk records, not an error exit with
// no record. Before: ReadQR ran for tens of seconds of CPU and `verify`
// exited 1 with nothing audited.
func TestVerifyUnreadableCardIsAudited(t *testing.T) {
	models, lfw := requireModels(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	code, issuerPub, stderr := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "verifier", "-o", p("kiosk.key")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "log", "-name", "kiosk-t.test", "-o", p("log.key")); code != 0 {
		t.Fatal(stderr)
	}
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	card := filepath.Join("..", "..", "..", "shared", "bugreports", "qr-finder-tiles", "finder-tiles-600.png")
	code, out, stderr := runCLI("verify", "-models", models, "-key", p("kiosk.key"), "-issuer", strings.TrimSpace(issuerPub),
		"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"),
		"-consented", card, filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_0004.jpg"))
	if code != 0 || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "reason reference_malformed: reject") ||
		!strings.Contains(stderr, "QR search budget exhausted") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := runCLI("audit", "show", p("audit")); code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("audit show: exit %d\n%s", code, out)
	}
}
