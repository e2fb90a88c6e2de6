//go:build unix

package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/oneface/oneface/internal/safefile"
)

// TestPairsConfined: rows of a pairs file cannot reach outside the CSV's
// folder (or -root), and the report does not tell which outside files
// exist. Before: absolute and ../ rows were read (a face found in
// /home/x/secret.jpg counted; a missing one said "no such file"), and a
// FIFO row blocked the run forever.
func TestPairsConfined(t *testing.T) {
	top := t.TempDir()
	outside := filepath.Join(top, "secret.jpg")
	os.WriteFile(outside, []byte("carol:1"), 0o600)
	dir := filepath.Join(top, "set")
	os.Mkdir(dir, 0o700)
	for name, content := range map[string]string{"a1.jpg": "alice:1", "a2.jpg": "alice:22", "b1.jpg": "bob:1"} {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.jpg"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink(outside, filepath.Join(dir, "link-out.jpg"))
	os.Symlink("a2.jpg", filepath.Join(dir, "link-in.jpg"))
	csv := "a,b,same\r\n" + // CRLF, as a spreadsheet on Windows saves it
		"a1.jpg,a2.jpg,1\r\n" +
		"a1.jpg,link-in.jpg,1\r\n" +
		"a1.jpg,b1.jpg,0\r\n" +
		"a1.jpg," + outside + ",0\r\n" +
		"a1.jpg," + filepath.Join(top, "missing.jpg") + ",0\r\n" +
		"a1.jpg,../secret.jpg,0\r\n" +
		"a1.jpg,../missing.jpg,0\r\n" +
		"a1.jpg,link-out.jpg,0\r\n" +
		"a1.jpg,fifo.jpg,0\r\n"
	os.WriteFile(filepath.Join(dir, "pairs.csv"), []byte(csv), 0o600)

	f := &fakeDescriber{}
	rep, err := Run(context.Background(), f, Config{PairsFile: filepath.Join(dir, "pairs.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.LineErrors) != 0 || rep.Pairs != 9 {
		t.Fatalf("pairs %d, line errors %q", rep.Pairs, rep.LineErrors)
	}
	failed := map[string]string{}
	for _, fi := range rep.FailedImages {
		failed[fi.Path] = fi.Error
	}
	for _, p := range []string{outside, filepath.Join(top, "missing.jpg"), "../secret.jpg", "../missing.jpg", "link-out.jpg"} {
		if !strings.Contains(failed[p], "outside the allowed folder") {
			t.Errorf("%s: %q, want outside the allowed folder", p, failed[p])
		}
	}
	// Existing and missing outside files read the same.
	same := func(a, b string) bool { return strings.ReplaceAll(failed[a], "secret", "missing") == failed[b] }
	if !same(outside, filepath.Join(top, "missing.jpg")) || !same("../secret.jpg", "../missing.jpg") {
		t.Errorf("outside errors tell existence apart: %q", failed)
	}
	if !strings.Contains(failed["fifo.jpg"], "FIFO") {
		t.Errorf("fifo: %q", failed["fifo.jpg"])
	}
	if len(failed) != 6 || rep.GenuinePairs != 2 || rep.ImpostorPairs != 1 {
		t.Fatalf("failed %q; genuine %d impostor %d", failed, rep.GenuinePairs, rep.ImpostorPairs)
	}

	// The user may allow outside files; a FIFO is still refused.
	rep, err = Run(context.Background(), f, Config{PairsFile: filepath.Join(dir, "pairs.csv"), AllowOutside: true})
	if err != nil {
		t.Fatal(err)
	}
	failed = map[string]string{}
	for _, fi := range rep.FailedImages {
		failed[fi.Path] = fi.Error
	}
	if _, bad := failed[outside]; bad || !strings.Contains(failed["fifo.jpg"], "FIFO") || !strings.Contains(failed["../missing.jpg"], "no such file") {
		t.Fatalf("allow outside: %q", failed)
	}

	// The pairs file itself must be a regular file: a FIFO is refused at
	// once.
	if _, err := Run(context.Background(), f, Config{PairsFile: filepath.Join(dir, "fifo.jpg")}); !errors.Is(err, safefile.ErrNotRegular) {
		t.Fatalf("FIFO pairs file: %v", err)
	}
}

// TestPairsStreamBounded: a 64 MiB pairs file of malformed content is
// streamed in bounded memory. Before: 64 MiB of commas (one line of 64 M
// fields) took 5.7 GB of RSS, and 11 M bad lines gave 11 M line errors
// (measured with the old readPairs: 5,752 MiB and 5,966 MiB maxrss). The
// bound is asserted on bytes allocated, which is deterministic, not on RSS.
func TestPairsStreamBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB files")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		content []byte
		errs    int
	}{
		{"one line of commas", bytes.Repeat([]byte(","), MaxPairsFile), 1},
		{"many short bad lines", bytes.Repeat([]byte("a,b,2\n"), MaxPairsFile/6), maxLineErrors + 1},
		{"many overlong lines", bytes.Repeat(append(bytes.Repeat([]byte("x,"), MaxPairsLine), '\n'), MaxPairsFile/(2*MaxPairsLine+1)), maxLineErrors + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "pairs.csv")
			if err := os.WriteFile(p, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			pairs, errs, err := readPairs(p)
			runtime.ReadMemStats(&after)
			if err != nil || len(pairs) != 0 || len(errs) != c.errs {
				t.Fatalf("%d pairs, %d line errors (%q...), %v", len(pairs), len(errs), errs[:min(2, len(errs))], err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %d line errors, last %q; %d bytes allocated in all", len(c.content), len(errs), errs[len(errs)-1], alloc)
			if alloc > 1<<20 {
				t.Fatalf("streaming %d bytes allocated %d", len(c.content), alloc)
			}
		})
	}
	// One byte over the file bound: refused from its size, naming it.
	p := filepath.Join(dir, "big.csv")
	os.WriteFile(p, make([]byte, MaxPairsFile+1), 0o600)
	if _, _, err := readPairs(p); !errors.Is(err, safefile.ErrTooLarge) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprint(MaxPairsFile)) {
		t.Fatalf("oversized pairs file: %v", err)
	}
}

// FuzzReadPairs: the streamed CSV reader never panics, keeps at most
// maxLineErrors+1 line errors, and every pair it returns has two non-empty
// paths and comes from a line of at most MaxPairsLine bytes.
func FuzzReadPairs(f *testing.F) {
	f.Add([]byte("a,b,same\r\na1.jpg,a2.jpg,1\n\"q,\"\"x\",b,0\n,,\n"))
	f.Add([]byte("a,b,2\n" + strings.Repeat(",", 5000) + "\nx,y,1"))
	f.Add([]byte("\"unterminated,b2.jpg,0\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "p.csv")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		pairs, errs, err := readPairs(p)
		if err != nil {
			t.Fatal(err) // a small regular file is always read
		}
		if len(errs) > maxLineErrors+1 {
			t.Fatalf("%d line errors kept", len(errs))
		}
		for _, pr := range pairs {
			if pr.a == "" || pr.b == "" || pr.line < 1 {
				t.Fatalf("bad pair %+v", pr)
			}
		}
	})
}
