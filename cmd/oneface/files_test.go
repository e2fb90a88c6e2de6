package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The attacks of issue 15 on output files: an existing key overwritten,
// a planted symbolic link written through, an existing file's wider mode
// kept. Before writeOutput, `enroll -o issuer.key` replaced the issuer's
// key and `verify -receipt LINK` wrote through the link.
func TestWriteOutputNeverDestroys(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("issuer.key"), []byte("the issuer's key\n"), 0o600)

	err := writeOutput(p("issuer.key"), []byte("a reference"), modeSecret, false)
	if !errors.Is(err, errExists) {
		t.Fatalf("existing file: %v", err)
	}
	if b, _ := os.ReadFile(p("issuer.key")); string(b) != "the issuer's key\n" {
		t.Fatalf("existing file changed: %q", b)
	}

	// A link planted where the output goes: refused, even with force;
	// its target is untouched and nothing is created there.
	os.WriteFile(p("victim"), []byte("victim"), 0o644)
	os.Symlink(p("victim"), p("receipt.txt"))
	os.Symlink(p("absent"), p("dangling.txt"))
	for _, force := range []bool{false, true} {
		for _, name := range []string{"receipt.txt", "dangling.txt"} {
			err := writeOutput(p(name), []byte("x"), modeSecret, force)
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Fatalf("%s, force %v: %v", name, force, err)
			}
		}
	}
	if b, _ := os.ReadFile(p("victim")); string(b) != "victim" {
		t.Fatal("written through a link")
	}
	if _, err := os.Lstat(p("absent")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("created through a dangling link")
	}

	// With force, a file is replaced by a new one with the new mode: an
	// old file's wider mode is not kept.
	os.WriteFile(p("ref.txt"), []byte("old"), 0o644)
	os.Chmod(p("ref.txt"), 0o644)
	if err := writeOutput(p("ref.txt"), []byte("new"), modeSecret, true); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p("ref.txt"))
	if b, _ := os.ReadFile(p("ref.txt")); string(b) != "new" || st.Mode().Perm() != 0o600 {
		t.Fatalf("forced write: %q, mode %o", b, st.Mode().Perm())
	}

	// A folder or a FIFO in the way is refused.
	os.Mkdir(p("adir"), 0o700)
	if err := writeOutput(p("adir"), []byte("x"), modeSecret, true); err == nil {
		t.Fatal("replaced a folder")
	}

	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
}

// Concurrent writers of one new output: exactly one wins, the others are
// told the file exists, and the file holds the winner's bytes whole.
func TestWriteOutputRace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = writeOutput(path, []byte(strings.Repeat(string(rune('a'+i)), 1<<16)), modeSecret, false)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, errExists):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	b, _ := os.ReadFile(path)
	if won < 0 || string(b) != strings.Repeat(string(rune('a'+won)), 1<<16) {
		t.Fatalf("winner %d, file of %d bytes not whole", won, len(b))
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d entries left in the folder", len(ents))
	}
}
