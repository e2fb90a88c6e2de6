package state

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

const canCapMemory = true

// capMemory limits this process's address space (RLIMIT_AS) to what it
// maps now plus headroom bytes: past it, an allocation fails and the Go
// runtime dies, which a parent process sees. (A Go process reserves
// about a GiB of address space before it allocates anything, so the cap
// is relative to that.)
func capMemory(headroom uint64) error {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	_, rest, ok := bytes.Cut(st, []byte("\nVmSize:"))
	if !ok {
		return fmt.Errorf("no VmSize in /proc/self/status")
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if err != nil {
		return err
	}
	limit := kb<<10 + headroom
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit})
}
