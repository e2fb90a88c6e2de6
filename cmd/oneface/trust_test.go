//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oneface/oneface/verify"
)

// TestVerifyLockoutAcrossRuns: each `oneface verify` is a new process, and
// the lockout still holds: five impostor runs give no_match, the sixth —
// the holder's own face — is locked_out. On the old code every run started
// from zero. Then revoke and withdraw act on the same state, audited, and
// a missing state file for a kiosk with history is an error.
func TestVerifyLockoutAcrossRuns(t *testing.T) {
	models, lfw := requireModels(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	_, issuerPub, _ := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	_, kioskPub, _ := runCLI("keygen", "verifier", "-o", p("kiosk.key"))
	runCLI("keygen", "deployment", "-o", p("deploy.secret"))
	_, logPub, _ := runCLI("keygen", "log", "-name", "kiosk-t.test", "-o", p("log.key"))
	initLog(t, p("audit"), p("log.key"))
	photo := func(who, n string) string { return filepath.Join(lfw, who, who+"_"+n+".jpg") }
	enroll := func(out, pin string) string {
		args := []string{"enroll", "-models", models, "-key", p("issuer.key"), "-secret", p("deploy.secret"),
			"-to", strings.TrimSpace(kioskPub), "-purpose", "door-main", "-subject-file", subjectFile(t, "employee-"+out), "-o", p(out)}
		if pin != "" {
			os.Setenv("TEST_PIN", pin)
			args = append(args, "-pin-env", "TEST_PIN")
		}
		code, stdout, stderr := runCLI(append(args, photo("Abel_Pacheco", "0001"))...)
		if code != 0 {
			t.Fatalf("enroll: %s%s", stdout, stderr)
		}
		return regexp.MustCompile(`reference ([0-9a-f]{32})`).FindStringSubmatch(stdout)[1]
	}
	id := enroll("ref.txt", "")
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	kiosk := func(extra ...string) (int, string, string) {
		args := append([]string{"verify", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"),
			"-issuer", strings.TrimSpace(issuerPub), "-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"),
			"-notice", p("notice-1.txt"), "-liveness", "none", "-consented"}, extra...)
		return runCLI(args...)
	}
	impostor := photo("Akhmed_Zakayev", "0003")
	for i := range 5 {
		code, out, stderr := kiosk(p("ref.txt"), impostor)
		if code != exitNoMatch || !strings.Contains(out, "NO MATCH") {
			t.Fatalf("impostor run %d: exit %d\n%s%s", i+1, code, out, stderr)
		}
	}
	code, out, stderr := kiosk(p("ref.txt"), photo("Abel_Pacheco", "0004"))
	if code != exitRefused || !strings.Contains(out, "reason locked_out: reject") {
		t.Fatalf("6th run (the holder): exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(p("audit") + ".state"); err != nil {
		t.Fatalf("no state file beside the audit log: %v", err)
	}

	// A PIN reference: wrong PINs count toward the same lockout, per run.
	pid := enroll("pin.txt", "2468")
	for i := range 5 {
		os.Setenv("TEST_PIN", "0000")
		code, out, _ := kiosk("-pin-env", "TEST_PIN", p("pin.txt"), photo("Abel_Pacheco", "0004"))
		if code != exitRefused || !strings.Contains(out, "reason reference_authentication") {
			t.Fatalf("wrong PIN run %d: %s", i+1, out)
		}
	}
	os.Setenv("TEST_PIN", "2468")
	if _, out, _ := kiosk("-pin-env", "TEST_PIN", p("pin.txt"), photo("Abel_Pacheco", "0004")); !strings.Contains(out, "reason locked_out") {
		t.Fatalf("right PIN after 5 wrong: %s", out)
	}
	_ = pid

	// Withdraw and revoke act on the same state, each audited.
	other := enroll("other.txt", "")
	third := enroll("third.txt", "")
	block := func(cmd, id string) {
		code, out, stderr := runCLI(cmd, "-key", p("kiosk.key"), "-audit-log", p("audit"), "-log-key", p("log.key"), id)
		if code != 0 || !strings.Contains(out, "audited as entry") {
			t.Fatalf("%s: exit %d\n%s%s", cmd, code, out, stderr)
		}
	}
	block("withdraw", other)
	block("revoke", third)
	for _, ref := range []string{"other.txt", "third.txt"} {
		if _, out, _ := kiosk(p(ref), photo("Abel_Pacheco", "0004")); !strings.Contains(out, "reason reference_revoked") {
			t.Fatalf("%s after withdraw/revoke: %s", ref, out)
		}
	}
	_, log, _ := runCLI("audit", "show", p("audit"))
	if !strings.Contains(log, "consent-withdrawn") || !strings.Contains(log, "revoke") {
		t.Fatalf("withdraw/revoke not audited:\n%s", log)
	}
	// A match carries the kiosk's signed consent statement; it checks
	// with the log's public key.
	fresh := enroll("fresh.txt", "")
	if code, out, stderr := kiosk("-consent-statement", p("consent.note"), p("fresh.txt"), photo("Abel_Pacheco", "0004")); code != 0 || !strings.Contains(out, "MATCH") {
		t.Fatalf("match: %s%s", out, stderr)
	}
	note, _ := os.ReadFile(p("consent.note"))
	if st, err := verify.CheckConsentStatement(note, strings.TrimSpace(logPub)); err != nil || st.ReferenceID.String() != fresh || st.Decision != "match" {
		t.Fatalf("consent statement: %+v %v", st, err)
	}
	_ = id

	// The state file disappears: a kiosk with history refuses to start afresh.
	os.Rename(p("audit")+".state", p("moved.state"))
	code, _, stderr = kiosk(p("ref.txt"), photo("Abel_Pacheco", "0004"))
	if code != 1 || !strings.Contains(stderr, "state file missing") || !strings.Contains(stderr, "oneface: hint:") {
		t.Fatalf("missing state: exit %d %q", code, stderr)
	}
	os.WriteFile(p("audit")+".state", []byte("garbage"), 0o600)
	code, _, stderr = kiosk(p("ref.txt"), photo("Abel_Pacheco", "0004"))
	if code != 1 || !strings.Contains(stderr, "corrupt") {
		t.Fatalf("corrupt state: exit %d %q", code, stderr)
	}
}
