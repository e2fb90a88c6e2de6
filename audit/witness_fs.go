package audit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// witWriteFile writes data to dir/name: into a new temporary file
// created exclusively (O_EXCL, O_NOFOLLOW: a planted file or symbolic link
// makes it fail, never redirects it), fsynced, then renamed over name
// (rename replaces a link at name, it does not follow it), then the
// directory is fsynced.
func witWriteFile(dir, name string, data []byte, perm os.FileMode) error {
	final := filepath.Join(dir, name)
	parent := filepath.Dir(final)
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(parent, ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|witNoFollow, perm)
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
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("audit: writing %s: %w", final, err)
	}
	return witSyncDir(parent)
}

func witSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit: syncing %s: %w", dir, err)
	}
	return nil
}

// witReadFile reads a regular file (not through a symbolic link) of at
// most limit bytes.
func witReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|witNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > limit {
		return nil, fmt.Errorf("audit: %s: not a regular file of at most %d bytes", path, limit)
	}
	buf := make([]byte, fi.Size())
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	return buf, nil
}
