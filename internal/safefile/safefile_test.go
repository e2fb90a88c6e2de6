//go:build unix

package safefile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/oneface/oneface/internal/safefile"
)

// tree builds a folder with one of each kind of entry, and a secret file
// outside it.
func tree(t *testing.T) (dir, outside string) {
	t.Helper()
	top := t.TempDir()
	dir = filepath.Join(top, "in")
	must(t, os.Mkdir(dir, 0o700))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	outside = filepath.Join(top, "secret.jpg")
	must(t, os.WriteFile(outside, []byte("outside"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("b"), 0o600))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero")))
	must(t, os.Symlink(outside, filepath.Join(dir, "out-abs")))
	must(t, os.Symlink("../secret.jpg", filepath.Join(dir, "out-rel")))
	must(t, os.Symlink("sub/b.txt", filepath.Join(dir, "in-link")))
	sparse, err := os.Create(filepath.Join(dir, "sparse"))
	must(t, err)
	must(t, sparse.Truncate(3<<30)) // 3 GB that occupy no disk
	must(t, sparse.Close())
	return dir, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Every way a path can be something other than a small regular file is
// refused by name, at once, at a cost independent of what it claims to be.
func TestReadFileRefuses(t *testing.T) {
	dir, _ := tree(t)
	p := func(s string) string { return filepath.Join(dir, s) }
	for _, tc := range []struct {
		name, path string
		want       error
		inMsg      string
	}{
		{"FIFO with no writer", p("fifo"), safefile.ErrNotRegular, "FIFO"},
		{"symlink to /dev/zero", p("zero"), safefile.ErrNotRegular, "symbolic link"},
		{"device", "/dev/zero", safefile.ErrNotRegular, "character device"},
		{"directory", p("sub"), safefile.ErrNotRegular, "directory"},
		{"3 GB sparse file", p("sparse"), safefile.ErrTooLarge, "limit 1048576"},
		{"symlink to a regular file", p("in-link"), safefile.ErrNotRegular, "symbolic link"},
		{"over the bound by one byte", p("a.txt"), safefile.ErrTooLarge, "limit 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := int64(1 << 20)
			if strings.Contains(tc.inMsg, "limit 5") {
				max = 5
			}
			b, err := safefile.ReadFile(tc.path, max)
			if !errors.Is(err, tc.want) || b != nil {
				t.Fatalf("ReadFile(%s) = %d bytes, %v; want %v", tc.path, len(b), err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.inMsg) {
				t.Fatalf("error %q does not name the file and %q", err, tc.inMsg)
			}
		})
	}
	b, err := safefile.ReadFile(p("a.txt"), 6)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("regular file at its bound: %q, %v", b, err)
	}
}

// The sparse file is refused from its size, before reading: the heap does
// not grow by anything near its claimed 3 GB.
func TestSparseFileCostsNothing(t *testing.T) {
	dir, _ := tree(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := safefile.ReadFile(filepath.Join(dir, "sparse"), 64<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, safefile.ErrTooLarge) {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing a sparse file allocated %d bytes", grew)
	}
}

func TestDirConfines(t *testing.T) {
	dir, outside := tree(t)
	d, err := safefile.OpenDir(dir)
	must(t, err)
	defer d.Close()
	for _, tc := range []struct {
		name string
		want error
	}{
		{outside, safefile.ErrOutside},                // absolute, existing
		{"/nonexistent/x.jpg", safefile.ErrOutside},   // absolute, missing: same answer
		{"../secret.jpg", safefile.ErrOutside},        // climbs out, existing
		{"../missing.jpg", safefile.ErrOutside},       // climbs out, missing: same answer
		{"sub/../../secret.jpg", safefile.ErrOutside}, // climbs out through a folder
		{"out-abs", safefile.ErrOutside},              // link to an absolute path outside
		{"out-rel", safefile.ErrOutside},              // link climbing out
		{"fifo", safefile.ErrNotRegular},              // would hang a plain open
		{"zero", safefile.ErrOutside},                 // link to /dev/zero leaves the folder
		{"sub", safefile.ErrNotRegular},               // directory
		{"sparse", safefile.ErrTooLarge},              // bound
		{"missing.jpg", fs.ErrNotExist},               // inside, missing
	} {
		b, err := d.ReadFile(tc.name, 1<<20)
		if !errors.Is(err, tc.want) || b != nil {
			t.Errorf("ReadFile(%q) = %d bytes, %v; want %v", tc.name, len(b), err, tc.want)
		}
	}
	// The two outside answers are the same whether or not the file exists.
	_, e1 := d.ReadFile("../secret.jpg", 1<<20)
	_, e2 := d.ReadFile("../missing.jpg", 1<<20)
	if strings.Replace(e1.Error(), "secret", "missing", 1) != e2.Error() {
		t.Fatalf("outside errors differ by existence: %q vs %q", e1, e2)
	}
	for _, name := range []string{"a.txt", "sub/b.txt", "in-link", "./sub/../a.txt"} {
		if _, err := d.ReadFile(name, 1<<20); err != nil {
			t.Errorf("ReadFile(%q): %v", name, err)
		}
	}
}

func TestReadAllBoundWithoutSize(t *testing.T) {
	r := bytes.NewReader(make([]byte, 100))
	if _, err := safefile.ReadAll(r, "stdin", 99); !errors.Is(err, safefile.ErrTooLarge) || !strings.Contains(err.Error(), "stdin has more than 99 bytes") {
		t.Fatal(err)
	}
	b, err := safefile.ReadAll(bytes.NewReader(make([]byte, 100)), "stdin", 100)
	if err != nil || len(b) != 100 {
		t.Fatal(len(b), err)
	}
}
