//go:build unix

package main

import "syscall"

// noFollow: O_CREATE|O_EXCL already refuses an existing link; O_NOFOLLOW
// says so twice.
const noFollow = syscall.O_NOFOLLOW
