//go:build !unix

package audit

// lockDir is a no-op where flock is unavailable: keep one writer per log.
func lockDir(string) (func(), error) { return func() {}, nil }
