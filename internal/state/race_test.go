//go:build race

package state

// raceEnabled: under -race, checkptr makes bbolt's pointer arithmetic on a
// damaged page a fatal error, which no recover can catch; the byte-flip
// tests run without -race (the store's concurrency tests run with it).
const raceEnabled = true
