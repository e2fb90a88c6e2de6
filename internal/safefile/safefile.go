// Package safefile opens files handed to oneface from outside — log files,
// keys, receipts, evaluation CSVs and the images they list — as regular
// files only, and reads them within a stated bound.
//
// A path from outside can name a FIFO (opening it for reading blocks until
// a writer appears, forever if none does), a device (/dev/zero never ends,
// /dev/tty waits for a keyboard), a directory, or a symbolic link to any of
// these; a regular file can be sparse and claim gigabytes it never stored.
// Every function here:
//
//   - opens with O_NONBLOCK, so a FIFO cannot hang the open, and with
//     O_NOFOLLOW, so a final symbolic link is refused rather than followed
//     ([Open], [ReadFile]); inside a [Dir], links are followed only while
//     they stay inside it;
//   - checks the opened descriptor with fstat (not the path, which can be
//     swapped between a check and the open) and accepts only a regular file
//     ([ErrNotRegular] otherwise);
//   - reads at most the caller's bound, refusing a file whose size, or
//     whose content, is larger ([ErrTooLarge]); the bound is checked
//     against the size before reading, so a 3 GB sparse file costs nothing.
//
// Errors name the file and, where one applies, the bound, and wrap one of
// the sentinels for [errors.Is].
//
// safefile is not a parser: it hands back bytes or an open file. Text
// readers stream from [Open] with their own per-line bounds.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Sentinel errors, wrapped with the file name and the bound.
var (
	// ErrNotRegular: the path names a FIFO, device, socket, directory or
	// (where links are not followed) a symbolic link.
	ErrNotRegular = errors.New("safefile: not a regular file")
	// ErrTooLarge: the file is larger than the caller's bound.
	ErrTooLarge = errors.New("safefile: file too large")
	// ErrOutside: a path given relative to a [Dir] is absolute, climbs out
	// of it with "..", or resolves through a symbolic link to a place
	// outside it. Whether the outside file exists is never checked.
	ErrOutside = errors.New("safefile: path outside the allowed folder")
)

// Open opens path for reading. It refuses a final symbolic link, and
// anything but a regular file, without blocking (a FIFO with no writer is
// refused at once). Symbolic links in the directories leading to path are
// followed: the caller chose them. The caller closes the file.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		if isLoop(err) {
			return nil, fmt.Errorf("%w: %s is a symbolic link (not followed)", ErrNotRegular, path)
		}
		return nil, err
	}
	if err := checkRegular(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads the regular file at path (see [Open]), which must hold at
// most max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, max)
}

// ReadAll reads r to its end, or fails with [ErrTooLarge] naming name and
// max as soon as more than max bytes arrive. When r is an *os.File, its
// size is checked first, so an oversized (or sparse) file is refused
// before any byte is read. Memory is at most max bytes plus one read.
func ReadAll(r io.Reader, name string, max int64) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	size := int64(-1)
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
			if size > max {
				return nil, tooLarge(name, size, max)
			}
		}
	}
	var buf []byte
	if size >= 0 {
		buf = make([]byte, 0, size+1) // +1: see the EOF without regrowing
	}
	b, err := readAtMost(r, buf, max+1)
	if err != nil {
		return nil, fmt.Errorf("safefile: reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s has more than %d bytes", ErrTooLarge, name, max)
	}
	return b, nil
}

func readAtMost(r io.Reader, buf []byte, n int64) ([]byte, error) {
	w := &limitedBuffer{b: buf, n: n}
	_, err := io.Copy(w, io.LimitReader(r, n))
	return w.b, err
}

type limitedBuffer struct {
	b []byte
	n int64
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	return len(p), nil
}

func tooLarge(name string, size, max int64) error {
	return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, name, size, max)
}

func checkRegular(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("safefile: %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is a %s", ErrNotRegular, name, kind(fi.Mode()))
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "non-regular file (" + m.Type().String() + ")"
}

// Dir confines reads to one folder: names are relative to it, may not be
// absolute or climb out with "..", and symbolic links are followed only
// while they stay inside (os.Root). A Dir is safe for concurrent use.
type Dir struct {
	root *os.Root
	path string
}

// OpenDir opens the folder at path as a confinement root. The caller
// closes it.
func OpenDir(path string) (*Dir, error) {
	r, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	return &Dir{root: r, path: path}, nil
}

// Path is the folder as given to [OpenDir].
func (d *Dir) Path() string { return d.path }

// Close releases the folder.
func (d *Dir) Close() error { return d.root.Close() }

// Open opens name, relative to d, as a regular file. An absolute name, a
// name that climbs out of d or a link that leads out of it gives
// [ErrOutside] before anything outside is looked at.
func (d *Dir) Open(name string) (*os.File, error) {
	shown := filepath.Join(d.path, name)
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("%w: %q is not inside %s", ErrOutside, name, d.path)
	}
	f, err := d.root.OpenFile(name, os.O_RDONLY|rootFlags, 0)
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("safefile: %s: %w", shown, errors.Unwrap(err))
		case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent":
			// os.Root's escape error is not exported; its text is stable.
			return nil, fmt.Errorf("%w: %q leads out of %s through a symbolic link", ErrOutside, name, d.path)
		}
		return nil, fmt.Errorf("safefile: %s: %w", shown, err)
	}
	if err := checkRegular(f, shown); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads name, relative to d (see [Dir.Open]), which must hold at
// most max bytes.
func (d *Dir) ReadFile(name string, max int64) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, filepath.Join(d.path, name), max)
}
