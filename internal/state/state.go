// Package state is a verifier's durable state: consent nonces (until they
// expire), attempt counters for the lockout, withdrawals and revocations,
// and the kiosk's unseal rate limit. It lives in one bbolt file
// (go.etcd.io/bbolt: copy-on-write B+tree, one writer at a time, every
// committed transaction fsynced), so a kill -9 at any instant leaves
// either the state before or the state after a transaction, never a mix.
//
// # Reserve, then decide
//
// A verifier calls [Store.Reserve] before it does anything an attacker
// could repeat to learn something (a PIN derivation, a face comparison).
// One transaction checks that the reference is neither revoked nor
// withdrawn, that the consent nonce was never seen, and that fewer than
// max attempts fall in the window; then it records the nonce and the
// attempt. The attempt counts as a failure from that moment: a crash,
// a wrong PIN or a no-match leaves it in place; only [Store.Release] (no
// comparison was made and the PIN, if any, was right) and
// [Store.Succeeded] (a match) remove it, after the decision was audited.
// So concurrent calls never make more than max comparisons in a window,
// and no crash lowers a count that was acknowledged.
//
// # Privacy
//
// Reference IDs are stored only as HMAC-SHA256(key, "ref" ‖ id), first 16
// bytes, under a key the verifier derives from its own secret; consent
// nonces are random values and stored as they are. Nothing else personal
// is kept.
//
// # Integrity
//
// A missing file when one is expected ([Open] with create false), a file
// that is empty, larger than [MaxFileSize], that fails the page check
// below, that bbolt rejects, that lacks the meta bucket, that has another
// format version or another key, or a value that does not decode, are
// errors ([ErrMissing], [ErrCorrupt], [ErrKey]) — never a silent reset,
// and never a crash.
//
// bbolt trusts the lengths and counts in its pages, and one flipped byte
// could make it allocate what a damaged field says (a 512 MiB value: the
// process ran out of memory) or loop through a cycle of pages. So before
// bbolt maps the file, [Open] reads its pages itself with every size
// bounded before anything is allocated (the 128 KiB where the meta pages
// lie, one bit per page of the file, the freelist page at 8 bytes per
// page of the file, and one tree page, at most 64 KiB, at a time) and
// demands what bbolt's own Tx.Check does: both meta pages intact, every
// page of the tree and of the freelist inside the file and reached once,
// of the right type, its elements, keys and values inside it where bbolt
// writes them, zeros after them, keys in order, the tree at most 16
// deep, and every page in use or free exactly once; and per record, keys
// of at most 32 bytes and values of at most 1,032 (64 attempts and the
// tag). TestEveryByteFlip
// flips every byte of a small real file (low bit and whole byte) and
// opens each copy in a child process with its address space capped. An attacker who deletes both the
// state and the audit log resets the kiosk; the audit log's witnessed
// checkpoints make that visible.
//
// # Values (format version 1)
//
//	meta/version        1 byte: 1
//	meta/keycheck       16 bytes: HMAC-SHA256(key, "oneface state keycheck v1")[:16]
//	nonces/<nonce 16>   8 bytes: expiry, Unix seconds, big-endian
//	attempts/<ref 16>   n × 16 bytes (n ≤ MaxAttempts): Unix nanoseconds (8, big-endian) ‖ random tag (8)
//	blocked/<ref 16>    9 bytes: kind (1 revoked, 2 withdrawn) ‖ Unix seconds (8, big-endian)
//	limits/unseal       16 bytes: tokens (float64 bits, big-endian) ‖ last refill, Unix nanoseconds
//
// Every value outside meta is followed by an 8-byte tag,
// HMAC-SHA256(key, "entry" ‖ len(bucket) ‖ bucket ‖ len(k) ‖ k ‖ value)[:8],
// checked on every read and for every entry at Open: bbolt checksums only
// its meta pages, so this is how a damaged key or value is found. It
// guards against damage, not against whoever holds the kiosk key.
package state

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"math"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors.
var (
	ErrMissing = errors.New("state: state file missing")
	ErrCorrupt = errors.New("state: state file corrupt")
	ErrKey     = errors.New("state: state file was made under another key")
	ErrClosed  = errors.New("state: closed")
)

// MaxAttempts bounds the attempts recorded per reference (and so the
// lockout's MaxFailures).
const MaxAttempts = 64

// maxNonceScan bounds how many nonces one transaction looks at to expire.
const maxNonceScan = 4096

var (
	bMeta     = []byte("meta")
	bNonces   = []byte("nonces")
	bAttempts = []byte("attempts")
	bBlocked  = []byte("blocked")
	bLimits   = []byte("limits")
	kVersion  = []byte("version")
	kKeycheck = []byte("keycheck")
	kUnseal   = []byte("unseal")
)

// Kind says why a reference is blocked.
type Kind byte

// Block kinds. Do NOT renumber: stored.
const (
	Revoked   Kind = 1
	Withdrawn Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Revoked:
		return "revoked"
	case Withdrawn:
		return "withdrawn"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Store is an open state file. It is safe for concurrent use; bbolt
// serialises writers, and the file is locked against other processes.
type Store struct {
	db  *bolt.DB
	key []byte
}

// Open opens the state file at path under key (32 bytes). With create, a
// missing file is created; without, it is [ErrMissing]. An existing file
// must pass every integrity check (see the package doc).
func Open(path string, key []byte, create bool) (s *Store, err error) {
	if len(key) != 32 {
		return nil, errors.New("state: key must be 32 bytes")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !create:
		return nil, fmt.Errorf("%w: %s", ErrMissing, path)
	case errors.Is(err, os.ErrNotExist):
		fresh := true
		return open(path, key, fresh)
	case err != nil:
		return nil, err
	case fi.Size() == 0:
		return nil, fmt.Errorf("%w: %s is empty", ErrCorrupt, path)
	}
	if err := checkFile(path, fi.Size()); err != nil {
		return nil, err
	}
	return open(path, key, false)
}

// protect turns a panic, or a fault on the memory-mapped file (a
// truncated or damaged file makes bbolt read past its end: SIGBUS), into
// ErrCorrupt. Use as: defer protect(&err)().
func protect(err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			*err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}
}

func open(path string, key []byte, fresh bool) (s *Store, err error) {
	// bbolt can panic on some corrupt pages, or fault reading past the
	// end of a truncated file: a corrupt file is an error, never a crash.
	var db *bolt.DB
	defer func() {
		if err != nil && db != nil {
			func() {
				defer protect(new(error))()
				db.Close()
			}()
			s = nil
		}
	}()
	defer protect(&err)()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, MaxSize: MaxFileSize})
	if err != nil {
		db = nil
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("state: %s is locked by another process", path)
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	s = &Store{db: db, key: bytes.Clone(key)}
	check := s.mac([]byte("oneface state keycheck v1"))
	if fresh {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bMeta, bNonces, bAttempts, bBlocked, bLimits} {
				if _, err := tx.CreateBucket(b); err != nil {
					return err
				}
			}
			m := tx.Bucket(bMeta)
			if err := m.Put(kVersion, []byte{1}); err != nil {
				return err
			}
			return m.Put(kKeycheck, check)
		})
	} else {
		err = db.View(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bMeta, bNonces, bAttempts, bBlocked, bLimits} {
				if tx.Bucket(b) == nil {
					return fmt.Errorf("%w: no %s bucket", ErrCorrupt, b)
				}
			}
			m := tx.Bucket(bMeta)
			if v := m.Get(kVersion); !bytes.Equal(v, []byte{1}) {
				return fmt.Errorf("%w: format version %x", ErrCorrupt, v)
			}
			if !hmac.Equal(m.Get(kKeycheck), check) {
				return ErrKey
			}
			return s.scan(tx)
		})
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// scan walks every bucket (in the caller's goroutine, so protect covers
// it), checks every entry's tag and decodes every value: bbolt checksums
// its meta pages only, so this is where damaged data pages show.
func (s *Store) scan(tx *bolt.Tx) error {
	keys := 0
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			keys++
			var err error
			if string(name) != string(bMeta) {
				if v, err = s.open(name, k, v); err != nil {
					return err
				}
			}
			switch string(name) {
			case string(bMeta):
				if !bytes.Equal(k, kVersion) && !bytes.Equal(k, kKeycheck) {
					err = fmt.Errorf("%w: meta key %q", ErrCorrupt, k)
				}
			case string(bNonces):
				_, err = decodeExpiry(v)
			case string(bAttempts):
				_, err = decodeAttempts(v)
			case string(bBlocked):
				_, _, err = decodeBlock(v)
			case string(bLimits):
				if !bytes.Equal(k, kUnseal) {
					err = fmt.Errorf("%w: limits key %q", ErrCorrupt, k)
				} else {
					_, _, err = decodeTokens(v)
				}
			default:
				err = fmt.Errorf("%w: unknown bucket %q", ErrCorrupt, name)
			}
			if err == nil && v == nil {
				err = fmt.Errorf("%w: nested bucket in %q", ErrCorrupt, name)
			}
			if err == nil && string(name) != string(bMeta) && string(name) != string(bLimits) && len(k) != 16 {
				err = fmt.Errorf("%w: %q key of %d bytes", ErrCorrupt, name, len(k))
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	if keys < 2 {
		return fmt.Errorf("%w: meta keys missing", ErrCorrupt)
	}
	return nil
}

// tagSize is the length of the keyed tag after every value outside the
// meta bucket.
const tagSize = 8

// tag authenticates a value with its bucket and key, so a damaged key or
// value (bbolt checksums only its meta pages) is found, not believed.
func (s *Store) tag(bucket, k, v []byte) []byte {
	return s.mac([]byte("entry"), []byte{byte(len(bucket))}, bucket, []byte{byte(len(k))}, k, v)[:tagSize]
}

// open checks and strips a stored value's tag.
func (s *Store) open(bucket, k, raw []byte) ([]byte, error) {
	if len(raw) < tagSize {
		return nil, fmt.Errorf("%w: %s value of %d bytes", ErrCorrupt, bucket, len(raw))
	}
	v := raw[:len(raw)-tagSize]
	if !hmac.Equal(raw[len(raw)-tagSize:], s.tag(bucket, k, v)) {
		return nil, fmt.Errorf("%w: %s entry fails its tag", ErrCorrupt, bucket)
	}
	return v, nil
}

// get returns a bucket's value for k (nil if absent), its tag checked.
func (s *Store) get(tx *bolt.Tx, bucket, k []byte) ([]byte, error) {
	raw := tx.Bucket(bucket).Get(k)
	if raw == nil {
		return nil, nil
	}
	return s.open(bucket, k, raw)
}

// put stores v with its tag.
func (s *Store) put(tx *bolt.Tx, bucket, k, v []byte) error {
	return tx.Bucket(bucket).Put(k, append(v[:len(v):len(v)], s.tag(bucket, k, v)...))
}

// Close closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	err := s.db.Close()
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return nil
	}
	return err
}

func (s *Store) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)[:16]
}

// RefKey is how a reference ID is stored: keyed, so the file alone does
// not reveal which references were used.
func (s *Store) RefKey(id [16]byte) []byte { return s.mac([]byte("ref"), id[:]) }

// Outcome of [Store.Reserve].
type Outcome int

// Outcomes. Reserve checks them in this order.
const (
	OK        Outcome = iota // reserved
	Blocked                  // revoked or withdrawn
	Replayed                 // the consent nonce was seen before
	LockedOut                // max attempts already in the window
)

// Reservation is one recorded attempt.
type Reservation struct {
	ref []byte
	rec [16]byte
}

type attempt [16]byte

func (a attempt) at() int64 { return int64(binary.BigEndian.Uint64(a[:8])) }

// decodeAttempts parses an attempts value.
func decodeAttempts(b []byte) ([]attempt, error) {
	if len(b)%16 != 0 || len(b)/16 > MaxAttempts {
		return nil, fmt.Errorf("%w: attempts value of %d bytes", ErrCorrupt, len(b))
	}
	out := make([]attempt, len(b)/16)
	for i := range out {
		copy(out[i][:], b[16*i:])
		if out[i].at() < 0 || i > 0 && out[i].at() < out[i-1].at() {
			return nil, fmt.Errorf("%w: attempts out of order", ErrCorrupt)
		}
	}
	return out, nil
}

func encodeAttempts(as []attempt) []byte {
	out := make([]byte, 0, 16*len(as))
	for _, a := range as {
		out = append(out, a[:]...)
	}
	return out
}

// decodeBlock parses a blocked value.
func decodeBlock(b []byte) (Kind, time.Time, error) {
	if len(b) != 9 || (Kind(b[0]) != Revoked && Kind(b[0]) != Withdrawn) {
		return 0, time.Time{}, fmt.Errorf("%w: blocked value %x", ErrCorrupt, b)
	}
	return Kind(b[0]), time.Unix(int64(binary.BigEndian.Uint64(b[1:])), 0), nil
}

// decodeExpiry parses a nonce value.
func decodeExpiry(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: nonce value of %d bytes", ErrCorrupt, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// decodeTokens parses the rate limiter's value.
func decodeTokens(b []byte) (float64, int64, error) {
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("%w: limiter value of %d bytes", ErrCorrupt, len(b))
	}
	t := math.Float64frombits(binary.BigEndian.Uint64(b))
	if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		return 0, 0, fmt.Errorf("%w: limiter tokens %v", ErrCorrupt, t)
	}
	return t, int64(binary.BigEndian.Uint64(b[8:])), nil
}

// recent returns the attempts within window before now.
func recent(as []attempt, now time.Time, window time.Duration) []attempt {
	cut := now.Add(-window).UnixNano()
	i := 0
	for i < len(as) && as[i].at() <= cut {
		i++
	}
	return as[i:]
}

// Reserve is one transaction: refuse if the reference is blocked, the
// nonce was seen, or max attempts fall within window before now;
// otherwise record the nonce (until nonceExpiry) and an attempt at now.
// A zero nonce is not recorded (for the PIN attempts of the CLI's open,
// say). max must be in 1..MaxAttempts.
func (s *Store) Reserve(id [16]byte, nonce [16]byte, nonceExpiry, now time.Time, window time.Duration, maxAttempts int) (_ Reservation, _ Outcome, err error) {
	defer protect(&err)()
	if maxAttempts < 1 || maxAttempts > MaxAttempts {
		return Reservation{}, 0, fmt.Errorf("state: max attempts %d (1..%d)", maxAttempts, MaxAttempts)
	}
	r := Reservation{ref: s.RefKey(id)}
	out := OK
	err = s.db.Update(func(tx *bolt.Tx) error {
		if b, err := s.get(tx, bBlocked, r.ref); err != nil {
			return err
		} else if b != nil {
			if _, _, err := decodeBlock(b); err != nil {
				return err
			}
			out = Blocked
			return nil
		}
		nb := tx.Bucket(bNonces)
		if err := s.expireNonces(nb, now); err != nil {
			return err
		}
		if nonce != ([16]byte{}) {
			if v, err := s.get(tx, bNonces, nonce[:]); err != nil {
				return err
			} else if v != nil {
				if _, err := decodeExpiry(v); err != nil {
					return err
				}
				out = Replayed
				return nil
			}
		}
		raw, err := s.get(tx, bAttempts, r.ref)
		if err != nil {
			return err
		}
		as, err := decodeAttempts(raw)
		if err != nil {
			return err
		}
		as = recent(as, now, window)
		if len(as) >= maxAttempts {
			out = LockedOut
			return nil
		}
		if nonce != ([16]byte{}) {
			if err := s.put(tx, bNonces, nonce[:], binary.BigEndian.AppendUint64(nil, uint64(nonceExpiry.Unix()))); err != nil {
				return err
			}
		}
		at := now.UnixNano()
		if len(as) > 0 && as[len(as)-1].at() > at {
			at = as[len(as)-1].at() // keep the list ordered if the clock stepped back
		}
		binary.BigEndian.PutUint64(r.rec[:8], uint64(at))
		rand.Read(r.rec[8:])
		as = append(as, attempt(r.rec))
		return s.put(tx, bAttempts, r.ref, encodeAttempts(as))
	})
	if err != nil {
		return Reservation{}, 0, err
	}
	return r, out, nil
}

func (s *Store) expireNonces(nb *bolt.Bucket, now time.Time) error {
	c := nb.Cursor()
	n := 0
	for k, v := c.First(); k != nil && n < maxNonceScan; k, v = c.Next() {
		n++
		v, err := s.open(bNonces, k, v)
		if err != nil {
			return err
		}
		exp, err := decodeExpiry(v)
		if err != nil {
			return err
		}
		if exp < now.Unix() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Release removes a reservation: no comparison was made and the PIN, if
// any, was right, so the attempt is no failure.
func (s *Store) Release(r Reservation) error { return s.settle(r, false) }

// Succeeded records a match: the reservation and every attempt before it
// are removed (attempts reserved later, still in flight, stay).
func (s *Store) Succeeded(r Reservation) error { return s.settle(r, true) }

func (s *Store) settle(r Reservation, andEarlier bool) (err error) {
	defer protect(&err)()
	if r.ref == nil {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bAttempts)
		raw, err := s.get(tx, bAttempts, r.ref)
		if err != nil {
			return err
		}
		as, err := decodeAttempts(raw)
		if err != nil {
			return err
		}
		keep := as[:0:0]
		found := false
		for _, a := range as {
			if a == attempt(r.rec) {
				found = true
				continue
			}
			if andEarlier && !found {
				continue
			}
			keep = append(keep, a)
		}
		if !found {
			keep = as // not ours to change (pruned already): leave the rest
		}
		if len(keep) == 0 {
			return ab.Delete(r.ref)
		}
		return s.put(tx, bAttempts, r.ref, encodeAttempts(keep))
	})
}

// Attempts counts the attempts for a reference within window before now:
// failures, and reservations still in flight.
func (s *Store) Attempts(id [16]byte, now time.Time, window time.Duration) (n int, err error) {
	defer protect(&err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		raw, err := s.get(tx, bAttempts, s.RefKey(id))
		if err != nil {
			return err
		}
		as, err := decodeAttempts(raw)
		n = len(recent(as, now, window))
		return err
	})
	return n, err
}

// NonceSeen reports whether a nonce is recorded (and not yet expired away).
func (s *Store) NonceSeen(nonce [16]byte) (seen bool, err error) {
	defer protect(&err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		v, err := s.get(tx, bNonces, nonce[:])
		if v == nil || err != nil {
			return err
		}
		_, err = decodeExpiry(v)
		seen = err == nil
		return err
	})
	return seen, err
}

// Block records that a reference is revoked or withdrawn, durably, before
// it returns. An existing block keeps its kind and time.
func (s *Store) Block(id [16]byte, kind Kind, now time.Time) (err error) {
	defer protect(&err)()
	if kind != Revoked && kind != Withdrawn {
		return errors.New("state: unknown block kind")
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		k := s.RefKey(id)
		if v, err := s.get(tx, bBlocked, k); err != nil || v != nil {
			if err == nil {
				_, _, err = decodeBlock(v)
			}
			return err
		}
		return s.put(tx, bBlocked, k, append([]byte{byte(kind)}, binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))...))
	})
}

// IsBlocked reports whether a reference is revoked or withdrawn, and which.
func (s *Store) IsBlocked(id [16]byte) (kind Kind, found bool, err error) {
	defer protect(&err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		v, err := s.get(tx, bBlocked, s.RefKey(id))
		if v == nil || err != nil {
			return err
		}
		k, _, err := decodeBlock(v)
		kind, found = k, err == nil
		return err
	})
	return kind, found, err
}

// TakeToken takes one token from the kiosk's unseal budget, a token
// bucket of burst tokens refilled at rate per second, and reports whether
// there was one. It is durable, so a restart does not refill the bucket.
func (s *Store) TakeToken(now time.Time, rate float64, burst int) (ok bool, err error) {
	defer protect(&err)()
	err = s.db.Update(func(tx *bolt.Tx) error {
		tokens, last := float64(burst), now.UnixNano()
		if v, err := s.get(tx, bLimits, kUnseal); err != nil {
			return err
		} else if v != nil {
			if tokens, last, err = decodeTokens(v); err != nil {
				return err
			}
		}
		if dt := now.UnixNano() - last; dt > 0 {
			tokens = min(float64(burst), tokens+rate*float64(dt)/1e9)
			last = now.UnixNano()
		}
		if tokens >= 1 {
			tokens--
			ok = true
		}
		v := binary.BigEndian.AppendUint64(nil, math.Float64bits(tokens))
		return s.put(tx, bLimits, kUnseal, binary.BigEndian.AppendUint64(v, uint64(last)))
	})
	return ok, err
}
