//go:build !unix

package audit

import (
	"fmt"
	"os"
)

const witNoFollow = 0

// witCheckDir refuses a symbolic link or a non-directory; ownership and
// permissions are not checked on this platform.
func witCheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("audit: %s is not a directory (or is a symbolic link)", dir)
	}
	return nil
}
