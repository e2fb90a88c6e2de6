//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Attacks on the files an auditor hands to the audit package: a copied
// log directory is outside input. Before: VerifyLog, ReadEntries and
// LatestCheckpoint read the entries and checkpoints files whole with
// os.ReadFile, so a 3 GB sparse file took 3 GB of memory, a symbolic
// link to /dev/zero ran out of memory and a FIFO blocked forever.

// sparseSize is the apparent size of the sparse files: 3 GiB of holes
// after genuine frames, costing no disk.
const sparseSize = 3 << 30

// attackTimeout bounds a call that would block (a FIFO): a refusal is
// immediate, so this is only how long a hang is waited for.
const attackTimeout = 10 * time.Second

// allocDuring runs fn and returns the bytes it allocated (TotalAlloc, a
// count, not a time: it does not depend on the machine's speed).
func allocDuring(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// withTimeout runs fn in a goroutine and fails the test if it has not
// returned within attackTimeout (the goroutine is left blocked).
func withTimeout(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(attackTimeout):
		t.Fatalf("%s: still blocked after %v (a FIFO hung it)", what, attackTimeout)
		return nil
	}
}

// auditorCalls are the read paths of the auditor's side, each over a
// copied log directory.
func auditorCalls(l *testLog, cp []byte) map[string]func(dir string) error {
	return map[string]func(dir string) error{
		"VerifyLog": func(dir string) error {
			_, err := VerifyLog(dir, l.vkey, VerifyOptions{Checkpoints: [][]byte{cp}})
			return err
		},
		"ReadEntries": func(dir string) error {
			_, err := ReadEntries(dir)
			return err
		},
		"LatestCheckpoint": func(dir string) error {
			_, err := LatestCheckpoint(dir)
			return err
		},
		"ExportTiles": func(dir string) error {
			return ExportTiles(dir, filepath.Join(dir, "tiles-out"), nil, l.vkey)
		},
	}
}

// reads says whether an auditor call reads the file name.
func reads(call, name string) bool {
	switch call {
	case "ReadEntries":
		return name == entriesFile
	case "LatestCheckpoint":
		return name == checkpointsFile
	}
	return true
}

// TestAuditorSparseFileBoundedMemory: the entries and checkpoints files
// of a genuine 20-entry log, each grown to 3 GiB with a hole (truncate:
// no disk is used). Every read path allocates less than 8 MiB (measured:
// see the log line), and VerifyLog and ReadEntries report the zeros
// after entry 19 as a bad frame (they are not a torn tail: far larger
// than one batch); LatestCheckpoint and ExportTiles stop at what the
// checkpoint covers.
func TestAuditorSparseFileBoundedMemory(t *testing.T) {
	l, cp := build20(t, Options{})
	for _, name := range []string{entriesFile, checkpointsFile} {
		dir := copyDir(t, l.dir)
		if err := os.Truncate(filepath.Join(dir, name), sparseSize); err != nil {
			t.Fatal(err)
		}
		for call, fn := range auditorCalls(l, cp) {
			var err error
			n := allocDuring(func() { err = fn(dir) })
			t.Logf("%s with a %d-byte sparse %s: allocated %d bytes (%.2f MiB); err=%v", call, int64(sparseSize), name, n, float64(n)/(1<<20), err)
			if n > 8<<20 {
				t.Errorf("%s with a sparse %s: allocated %d bytes, want < 8 MiB", call, name, n)
			}
			wantCorrupt := name == entriesFile && (call == "VerifyLog" || call == "ReadEntries")
			var ce *CorruptError
			switch {
			case wantCorrupt && (!errors.As(err, &ce) || ce.Index != 20):
				t.Errorf("%s with a sparse %s: %v, want a bad frame at entry 20", call, name, err)
			case !wantCorrupt && err != nil:
				t.Errorf("%s with a sparse %s: %v, want the 20 genuine entries read", call, name, err)
			}
		}
	}
}

// TestAuditorRefusesDevZeroLink: entries or checkpoints replaced by a
// symbolic link to /dev/zero (a file that never ends) are refused at
// once, naming the file, on every read path.
func TestAuditorRefusesDevZeroLink(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	l, cp := build20(t, Options{})
	for _, name := range []string{entriesFile, checkpointsFile} {
		dir := copyDir(t, l.dir)
		p := filepath.Join(dir, name)
		os.Remove(p)
		if err := os.Symlink("/dev/zero", p); err != nil {
			t.Fatal(err)
		}
		for call, fn := range auditorCalls(l, cp) {
			if !reads(call, name) {
				continue
			}
			var err error
			n := allocDuring(func() { err = withTimeout(t, call, func() error { return fn(dir) }) })
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("%s with %s -> /dev/zero: %v, want a refusal naming %s as a symbolic link", call, name, err, p)
			}
			if n > 8<<20 {
				t.Errorf("%s with %s -> /dev/zero: allocated %d bytes", call, name, n)
			}
		}
	}
}

// TestAuditorRefusesFIFO: entries or checkpoints replaced by a FIFO with
// no writer: refused at once as a FIFO, naming the file, instead of
// blocking forever. A FIFO in the witnessed/ folder or in the auditor's
// evidence directory is refused too (before: skipped silently, or hung
// if swapped in after the directory was listed).
func TestAuditorRefusesFIFO(t *testing.T) {
	l, cp := build20(t, Options{})
	mkfifo := func(p string) {
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skip("no FIFOs here:", err)
		}
	}
	for _, name := range []string{entriesFile, checkpointsFile} {
		dir := copyDir(t, l.dir)
		p := filepath.Join(dir, name)
		mkfifo(p)
		for call, fn := range auditorCalls(l, cp) {
			if !reads(call, name) {
				continue
			}
			err := withTimeout(t, call, func() error { return fn(dir) })
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("%s with %s a FIFO: %v, want a refusal naming %s as a FIFO", call, name, err, p)
			}
		}
	}
	// Evidence: a FIFO among the auditor's checkpoints.
	dir := copyDir(t, l.dir)
	ev := t.TempDir()
	if err := os.WriteFile(filepath.Join(ev, "a.checkpoint"), cp, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(ev, "b.checkpoint")
	mkfifo(fifo)
	err := withTimeout(t, "VerifyLog -evidence", func() error {
		_, err := VerifyLog(dir, l.vkey, VerifyOptions{EvidenceDir: ev})
		return err
	})
	if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("VerifyLog with a FIFO in the evidence directory: %v, want a refusal naming %s", err, fifo)
	}
	// A 3 GiB sparse evidence file: refused by its size, naming the bound.
	os.Remove(fifo)
	big := filepath.Join(ev, "c.checkpoint")
	if err := os.Truncate(filepath.Join(ev, "a.checkpoint"), 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(big, nil, 0o600)
	os.Truncate(big, sparseSize)
	_, err = VerifyLog(dir, l.vkey, VerifyOptions{EvidenceDir: ev})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "limit 16384") {
		t.Errorf("VerifyLog with a sparse evidence file: %v, want malformed naming %s and its bound", err, big)
	}
}

// TestOpenCopiedDirFiles: Open (the device side, or an auditor opening a
// copy) on a log whose entries, checkpoints or personal file is grown to
// 3 GiB with a hole: it reads the valid frames and at most one batch
// after them (before: the whole file, 3 GiB), and refuses the log as
// corrupt. A FIFO or a link to /dev/zero in their place is refused as
// unsafe at once.
func TestOpenCopiedDirFiles(t *testing.T) {
	l, _ := build20(t, Options{})
	for _, name := range []string{entriesFile, checkpointsFile, personalFile} {
		dir := copyDir(t, l.dir)
		if err := os.Truncate(filepath.Join(dir, name), sparseSize); err != nil {
			t.Fatal(err)
		}
		var err error
		n := allocDuring(func() {
			var l2 *Log
			if l2, err = Open(dir, l.skey, Options{}); err == nil {
				l2.Close()
			}
		})
		t.Logf("Open with a %d-byte sparse %s: allocated %d bytes (%.2f MiB); err=%v", int64(sparseSize), name, n, float64(n)/(1<<20), err)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open with a sparse %s: %v, want ErrCorrupt", name, err)
		}
		if n > 16<<20 {
			t.Errorf("Open with a sparse %s: allocated %d bytes, want < 16 MiB", name, n)
		}
	}
	for _, kind := range []string{"FIFO", "symbolic link"} {
		dir := copyDir(t, l.dir)
		p := filepath.Join(dir, entriesFile)
		os.Remove(p)
		if kind == "FIFO" {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip(err)
			}
		} else if err := os.Symlink("/dev/zero", p); err != nil {
			t.Fatal(err)
		}
		err := withTimeout(t, "Open", func() error {
			l2, err := Open(dir, l.skey, Options{})
			if err == nil {
				l2.Close()
			}
			return err
		})
		if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), p) {
			t.Errorf("Open with entries a %s: %v, want ErrUnsafeDir naming %s", kind, err, p)
		}
	}
}

// TestLatestWitnessedFiles: a 3 GiB sparse file among the witnessed
// checkpoints is refused by its bound without being read, and a FIFO
// named like a checkpoint neither blocks nor counts.
func TestLatestWitnessedFiles(t *testing.T) {
	l, _ := build20(t, Options{})
	dir := copyDir(t, l.dir)
	wd := filepath.Join(dir, witnessedDir)
	os.MkdirAll(wd, 0o700)
	big := filepath.Join(wd, "00000000000000000020")
	os.WriteFile(big, nil, 0o600)
	if err := os.Truncate(big, sparseSize); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(wd, "00000000000000000099"), 0o600); err != nil {
		t.Skip(err)
	}
	var err error
	n := allocDuring(func() {
		err = withTimeout(t, "LatestWitnessed", func() error { _, err := LatestWitnessed(dir); return err })
	})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("limit %d", maxWitnessed)) || n > 1<<20 {
		t.Fatalf("LatestWitnessed with a sparse witnessed checkpoint: %v (allocated %d bytes), want a refusal naming the %d-byte bound", err, n, maxWitnessed)
	}
}
