package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/oneface/oneface/audit"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	code, _, stderr := runCLI()
	if code != 2 || !strings.Contains(stderr, "compare") || !strings.Contains(stderr, "models") {
		t.Fatalf("no args: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI("help"); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	code, _, stderr = runCLI("frobnicate")
	if code != 2 || !strings.HasPrefix(stderr, `oneface: error: unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI("compare", "-models", t.TempDir(), "one.jpg")
	if code != 2 || !strings.Contains(stderr, "at least two images") {
		t.Fatalf("compare with one image: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI("compare", "-nosuchflag")
	if code != 2 {
		t.Fatalf("bad flag: exit %d, stderr %q", code, stderr)
	}
}

func TestModelsMissingDirectoryHints(t *testing.T) {
	code, _, stderr := runCLI("models", "-models", t.TempDir())
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if !strings.HasPrefix(lines[0], "oneface: error: facerec: model file ") || !strings.Contains(lines[0], "expected SHA-256") {
		t.Fatalf("error line %q", lines[0])
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-1], "oneface: hint: run `make setup`") {
		t.Fatalf("no hint: %q", stderr)
	}
}

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	code, vkey, stderr := runCLI("keygen", "log", "-name", "kiosk-1.test", "-o", p("log.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	skey, _ := os.ReadFile(p("log.key"))
	code, recipient, stderr := runCLI("audit", "controller-keygen", "-o", p("controller.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	ctl, _ := age.ParseX25519Recipient(strings.TrimSpace(recipient))
	l, err := audit.Open(p("log"), strings.TrimSpace(string(skey)), audit.Options{Controller: ctl})
	if err != nil {
		t.Fatal(err)
	}
	subject := [16]byte{0xab, 0xcd}
	for i := range 3 {
		_, err := l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door", Decision: audit.DecisionMatch,
			Reason: fmt.Sprintf("r%d", i), ModelID: "-"}, &audit.Personal{ReferenceID: [16]byte{byte(i)}, Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	cp := p("cp")
	code, out, _ := runCLI("audit", "checkpoint", p("log"))
	if code != 0 || os.WriteFile(cp, []byte(out), 0o600) != nil {
		t.Fatal("checkpoint")
	}
	vk := strings.TrimSpace(vkey)
	sub := hex.EncodeToString(subject[:])
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"audit", "verify", "-key", vk, "-checkpoint", cp, p("log")}, 0, "verifies: 3 entries"},
		{[]string{"audit", "show", p("log")}, 0, "r2"},
		{[]string{"audit", "prove", "-log-key", p("log.key"), p("log"), "1"}, 0, "inclusion of entry 1 in the tree of 3"},
		{[]string{"audit", "prove", "-log-key", p("log.key"), "-from", "1", p("log")}, 0, "consistency 1 -> 3"},
		{[]string{"audit", "export", "-log-key", p("log.key"), "-controller-identity", p("controller.key"), "-subject", sub, p("log")}, 0, `"index": 2`},
		{[]string{"audit", "erase", "-log-key", p("log.key"), "-controller-identity", p("controller.key"), "-subject", sub, p("log")}, 0, "erased: 3 entries"},
		{[]string{"audit", "verify", "-key", vk, "-checkpoint", cp, p("log")}, 0, "verifies: 4 entries, checkpoint covers 3"},
		{[]string{"audit", "verify", "-key", vk, p("nolog")}, 1, ""},
		{[]string{"audit", "frobnicate"}, 2, ""},
		{[]string{"audit", "export", "-subject", sub, p("log")}, 2, ""},
	}
	for _, s := range steps {
		code, out, stderr := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Fatalf("%v: exit %d\n%s%s", s.args, code, out, stderr)
		}
	}
	code, rc, stderr := runCLI("audit", "receipt", "-log-key", p("log.key"), p("log"), "0")
	if code != 0 {
		t.Fatalf("receipt: %s", stderr)
	}
	os.WriteFile(p("rc"), []byte(rc), 0o600)
	if code, out, stderr := runCLI("audit", "check-receipt", "-key", vk, p("rc")); code != 0 || !strings.Contains(out, "receipt verifies: entry 0") {
		t.Fatalf("check-receipt: %d %s %s", code, out, stderr)
	}
	// A tampered log: the error names the entry and gives a hint.
	data, _ := os.ReadFile(filepath.Join(p("log"), "entries"))
	os.WriteFile(filepath.Join(p("log"), "entries"), bytes.Replace(data, []byte("reason r1"), []byte("reason r9"), 1), 0o600)
	code, _, stderr = runCLI("audit", "verify", "-key", vk, "-checkpoint", cp, p("log"))
	if code != 1 || !strings.Contains(stderr, "oneface: error: audit: entries: entry 1:") || !strings.Contains(stderr, "oneface: hint:") {
		t.Fatalf("tampered: %d %q", code, stderr)
	}
}
