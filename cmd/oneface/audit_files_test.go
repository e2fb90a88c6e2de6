//go:build unix

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/oneface/oneface/audit"
)

// Attacks on the files the auditor commands are handed. Before: `audit
// show`, `checkpoint` and `verify` read the log's files whole
// (os.ReadFile), and `check-receipt`, `-checkpoint` and `-key` opened
// theirs with os.Open: a 3 GiB sparse entries file took 3 GiB of memory,
// a symbolic link to /dev/zero ran out of memory, a FIFO blocked forever.

// auditFixture is a closed log of 3 entries, its public key, a copy of
// its latest checkpoint and the receipt of entry 0, in files.
type auditFixture struct {
	dir, log, vkey, cp, rc string
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	code, vkey, stderr := runCLI("keygen", "log", "-name", "kiosk-9.test", "-o", p("log.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	skey, _ := os.ReadFile(p("log.key"))
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(p("log"), strings.TrimSpace(string(skey)), audit.Options{Controller: id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	var rc []byte
	for i := range 3 {
		a, err := l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door", Decision: audit.DecisionMatch,
			Reason: fmt.Sprintf("r%d", i), ModelID: "-"}, &audit.Personal{ReferenceID: [16]byte{byte(i)}, Subject: [16]byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			rc = a.Receipt
		}
	}
	cp := l.Checkpoint()
	l.Close()
	f := &auditFixture{dir: dir, log: p("log"), vkey: strings.TrimSpace(vkey), cp: p("cp"), rc: p("rc")}
	os.WriteFile(f.cp, cp, 0o600)
	os.WriteFile(f.rc, rc, 0o600)
	return f
}

// copyLog copies the log directory (files and folders) to a new one.
func (f *auditFixture) copyLog(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "log")
	err := filepath.WalkDir(f.log, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.log, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// runCLITimeout runs the CLI, failing the test when it has not returned
// after 10 s (it would be blocked on a FIFO; the goroutine is left
// behind).
func runCLITimeout(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLIWithin(t, 10*time.Second, args...)
}

// runCLIWithin runs the CLI, failing the test when it has not returned
// within d (a blocked read; the goroutine is left behind).
func runCLIWithin(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := runCLI(args...)
		done <- result{code, out, stderr}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.stderr
	case <-time.After(d):
		t.Fatalf("%v: still blocked after %v", args, d)
	}
	return 0, "", ""
}

// allocOf runs fn and returns the bytes it allocated.
func allocOf(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// replace puts a FIFO, a symbolic link to /dev/zero or a 3 GiB sparse
// file (after the genuine bytes) at path.
func replace(t *testing.T, path, kind string) {
	t.Helper()
	switch kind {
	case "FIFO":
		os.Remove(path)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skip("no FIFOs here:", err)
		}
	case "symbolic link":
		if _, err := os.Stat("/dev/zero"); err != nil {
			t.Skip("no /dev/zero")
		}
		os.Remove(path)
		if err := os.Symlink("/dev/zero", path); err != nil {
			t.Fatal(err)
		}
	case "sparse":
		if err := os.Truncate(path, 3<<30); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditCLIRefusesNonRegularFiles: the log's entries or checkpoints
// file, the -checkpoint, the receipt and the -key file replaced by a FIFO
// or a symbolic link to /dev/zero: every auditor command exits 1 at once
// with an error naming the file and what it is.
func TestAuditCLIRefusesNonRegularFiles(t *testing.T) {
	f := newAuditFixture(t)
	for _, kind := range []string{"FIFO", "symbolic link"} {
		for _, c := range []struct {
			name string
			file func(log string) string // the file replaced
			args func(log string) []string
		}{
			{"show/entries", func(log string) string { return filepath.Join(log, "entries") }, func(log string) []string { return []string{"audit", "show", log} }},
			{"checkpoint/checkpoints", func(log string) string { return filepath.Join(log, "checkpoints") }, func(log string) []string { return []string{"audit", "checkpoint", log} }},
			{"verify/entries", func(log string) string { return filepath.Join(log, "entries") }, func(log string) []string {
				return []string{"audit", "verify", "-key", f.vkey, "-checkpoint", f.cp, log}
			}},
			{"verify/checkpoints", func(log string) string { return filepath.Join(log, "checkpoints") }, func(log string) []string {
				return []string{"audit", "verify", "-key", f.vkey, log}
			}},
			{"verify/-checkpoint", func(log string) string { return filepath.Join(filepath.Dir(log), "cp") }, func(log string) []string {
				return []string{"audit", "verify", "-key", f.vkey, "-checkpoint", filepath.Join(filepath.Dir(log), "cp"), log}
			}},
			{"verify/-key", func(log string) string { return filepath.Join(filepath.Dir(log), "key") }, func(log string) []string {
				return []string{"audit", "verify", "-key", filepath.Join(filepath.Dir(log), "key"), "-checkpoint", f.cp, log}
			}},
			{"check-receipt/receipt", func(log string) string { return filepath.Join(filepath.Dir(log), "rc") }, func(log string) []string {
				return []string{"audit", "check-receipt", "-key", f.vkey, filepath.Join(filepath.Dir(log), "rc")}
			}},
		} {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				log := f.copyLog(t)
				target := c.file(log)
				os.WriteFile(target, []byte("genuine bytes, replaced below\n"), 0o600)
				replace(t, target, kind)
				code, out, stderr := runCLITimeout(t, c.args(log)...)
				if code != 1 || !strings.Contains(stderr, target) || !strings.Contains(stderr, kind) {
					t.Fatalf("exit %d, want 1 naming %s as a %s\n%s%s", code, target, kind, out, stderr)
				}
			})
		}
	}
}

// TestAuditCLISparseFilesBoundedMemory: the entries and checkpoints files
// grown to 3 GiB with a hole, and a 3 GiB sparse receipt. show and verify
// report the bad frame after entry 2 (show prints the 3 entries first),
// checkpoint prints the genuine latest checkpoint, check-receipt names
// the receipt and its 16 KiB bound; each allocates less than 16 MiB.
func TestAuditCLISparseFilesBoundedMemory(t *testing.T) {
	f := newAuditFixture(t)
	cp, _ := os.ReadFile(f.cp)
	for _, c := range []struct {
		name, file string
		args       func(log string) []string
		code       int
		out, err   string
	}{
		{"show", "entries", func(log string) []string { return []string{"audit", "show", log} }, 1, "r2", "entry 3: bad frame"},
		{"verify", "entries", func(log string) []string {
			return []string{"audit", "verify", "-key", f.vkey, "-checkpoint", f.cp, log}
		}, 1, "", "entry 3: bad frame"},
		{"checkpoint", "checkpoints", func(log string) []string { return []string{"audit", "checkpoint", log} }, 0, string(cp), ""},
		{"verify/checkpoints", "checkpoints", func(log string) []string { return []string{"audit", "verify", "-key", f.vkey, log} }, 0, "verifies: 3 entries", ""},
		{"check-receipt", "../rc", func(log string) []string {
			return []string{"audit", "check-receipt", "-key", f.vkey, filepath.Join(filepath.Dir(log), "rc")}
		}, 1, "", "limit 16384"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := f.copyLog(t)
			target := filepath.Join(log, c.file)
			if c.file == "../rc" {
				target = filepath.Join(filepath.Dir(log), "rc")
				b, _ := os.ReadFile(f.rc)
				os.WriteFile(target, b, 0o600)
			}
			replace(t, target, "sparse")
			var code int
			var out, stderr string
			n := allocOf(func() { code, out, stderr = runCLITimeout(t, c.args(log)...) })
			t.Logf("oneface %s with a 3 GiB sparse %s: exit %d, allocated %d bytes (%.2f MiB)", c.name, c.file, code, n, float64(n)/(1<<20))
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(stderr, c.err) {
				t.Fatalf("exit %d, want %d with %q / %q\n%s%s", code, c.code, c.out, c.err, out, stderr)
			}
			if n > 16<<20 {
				t.Fatalf("allocated %d bytes, want < 16 MiB", n)
			}
		})
	}
}

// TestAuditCLIStandardInput: "-" reads standard input for the receipt of
// check-receipt, verify's -checkpoint and -key; two "-" in one command is
// a usage error (exit 2) naming both flags.
func TestAuditCLIStandardInput(t *testing.T) {
	f := newAuditFixture(t)
	stdin := os.Stdin
	t.Cleanup(func() { os.Stdin = stdin })
	feed := func(path string) {
		in, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		os.Stdin = in
	}
	keyFile := filepath.Join(f.dir, "log.pub")
	os.WriteFile(keyFile, []byte(f.vkey+"\n"), 0o600)
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{f.rc, []string{"audit", "check-receipt", "-key", f.vkey, "-"}, 0, "receipt verifies: entry 0"},
		{f.cp, []string{"audit", "verify", "-key", f.vkey, "-checkpoint", "-", f.log}, 0, "verifies: 3 entries"},
		{keyFile, []string{"audit", "verify", "-key", "-", "-checkpoint", f.cp, f.log}, 0, "verifies: 3 entries"},
		{keyFile, []string{"audit", "check-receipt", "-key", "-", f.rc}, 0, "receipt verifies: entry 0"},
		{f.cp, []string{"audit", "verify", "-key", "-", "-checkpoint", "-", f.log}, 2, "-key and -checkpoint both ask for standard input"},
	} {
		feed(c.stdin)
		code, out, stderr := runCLITimeout(t, c.args...)
		if code != c.code || !strings.Contains(out+stderr, c.want) {
			t.Fatalf("%v < %s: exit %d, want %d with %q\n%s%s", c.args, c.stdin, code, c.code, c.want, out, stderr)
		}
	}
	// Standard input is bounded like a file: /dev/zero as a receipt.
	if _, err := os.Stat("/dev/zero"); err == nil {
		feed("/dev/zero")
		code, _, stderr := runCLITimeout(t, "audit", "check-receipt", "-key", f.vkey, "-")
		if code != 1 || !strings.Contains(stderr, "standard input has more than 16384 bytes") {
			t.Fatalf("/dev/zero on standard input: exit %d\n%s", code, stderr)
		}
	}
}
