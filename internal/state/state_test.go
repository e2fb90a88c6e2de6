package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k.state")
	s, err := Open(p, testKey, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

var t0 = time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)

func TestReserveOrder(t *testing.T) {
	s, _ := newStore(t)
	id := [16]byte{1}
	n := func(b byte) [16]byte { return [16]byte{b} }
	exp := t0.Add(time.Hour)
	for i := range 3 {
		if _, out, err := s.Reserve(id, n(byte(10+i)), exp, t0, time.Minute, 3); err != nil || out != OK {
			t.Fatalf("attempt %d: %v %v", i, out, err)
		}
	}
	if _, out, _ := s.Reserve(id, n(20), exp, t0, time.Minute, 3); out != LockedOut {
		t.Fatalf("4th: %v", out)
	}
	if seen, _ := s.NonceSeen(n(20)); seen {
		t.Fatal("a locked-out attempt consumed its nonce")
	}
	if _, out, _ := s.Reserve([16]byte{2}, n(10), exp, t0, time.Minute, 3); out != Replayed {
		t.Fatalf("nonce reused on another reference: %v", out)
	}
	// The window passes; nonces live until their expiry.
	later := t0.Add(2 * time.Minute)
	r, out, _ := s.Reserve(id, n(21), exp, later, time.Minute, 3)
	if out != OK {
		t.Fatalf("after the window: %v", out)
	}
	if _, out, _ := s.Reserve(id, n(10), exp, later, time.Minute, 3); out != Replayed {
		t.Fatalf("nonce forgotten before its expiry: %v", out)
	}
	if err := s.Succeeded(r); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Attempts(id, later, time.Hour); c != 0 {
		t.Fatalf("%d attempts after a match", c)
	}
	// Expired nonces are dropped.
	if _, out, _ := s.Reserve([16]byte{3}, n(30), exp, exp.Add(time.Second), time.Minute, 3); out != OK {
		t.Fatal(out)
	}
	if seen, _ := s.NonceSeen(n(10)); seen {
		t.Fatal("expired nonce kept")
	}
	if err := s.Block(id, Withdrawn, t0); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := s.Reserve(id, n(40), exp, later, time.Minute, 3); out != Blocked {
		t.Fatalf("withdrawn: %v", out)
	}
}

func TestReleaseKeepsOthers(t *testing.T) {
	s, _ := newStore(t)
	id := [16]byte{1}
	r1, _, _ := s.Reserve(id, [16]byte{}, t0, t0, time.Hour, 5)
	r2, _, _ := s.Reserve(id, [16]byte{}, t0, t0.Add(time.Second), time.Hour, 5)
	r3, _, _ := s.Reserve(id, [16]byte{}, t0, t0.Add(2*time.Second), time.Hour, 5)
	if err := s.Release(r2); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Attempts(id, t0.Add(3*time.Second), time.Hour); c != 2 {
		t.Fatalf("%d after release, want 2", c)
	}
	// A match clears it and the earlier ones, not the later one.
	r4, _, _ := s.Reserve(id, [16]byte{}, t0, t0.Add(3*time.Second), time.Hour, 5)
	if err := s.Succeeded(r3); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Attempts(id, t0.Add(4*time.Second), time.Hour); c != 1 {
		t.Fatalf("%d after success, want the later one", c)
	}
	_, _ = r1, r4
}

// TestConcurrentReserve: 64 concurrent reservations, max 5: exactly 5.
func TestConcurrentReserve(t *testing.T) {
	s, _ := newStore(t)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			_, out, err := s.Reserve([16]byte{9}, [16]byte{byte(i + 1)}, t0.Add(time.Hour), t0, time.Hour, 5)
			if err != nil {
				t.Error(err)
			}
			if out == OK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Fatalf("%d reservations granted, max 5", ok.Load())
	}
}

func TestTokens(t *testing.T) {
	s, _ := newStore(t)
	for i := range 4 {
		ok, err := s.TakeToken(t0, 1, 3)
		if err != nil || ok != (i < 3) {
			t.Fatalf("token %d: %v %v", i, ok, err)
		}
	}
	if ok, _ := s.TakeToken(t0.Add(time.Second), 1, 3); !ok {
		t.Fatal("no refill")
	}
	if ok, _ := s.TakeToken(t0.Add(time.Second), 1, 3); ok {
		t.Fatal("refilled twice")
	}
}

// TestNeverSilentReset: a missing, empty, truncated, overwritten, foreign
// or damaged state file is an error.
func TestNeverSilentReset(t *testing.T) {
	s, p := newStore(t)
	s.Block([16]byte{1}, Revoked, t0)
	s.Reserve([16]byte{2}, [16]byte{3}, t0.Add(time.Hour), t0, time.Hour, 5)
	s.Close()
	good, _ := os.ReadFile(p)

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		q := filepath.Join(dir, name)
		if err := os.WriteFile(q, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return q
	}
	if _, err := Open(filepath.Join(dir, "none"), testKey, false); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := Open(write("empty", nil), testKey, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := Open(write("trunc", good[:len(good)/2]), testKey, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := Open(write("zeros", make([]byte, len(good))), testKey, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zeroed: %v", err)
	}
	if _, err := Open(write("copy", good), bytes.Repeat([]byte{8}, 32), false); !errors.Is(err, ErrKey) {
		t.Fatalf("another key: %v", err)
	}
	// A bbolt file without our buckets.
	other := filepath.Join(dir, "other")
	db, _ := bolt.Open(other, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	db.Close()
	if _, err := Open(other, testKey, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("foreign bbolt file: %v", err)
	}
	// Flip one byte at a time in the meta pages (the first two pages):
	// every flip that bbolt's own checksum covers is an error, not a
	// roll-back to the other meta page.
	const pageSize = 4096
	for i := 16; i < 16+64; i++ { // the 64-byte meta after the 16-byte page header
		for _, page := range []int{0, pageSize} {
			b := bytes.Clone(good)
			b[page+i] ^= 0x40
			if st, err := Open(write("flip", b), testKey, false); !errors.Is(err, ErrCorrupt) {
				if st != nil {
					st.Close()
				}
				t.Fatalf("meta byte %d of page %d flipped: %v", i, page/pageSize, err)
			}
		}
	}
	if raceEnabled {
		t.Log("data-page flips skipped under -race (checkptr makes bbolt's reads of damaged pages fatal)")
		return
	}
	// Elsewhere bbolt has no checksums: every entry carries a keyed tag,
	// and the page check finds a lost element, so a flip never crashes the
	// process and never silently changes what the store answers
	// (TestEveryByteFlip flips every byte, in a child process).
	silent, refused := 0, 0
	for i := 2 * pageSize; i < len(good); i += 7 {
		b := bytes.Clone(good)
		b[i] ^= 0xff
		// A fresh name each time: a file whose open panicked inside bbolt
		// may stay locked until the process exits.
		st, err := Open(write(fmt.Sprintf("flip-%d", i), b), testKey, false)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrKey) {
				t.Fatalf("flip at byte %d: %v", i, err)
			}
			refused++
			continue
		}
		kind, blocked, err1 := st.IsBlocked([16]byte{1})
		seen, err2 := st.NonceSeen([16]byte{3})
		n, err3 := st.Attempts([16]byte{2}, t0, time.Hour)
		if err1 == nil && err2 == nil && err3 == nil && (!blocked || kind != Revoked || !seen || n != 1) {
			silent++
		}
		st.Close()
	}
	t.Logf("data-page flips (every 7th byte after the meta pages): %d refused, %d silently changed the data, the rest in unused space", refused, silent)
	if silent > 0 {
		t.Errorf("%d flips silently changed the state", silent)
	}
}

func TestDecodeValues(t *testing.T) {
	a := attempt{}
	binary.BigEndian.PutUint64(a[:8], 5)
	b := attempt{}
	binary.BigEndian.PutUint64(b[:8], 4)
	if _, err := decodeAttempts(encodeAttempts([]attempt{a, b})); !errors.Is(err, ErrCorrupt) {
		t.Fatal("out of order accepted")
	}
	if _, err := decodeAttempts(make([]byte, 17)); !errors.Is(err, ErrCorrupt) {
		t.Fatal("ragged accepted")
	}
	if _, err := decodeAttempts(make([]byte, 16*(MaxAttempts+1))); !errors.Is(err, ErrCorrupt) {
		t.Fatal("too many accepted")
	}
	if _, _, err := decodeBlock([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrCorrupt) {
		t.Fatal("unknown kind accepted")
	}
	nan := binary.BigEndian.AppendUint64(nil, math.Float64bits(math.NaN()))
	if _, _, err := decodeTokens(append(nan, make([]byte, 8)...)); !errors.Is(err, ErrCorrupt) {
		t.Fatal("NaN tokens accepted")
	}
}

// FuzzDecode: the value decoders never panic, fail with ErrCorrupt, and
// round-trip what they accept.
func FuzzDecode(f *testing.F) {
	a := attempt{}
	binary.BigEndian.PutUint64(a[:8], 1)
	f.Add(encodeAttempts([]attempt{a, a}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Add(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, math.Float64bits(2.5)), 7))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if as, err := decodeAttempts(b); err == nil {
			if !bytes.Equal(encodeAttempts(as), b) {
				t.Fatal("attempts do not round-trip")
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		if k, at, err := decodeBlock(b); err == nil {
			again := append([]byte{byte(k)}, binary.BigEndian.AppendUint64(nil, uint64(at.Unix()))...)
			if !bytes.Equal(again, b) {
				t.Fatal("block does not round-trip")
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		if _, err := decodeExpiry(b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		if tok, _, err := decodeTokens(b); err == nil && (tok < 0 || math.IsNaN(tok)) {
			t.Fatal("bad tokens accepted")
		} else if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
	})
}

// FuzzOpenFile: arbitrary bytes as a state file open with an error or as
// a store that answers without panicking.
func FuzzOpenFile(f *testing.F) {
	if raceEnabled {
		f.Skip("damaged bbolt pages trip checkptr under -race")
	}
	p := filepath.Join(f.TempDir(), "seed")
	s, err := Open(p, testKey, true)
	if err != nil {
		f.Fatal(err)
	}
	s.Block([16]byte{1}, Revoked, t0)
	s.Close()
	good, _ := os.ReadFile(p)
	f.Add(good, 0, byte(0))
	f.Add(good, 4096+20, byte(0x55))
	f.Add([]byte("not a database"), 0, byte(1))
	// The red team's crash: one flipped byte made a value size in the
	// root page 512 MiB, which bbolt allocated when it opened the bucket;
	// and the other lengths and counts of the root page, and the count
	// of the freelist page.
	real, _ := realStateFile(f)
	ps := int(binary.NativeEndian.Uint32(real[pageHdr+8:]))
	metaAt := 0
	if binary.NativeEndian.Uint64(real[ps+pageHdr+48:]) > binary.NativeEndian.Uint64(real[pageHdr+48:]) {
		metaAt = ps
	}
	root := int(binary.NativeEndian.Uint64(real[metaAt+pageHdr+16:])) * ps
	free := int(binary.NativeEndian.Uint64(real[metaAt+pageHdr+32:])) * ps
	for _, off := range []int{10, 11, 12, pageHdr + 4, pageHdr + 8, pageHdr + 12, pageHdr + 15} {
		f.Add(real, root+off, byte(0x20))
		f.Add(real, root+off, byte(0xff))
	}
	f.Add(real, free+10, byte(0xff))
	f.Add(real, free+11, byte(0xff))
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, b []byte, at int, x byte) {
		if len(b) > 1<<17 {
			return
		}
		b = bytes.Clone(b)
		if len(b) > 0 {
			b[(at%len(b)+len(b))%len(b)] ^= x
		}
		// A fresh name each time: a file whose open panicked inside bbolt
		// may stay locked until the process exits.
		q := filepath.Join(dir, fmt.Sprint(n.Add(1)))
		defer os.Remove(q)
		if err := os.WriteFile(q, b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := Open(q, testKey, false)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrKey) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		st.IsBlocked([16]byte{1})
		st.Attempts([16]byte{2}, t0, time.Hour)
		st.Close()
	})
}
