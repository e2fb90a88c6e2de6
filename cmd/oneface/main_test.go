package main

import (
	"bytes"
	"strings"
	"testing"
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
