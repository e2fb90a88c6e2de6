package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// subjectFile writes a subject ID to a file, as an issuer's system would
// hand it to `oneface enroll -subject-file`, and returns its path.
func subjectFile(t *testing.T, id string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "subject")
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// initLog records a fresh controller in the audit log dir (signed with
// the log key file logKey), as a deployment does with `oneface audit
// init` before the first enrolment or verification, and returns the
// controller's identity file.
func initLog(t *testing.T, dir, logKey string) string {
	t.Helper()
	id := filepath.Join(t.TempDir(), "controller.key")
	code, recipient, stderr := runCLI("audit", "controller-keygen", "-o", id)
	if code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("audit", "init", "-log-key", logKey, "-controller", strings.TrimSpace(recipient), dir); code != 0 {
		t.Fatal(stderr)
	}
	return id
}

// spoofKiosk makes, in a temporary folder, a deployment's keys (issuer,
// kiosk, deployment secret, log key), the kiosk's audit log with a
// controller ("audit"), a notice ("notice-1.txt") and a reference
// ("ref.txt") of a subject enrolled from enrolPhoto for door-main. It
// returns the folder's path function and the issuer's public key.
func spoofKiosk(t *testing.T, models, enrolPhoto string) (func(string) string, string) {
	t.Helper()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	_, issuerPub, _ := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	_, kioskPub, _ := runCLI("keygen", "verifier", "-o", p("kiosk.key"))
	runCLI("keygen", "deployment", "-o", p("deploy.secret"))
	runCLI("keygen", "log", "-name", "kiosk-t.test", "-o", p("log.key"))
	initLog(t, p("audit"), p("log.key"))
	if code, out, stderr := runCLI("enroll", "-models", models, "-key", p("issuer.key"), "-secret", p("deploy.secret"),
		"-to", strings.TrimSpace(kioskPub), "-purpose", "door-main", "-subject-file", subjectFile(t, "s-0001"), "-o", p("ref.txt"), enrolPhoto); code != 0 {
		t.Fatalf("enroll: exit %d\n%s%s", code, out, stderr)
	}
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	return p, issuerPub
}
