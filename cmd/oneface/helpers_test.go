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
