package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"
	"testing/iotest"

	"golang.org/x/mod/sumdb/tlog"
)

// scanAll runs a frameScanner over data, reading through a reader that
// returns one byte at a time (the worst case for its buffering).
func scanAll(data []byte) (payloads [][]byte, torn bool, badAt int, err error) {
	sc := newFrameScanner(iotest.OneByteReader(bytes.NewReader(data)), "test")
	for sc.next() {
		payloads = append(payloads, sc.payload)
	}
	return payloads, sc.torn, sc.badAt, sc.err
}

// checkScanner: the streaming scanner reports what readFrames (which
// holds the whole file) reports for the same bytes.
func checkScanner(t *testing.T, data []byte) {
	t.Helper()
	want, _, wantTorn, wantBad := readFrames(data)
	got, torn, bad, err := scanAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, bytes.Equal) || torn != wantTorn || bad != wantBad {
		t.Fatalf("scanner: %d frames torn=%v bad=%d; readFrames: %d frames torn=%v bad=%d", len(got), torn, bad, len(want), wantTorn, wantBad)
	}
	// What Open reads (the valid frames and a bounded rest) is judged as
	// the whole file is.
	prefix, err := readFramePrefix(bytes.NewReader(data), "test")
	if err != nil {
		t.Fatal(err)
	}
	pp, pvalid, ptorn, pbad := readFrames(prefix)
	_, valid, _, _ := readFrames(data)
	if !slices.EqualFunc(pp, want, bytes.Equal) || pvalid != valid || ptorn != wantTorn || pbad != wantBad {
		t.Fatalf("readFramePrefix: %d frames valid=%d torn=%v bad=%d; whole file: %d frames valid=%d torn=%v bad=%d", len(pp), pvalid, ptorn, pbad, len(want), valid, wantTorn, wantBad)
	}
	if len(prefix) > len(data) || len(prefix) > valid+maxTornTail+1 {
		t.Fatalf("readFramePrefix kept %d bytes of %d (valid %d)", len(prefix), len(data), valid)
	}
}

// TestFrameScannerMatchesReadFrames: clean files, torn tails of every
// length, bad frames in the middle and at the end, an oversized length,
// and a tail longer than one batch.
func TestFrameScannerMatchesReadFrames(t *testing.T) {
	var ps [][]byte
	for i := range 10 {
		ps = append(ps, bytes.Repeat([]byte{byte(i)}, i*300))
	}
	good := frames(ps)
	checkScanner(t, nil)
	checkScanner(t, good)
	for cut := range len(good) {
		checkScanner(t, good[:cut])
	}
	for _, at := range []int{0, 5, 300, len(good) / 2, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[at] ^= 1
		checkScanner(t, bad)
	}
	huge := binary.BigEndian.AppendUint32(bytes.Clone(good), maxFrame+1)
	checkScanner(t, append(huge, make([]byte, 100)...))
	checkScanner(t, append(bytes.Clone(good), make([]byte, maxTornTail+10)...))
	checkScanner(t, append(bytes.Clone(good), make([]byte, maxTornTail)...))
}

// FuzzFrameScanner: on any bytes the scanner and readFrames agree.
func FuzzFrameScanner(f *testing.F) {
	good := frames([][]byte{[]byte("a"), []byte("bc"), bytes.Repeat([]byte("x"), 100)})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), 0, 0, 0, 1, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanner(t, data)
	})
}

// TestTreeFrontierMatchesTlog: the frontier's root equals x/mod's
// tlog.TreeHash (the reference implementation) for every size 0..600.
func TestTreeFrontierMatchesTlog(t *testing.T) {
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(hashes, nil, idx) })
	var tree treeFrontier
	for n := int64(0); n <= 600; n++ {
		want, err := tlog.TreeHash(n, hr)
		if err != nil {
			t.Fatal(err)
		}
		if got := tree.root(); got != want {
			t.Fatalf("size %d: frontier root %v, tlog %v", n, got, want)
		}
		rec := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(n)))
		hs, err := tlog.StoredHashes(n, rec[:], hr)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
		tree.add(rec[:])
	}
	if len(tree.hashes) > 64 {
		t.Fatalf("frontier holds %d hashes", len(tree.hashes))
	}
}
