package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/safefile"
	"github.com/oneface/oneface/verify"
)

// stdinName is the file name that means standard input.
const stdinName = "-"

// readInput reads a file handed to the CLI, at most max bytes: "-" is
// standard input; any other name is opened by internal/safefile (a
// regular file only, never through a final symbolic link, size checked
// before reading). Errors name the file and the bound.
func readInput(path string, max int64) ([]byte, error) {
	if path == stdinName {
		return safefile.ReadAll(os.Stdin, "standard input", max)
	}
	return safefile.ReadFile(path, max)
}

// oneStdin refuses a call that names standard input ("-") for more than
// one of its inputs: the first would read it all and leave the others
// empty.
func oneStdin(flags map[string]string) error {
	var named []string
	for flag, v := range flags {
		if v == stdinName {
			named = append(named, flag)
		}
	}
	if len(named) > 1 {
		return usageError{fmt.Sprintf("only one input can be standard input (-), not %v", named)}
	}
	return nil
}

// Modes of the files the CLI writes.
const (
	modeSecret = 0o600 // keys, secrets, references, receipts, consent statements
	modePublic = 0o644 // reports, public keys
)

// errExists is returned (wrapped) for an output file that exists when
// -force was not given.
var errExists = errors.New("output file exists")

// writeOutput writes data to path so that nothing the CLI did not make is
// destroyed and no reader ever sees half a file:
//
//   - an existing path is refused unless force is set; a symbolic link, a
//     directory or any other non-regular file at path is refused even
//     with force (nothing is ever written through a link);
//   - data goes to a new temporary file in the same directory, created
//     exclusively (O_EXCL|O_NOFOLLOW) with mode, then synced;
//   - it takes path's place atomically: without force by a hard link,
//     which fails if path appeared meanwhile (on a file system without
//     hard links: a second check, then rename); with force by rename,
//     which replaces the directory entry (an existing file's wider mode
//     is not kept). The directory is synced last.
func writeOutput(path string, data []byte, mode os.FileMode, force bool) (err error) {
	if path == "" || path == stdinName {
		return usageError{fmt.Sprintf("output file %q: give a file name", path)}
	}
	if err := checkTarget(path, force); err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, mode)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode) // the umask may narrow the mode, never widen it; this fixes it exactly
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if force {
		if err := checkTarget(path, true); err != nil {
			return err
		}
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return existsError(path)
		}
		if err != nil {
			// A file system without hard links (FAT, some network and
			// FUSE mounts): check again and rename. Only a file created
			// by someone else in this instant could then be replaced.
			if err := checkTarget(path, false); err != nil {
				return err
			}
			err = os.Rename(tmp, path)
		} else {
			os.Remove(tmp)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// checkTarget refuses an output path that exists (unless force) or that
// is anything but a regular file.
func checkTarget(path string, force bool) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.Mode()&fs.ModeSymlink != 0:
		return hintError{fmt.Errorf("%s: is a symbolic link: output is never written through a link", path),
			[]string{"remove the link yourself, or choose another file name"}}
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file (%s): refusing to replace it", path, st.Mode().Type())
	case !force:
		return existsError(path)
	}
	return nil
}

func existsError(path string) error {
	return hintError{fmt.Errorf("%s: %w", path, errExists),
		[]string{"nothing is overwritten unless you say so: choose another file name, or pass -force to replace it"}}
}

// readFrame reads a live frame ("-": standard input) for verify, one
// byte over the decoder's bound, so that an oversized frame is refused
// (and audited) by the verifier, not here. Its capture time is the
// file's modification time, or now for standard input.
func readFrame(path string) (verify.Frame, error) {
	b, err := readInput(path, imageio.DefaultMaxBytes+1)
	if err != nil {
		return verify.Frame{}, err
	}
	at := time.Now()
	if path != stdinName {
		st, err := os.Stat(path)
		if err != nil {
			return verify.Frame{}, err
		}
		at = st.ModTime()
	}
	return verify.Frame{Encoded: b, CapturedAt: at}, nil
}
