//go:build !unix

package main

// noFollow: O_CREATE|O_EXCL alone refuses an existing name, link or not.
const noFollow = 0
