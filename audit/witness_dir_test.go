package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustDirWitness(t *testing.T, dir, vkey string) *DirWitness {
	t.Helper()
	w, err := NewDirWitness(dir, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestDirWitnessCollects(t *testing.T) {
	l := newTestLog(t, Options{})
	dir := filepath.Join(t.TempDir(), "collected")
	w := mustDirWitness(t, dir, l.vkey)
	ctx := context.Background()
	// The empty log's checkpoint, then a growing log.
	for _, n := range []int{0, 1, 2, 30, 300} {
		appendN(t, l.Log, n, "c")
		sigs, err := w.Cosign(ctx, l.Checkpoint(), logProof(l.Log, l.Size()))
		if err != nil || sigs != nil {
			t.Fatalf("size %d: %q, %v", l.Size(), sigs, err)
		}
	}
	// Again the same checkpoint: accepted, nothing new.
	before, _ := os.ReadDir(dir)
	if _, err := w.Cosign(ctx, l.Checkpoint(), logProof(l.Log, l.Size())); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadDir(dir)
	proofs, _ := os.ReadDir(filepath.Join(dir, proofsDir))
	if len(before) != len(after) || len(after) != 6 || len(proofs) != 5 {
		t.Fatalf("%d files, then %d, %d proofs; want 5 checkpoints, proofs/ and 5 proofs", len(before), len(after), len(proofs))
	}
	// Reopened, it re-verifies the chain and knows where it stands.
	w2 := mustDirWitness(t, dir, l.vkey)
	if n, ok := w2.Latest(); !ok || n != l.Size() {
		t.Fatalf("reopened at %d, %v", n, ok)
	}
	// The auditor's use: VerifyDir against the latest collected checkpoint.
	cp, err := os.ReadFile(filepath.Join(dir, collectedFile(l.Size())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDir(l.dir, cp, l.vkey); err != nil {
		t.Fatal(err)
	}
	for _, fi := range append(after, proofs...) {
		if info, _ := fi.Info(); info.Mode().Perm() != 0o600 && !fi.IsDir() {
			t.Fatalf("%s: mode %v", fi.Name(), info.Mode())
		}
	}
}

func TestDirWitnessRefusesForkAndRollback(t *testing.T) {
	l := newTestLog(t, Options{})
	dir := t.TempDir()
	w := mustDirWitness(t, dir, l.vkey)
	ctx := context.Background()
	appendN(t, l.Log, 3, "c")
	early := l.Checkpoint()
	if _, err := w.Cosign(ctx, early, logProof(l.Log, 3)); err != nil {
		t.Fatal(err)
	}
	appendN(t, l.Log, 7, "c")
	if _, err := w.Cosign(ctx, l.Checkpoint(), logProof(l.Log, 10)); err != nil {
		t.Fatal(err)
	}
	evidence := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "refused-*.checkpoint"))
		return len(m)
	}

	// Rollback: an older checkpoint after a newer one.
	if _, err := w.Cosign(ctx, early, logProof(l.Log, 3)); !errors.Is(err, ErrWitnessRefused) || !strings.Contains(err.Error(), "rollback") {
		t.Fatalf("rollback: %v", err)
	}
	// Fork of the same size.
	same := openTestLogWithKey(t, l.skey)
	appendN(t, same, 10, "fork")
	if _, err := w.Cosign(ctx, same.Checkpoint(), logProof(same, 10)); !errors.Is(err, ErrWitnessRefused) {
		t.Fatalf("same-size fork: %v", err)
	}
	// Fork that grows: its proof from 10 does not verify against our root.
	appendN(t, same, 5, "fork")
	if _, err := w.Cosign(ctx, same.Checkpoint(), logProof(same, 15)); !errors.Is(err, ErrWitnessRefused) {
		t.Fatalf("fork: %v", err)
	}
	if n := evidence(); n != 3 {
		t.Fatalf("%d refused checkpoints kept, want 3", n)
	}
	// A checkpoint the log did not sign.
	other := newTestLog(t, Options{})
	appendN(t, other.Log, 12, "x")
	if _, err := w.Cosign(ctx, other.Checkpoint(), logProof(other.Log, 12)); !errors.Is(err, ErrBadProof) {
		t.Fatalf("foreign signature: %v", err)
	}
	if n, _ := w.Latest(); n != 10 {
		t.Fatalf("moved to %d", n)
	}
	// Extension lines (C2SP tlog-checkpoint) are accepted.
	if _, err := w.Cosign(ctx, withExtension(t, l.Checkpoint(), l.skey, "ext 1\n"), logProof(l.Log, 10)); err != nil {
		t.Fatalf("extension lines: %v", err)
	}
	// The real log goes on.
	appendN(t, l.Log, 1, "c")
	if _, err := w.Cosign(ctx, l.Checkpoint(), logProof(l.Log, 11)); err != nil {
		t.Fatal(err)
	}
}

func TestDirWitnessDetectsTamperedCollection(t *testing.T) {
	l := newTestLog(t, Options{})
	dir := t.TempDir()
	w := mustDirWitness(t, dir, l.vkey)
	for _, n := range []int{2, 3, 4} {
		appendN(t, l.Log, n, "c")
		if _, err := w.Cosign(context.Background(), l.Checkpoint(), logProof(l.Log, l.Size())); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.checkpoint"))
	more, _ := filepath.Glob(filepath.Join(dir, proofsDir, "*"))
	names = append(names, more...)
	if len(names) != 6 {
		t.Fatalf("%d files", len(names))
	}
	for _, name := range names {
		orig, _ := os.ReadFile(name)
		for _, edit := range []func([]byte) []byte{
			func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c },
			func(b []byte) []byte { return b[:len(b)-1] },
		} {
			os.WriteFile(name, edit(orig), 0o600)
			if _, err := NewDirWitness(dir, l.vkey); !errors.Is(err, ErrBadProof) {
				t.Fatalf("%s edited: %v", filepath.Base(name), err)
			}
		}
		// Removing a checkpoint from the middle or the start breaks the chain
		// (the next proof starts elsewhere); removing the last is a rollback
		// of the collection itself, which only a copy elsewhere can reveal.
		os.Remove(name)
		_, err := NewDirWitness(dir, l.vkey)
		last := strings.HasSuffix(name, collectedFile(9))
		if !last && !errors.Is(err, ErrBadProof) {
			t.Fatalf("%s removed: %v", filepath.Base(name), err)
		}
		os.WriteFile(name, orig, 0o600)
	}
	if _, err := NewDirWitness(dir, l.vkey); err != nil {
		t.Fatal(err)
	}
}

// TestDirWitnessDoesNotFollowLinks: a symbolic link planted where the next
// checkpoint goes must not redirect the write (an attacker could otherwise
// make the collector overwrite a file of their choice).
func TestDirWitnessDoesNotFollowLinks(t *testing.T) {
	l := newTestLog(t, Options{})
	dir := t.TempDir()
	w := mustDirWitness(t, dir, l.vkey)
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	appendN(t, l.Log, 4, "c")
	for _, name := range []string{collectedFile(4), filepath.FromSlash(proofFile(4))} {
		if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Cosign(context.Background(), l.Checkpoint(), logProof(l.Log, 4)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the write followed the link: victim now %q", b)
	}
	fi, err := os.Lstat(filepath.Join(dir, collectedFile(4)))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%v %v", fi.Mode(), err)
	}
	if _, err := NewDirWitness(dir, l.vkey); err != nil {
		t.Fatal(err)
	}
}

func TestDirWitnessRefusesOpenDirectory(t *testing.T) {
	_, vkey, _ := GenerateKey("kiosk-7.example")
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	if _, err := NewDirWitness(dir, vkey); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("world-writable directory: %v", err)
	}
	os.Chmod(dir, 0o700)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if _, err := NewDirWitness(link, vkey); err == nil {
		t.Fatal("a symbolic link to a directory was accepted")
	}
	if _, err := NewDirWitness(dir, vkey); err != nil {
		t.Fatal(err)
	}
}
