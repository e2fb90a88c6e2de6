//go:build unix

package audit

import (
	"fmt"
	"os"
	"syscall"
)

// witNoFollow makes an open fail on a symbolic link, and not block on a
// FIFO (refused once open: not a regular file).
const witNoFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// witCheckDir refuses a directory that is a symbolic link, is writable
// by group or others, or belongs to another user: someone else could then
// plant or swap the files written in it.
func witCheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("audit: %s is not a directory (or is a symbolic link)", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("audit: %s is writable by group or others (mode %v)", dir, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("audit: %s belongs to user %d, not to this process (%d)", dir, st.Uid, os.Geteuid())
	}
	return nil
}
