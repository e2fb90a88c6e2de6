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

// TestAuditVerifyProgress: `audit verify` writes nothing to a standard
// error that is not a terminal (a script's), however large the log; on a
// terminal (here a buffer taken for one, the size bound at 0) its bar
// ends at the entries file's size, 100%.
func TestAuditVerifyProgress(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := audit.GenerateKey("kiosk-3.test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(dir, "log"), skey, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door", Decision: audit.DecisionNoMatch,
			Reason: fmt.Sprintf("r%d", i), ModelID: "-"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	cp := l.Checkpoint()
	l.Close()
	os.WriteFile(filepath.Join(dir, "cp"), cp, 0o600)
	code, out, stderr := runCLI("audit", "verify", "-key", vkey, "-checkpoint", filepath.Join(dir, "cp"), filepath.Join(dir, "log"))
	if code != 0 || !strings.Contains(out, "verifies: 200 entries") || stderr != "" {
		t.Fatalf("exit %d\n%s\nstderr %q", code, out, stderr)
	}
	if report, done := verifyProgress(&bytes.Buffer{}, false, 0); report != nil {
		done()
		t.Fatal("a progress display off a terminal")
	}

	var tty bytes.Buffer
	report, done := verifyProgress(&tty, true, 0)
	_, err = audit.VerifyLog(filepath.Join(dir, "log"), vkey, audit.VerifyOptions{Checkpoints: [][]byte{cp}, Progress: report})
	done()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "log", "entries"))
	frames := strings.Split(strings.TrimRight(tty.String(), "\n"), "\r")
	last := frames[len(frames)-1]
	if !strings.HasPrefix(last, "audit verify") || !strings.Contains(last, "100%") || !strings.HasSuffix(tty.String(), "\n") {
		t.Fatalf("last frame %q of %d (entries file %d bytes)", last, len(frames), st.Size())
	}
	// A small log on a terminal: no bar (the size bound).
	tty.Reset()
	report, done = verifyProgress(&tty, true, st.Size()+1)
	audit.VerifyLog(filepath.Join(dir, "log"), vkey, audit.VerifyOptions{Checkpoints: [][]byte{cp}, Progress: report})
	done()
	if tty.Len() != 0 {
		t.Fatalf("a bar for a log below the bound: %q", tty.String())
	}
}
