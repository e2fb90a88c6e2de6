package audit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsafeDir: the log directory, or a file in it, could be changed or
// redirected by someone other than the log's owner (group- or
// world-writable, owned by another user, a symbolic link, a hard link).
var ErrUnsafeDir = errors.New("audit: unsafe log directory")

// prepareDir makes dir (and parents) if missing, with mode 0700, and
// refuses an existing directory that another user could write to.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return checkDir(dir)
}

// privateSubdir makes (mode 0700) or checks a folder of the log
// directory: a symbolic link in its place is refused, not followed, so a
// planted link cannot redirect what the device writes there.
func privateSubdir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link", ErrUnsafeDir, dir)
	}
	return checkDir(dir)
}

// checkDir refuses a directory that is not the caller's own and private
// against writes: a symlink to it is followed, the target is checked.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %v): chmod go-w it", ErrUnsafeDir, dir, st.Mode().Perm())
	}
	return checkOwner(dir, st)
}

// openNoFollow opens a file of the log directory without following a
// symbolic link in its last component, and checks that what was opened
// is a regular, singly linked file of the log's owner.
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|oNoFollow|oCloexec|oNonblock, perm)
	if err != nil {
		if isSymlinkErr(err) {
			return nil, fmt.Errorf("%w: %s is a symbolic link", ErrUnsafeDir, path)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrUnsafeDir, path)
	}
	if err := checkFile(path, st); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeAtomic replaces dir/name with data, durably: the data goes to a new
// file with a random name created exclusively (so a planted file or
// symbolic link cannot redirect it), is fsynced, and is renamed over the
// target; then the directory is fsynced.
func writeAtomic(dir, name string, data []byte) error {
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, name+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := openNoFollow(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// readSmallFile reads a file of the log directory (no symbolic links) of at
// most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, &CorruptError{File: filepath.Base(path), Index: -1, Problem: fmt.Sprintf("%d bytes, limit %d", st.Size(), limit)}
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && st.Size() > 0 {
		return nil, err
	}
	return buf, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeTemporaries deletes what an interrupted writeAtomic left behind
// (name.tmp-<random>): never a link's target, only the name itself.
func removeTemporaries(dirs ...string) {
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp-") {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}
