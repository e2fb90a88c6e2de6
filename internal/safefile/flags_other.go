//go:build !unix

package safefile

// On systems without O_NONBLOCK/O_NOFOLLOW the fstat check still refuses
// anything but a regular file once it is open.
const (
	openFlags = 0
	rootFlags = 0
)

func isLoop(error) bool { return false }
