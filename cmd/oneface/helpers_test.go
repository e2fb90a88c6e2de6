package main

import (
	"os"
	"path/filepath"
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
