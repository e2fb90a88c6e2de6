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

	"github.com/oneface/oneface/audit"
)

// TestAuditControllerAndWitnessCLI: the controller's key pair, `audit
// init`, export and erase with the controller's identity only, verify
// against a collected evidence directory (a rollback reported with a
// hint), and a CRLF receipt checked.
func TestAuditControllerAndWitnessCLI(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	code, vkey, stderr := runCLI("keygen", "log", "-name", "kiosk-2.test", "-o", p("log.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	vk := strings.TrimSpace(vkey)
	code, recipient, stderr := runCLI("audit", "controller-keygen", "-o", p("controller.key"))
	if code != 0 || !strings.HasPrefix(recipient, "age1") {
		t.Fatalf("controller-keygen: %s", stderr)
	}
	if code, out, stderr := runCLI("audit", "init", "-log-key", p("log.key"), "-controller", strings.TrimSpace(recipient), p("log")); code != 0 || !strings.Contains(out, "cannot read them back") {
		t.Fatalf("init: %d %s %s", code, out, stderr)
	}
	// The kiosk side: the recorded controller is used.
	skey, _ := os.ReadFile(p("log.key"))
	coll, err := audit.NewDirWitness(p("collected"), vk)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(p("log"), strings.TrimSpace(string(skey)), audit.Options{Witnesses: []audit.Witness{coll}, WitnessPolicy: audit.WitnessPolicy{Every: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	subject := [16]byte{0x5a, 0x11}
	var receipt []byte
	for i := range 4 {
		a, err := l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door", Decision: audit.DecisionMatch,
			Reason: fmt.Sprintf("r%d", i), ModelID: "-"}, &audit.Personal{ReferenceID: [16]byte{byte(i)}, Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		receipt = a.Receipt
	}
	if _, err := l.Witness(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	sub := hex.EncodeToString(subject[:])
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"audit", "export", "-log-key", p("log.key"), "-subject", sub, p("log")}, 2, ""},
		{[]string{"audit", "export", "-log-key", p("log.key"), "-controller-identity", p("controller.key"), "-subject", sub, p("log")}, 0, `"index": 3`},
		{[]string{"audit", "verify", "-key", vk, "-evidence", p("collected"), p("log")}, 0, "verifies: 4 entries, checkpoint covers 4"},
		{[]string{"audit", "erase", "-log-key", p("log.key"), "-controller-identity", p("controller.key"), "-subject", sub, p("log")}, 0, "erased: 4 entries"},
		{[]string{"audit", "export", "-log-key", p("log.key"), "-controller-identity", p("controller.key"), "-subject", sub, p("log")}, 0, `"records": []`},
	}
	for _, s := range steps {
		code, out, stderr := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Fatalf("%v: exit %d\n%s%s", s.args, code, out, stderr)
		}
	}
	os.WriteFile(p("rc-crlf"), bytes.ReplaceAll(receipt, []byte("\n"), []byte("\r\n")), 0o600)
	if code, out, stderr := runCLI("audit", "check-receipt", "-key", vk, p("rc-crlf")); code != 0 || !strings.Contains(out, "receipt verifies: entry 3") {
		t.Fatalf("CRLF receipt: %d %s %s", code, out, stderr)
	}
	// Cut the log back to 2 entries: verify against the collection
	// reports the rollback, and the device refuses to open it.
	data, _ := os.ReadFile(filepath.Join(p("log"), "entries"))
	cut := bytes.Index(data, []byte("index 2\n")) - len("oneface audit entry v3\n") - 4
	os.WriteFile(filepath.Join(p("log"), "entries"), data[:cut], 0o600)
	code, _, stderr = runCLI("audit", "verify", "-key", vk, "-evidence", p("collected"), p("log"))
	if code != 1 || !strings.Contains(stderr, "entry 2: log truncated") || !strings.Contains(stderr, "oneface: hint: entries a checkpoint covers are missing") {
		t.Fatalf("rollback: %d %q", code, stderr)
	}
	code, _, stderr = runCLI("audit", "prove", "-log-key", p("log.key"), p("log"), "0")
	if code != 1 || !strings.Contains(stderr, "audit: entries: entry 2:") {
		t.Fatalf("device open of a rolled-back log: %d %q", code, stderr)
	}
}
