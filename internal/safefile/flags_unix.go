//go:build unix

package safefile

import (
	"errors"
	"syscall"
)

// openFlags: never block on a FIFO, never follow a final symbolic link.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// rootFlags: os.Root adds O_NOFOLLOW itself and resolves links inside.
const rootFlags = syscall.O_NONBLOCK

func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }
