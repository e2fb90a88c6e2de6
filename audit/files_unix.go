//go:build unix

package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

const (
	oNoFollow = syscall.O_NOFOLLOW
	oCloexec  = syscall.O_CLOEXEC
	// oNonblock: opening a FIFO planted in the directory must not block
	// (regular files ignore it); the fstat check then refuses it.
	oNonblock = syscall.O_NONBLOCK
)

func isSymlinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }

func checkOwner(path string, st fs.FileInfo) error {
	if s, ok := st.Sys().(*syscall.Stat_t); ok && int(s.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by user %d, not by this process's user %d", ErrUnsafeDir, path, s.Uid, os.Geteuid())
	}
	return nil
}

func checkFile(path string, st fs.FileInfo) error {
	if err := checkOwner(path, st); err != nil {
		return err
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok && s.Nlink > 1 {
		return fmt.Errorf("%w: %s has %d hard links", ErrUnsafeDir, path, s.Nlink)
	}
	return nil
}
