package audit

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/oneface/oneface/internal/notekey"
)

// Version is the library version recorded in every entry.
const Version = "0.1.0"

const (
	entriesFile     = "entries"
	personalFile    = "personal"
	checkpointsFile = "checkpoints"
	lockFile        = "lock"
	keysDir         = "keys"
	sideSecretFile  = "side.secret"

	maxBatch = 64
	// DefaultRetention is how long personal data stays attributable: the
	// CNIL's six months for access logs.
	DefaultRetention = 6 * 30 * 24 * time.Hour
)

// Errors.
var (
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("audit: log closed")
	// ErrFailed: an earlier write failed; the log refuses appends until it
	// is reopened (which repairs and re-verifies it).
	ErrFailed = errors.New("audit: log failed a write; reopen it")
	// ErrNotFound: no such entry.
	ErrNotFound = errors.New("audit: no such entry")
)

// Options configure [Open]. The zero value selects defaults.
type Options struct {
	// Clock stamps entries whose Time is zero (default time.Now).
	Clock func() time.Time
	// Logger receives operational records (default: discard).
	Logger *slog.Logger
	// NoGroupCommit makes every Append its own write and fsync. By default
	// concurrent appends share one (group commit): same durability, more
	// throughput.
	NoGroupCommit bool
	// Retention for [Log.Sweep] (default [DefaultRetention]).
	Retention time.Duration
}

// Log is a local, append-only audit log: a Merkle tree (RFC 6962, via
// golang.org/x/mod/sumdb/tlog) over v1 entries, with checkpoints signed by
// the device's key. It is safe for concurrent use; one process at a time
// may open a directory.
type Log struct {
	dir      string
	origin   string
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	opt      Options
	log      *slog.Logger
	unlock   func()

	entries, personal, checkpoints *frameFile
	side                           *sideStore

	mu      sync.RWMutex // guards the published state below
	hashes  []tlog.Hash  // stored hashes, tlog layout
	offsets []int64      // frame offset of each entry in the entries file
	n       int64
	cp      []byte // latest signed checkpoint
	persIdx map[int64]int64
	closed  bool
	failed  error

	reqs     chan *appendReq
	done     chan struct{}
	inflight sync.WaitGroup
	stopped  chan struct{}
}

// GenerateKey makes a log signing key named after the device (the
// checkpoint origin), returning the secret and public signed-note keys.
// The secret key must be kept secret on the device.
func GenerateKey(origin string) (skey, vkey string, err error) {
	if err := checkToken("origin", origin); err != nil {
		return "", "", err
	}
	return note.GenerateKey(rand.Reader, origin)
}

// Open opens the log in dir, creating it if needed, with the device's
// signing key (see [GenerateKey]). Its name is the log's origin. Opening
// truncates a torn tail left by a crash and re-verifies every entry: a log
// whose files were altered is refused with a *[CorruptError].
func Open(dir, signerKey string, opt Options) (*Log, error) {
	origin, _, vkey, err := notekey.Private(signerKey)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	signer, err := note.NewSigner(signerKey)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if err := checkToken("origin", origin); err != nil {
		return nil, err
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Retention == 0 {
		opt.Retention = DefaultRetention
	}
	if err := os.MkdirAll(filepath.Join(dir, keysDir), 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, origin: origin, signer: signer, verifier: verifier, vkey: vkey, opt: opt, unlock: unlock,
		persIdx: map[int64]int64{}, reqs: make(chan *appendReq), done: make(chan struct{}), stopped: make(chan struct{})}
	l.log = opt.Logger
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if err := l.load(); err != nil {
		l.closeFiles()
		return nil, err
	}
	go l.run()
	return l, nil
}

func (l *Log) closeFiles() {
	for _, f := range []*frameFile{l.entries, l.personal, l.checkpoints} {
		if f != nil {
			f.f.Close()
		}
	}
	l.unlock()
}

// load reads the files, repairs torn tails and rebuilds the tree.
func (l *Log) load() error {
	var err error
	var payloads [][]byte
	if l.entries, payloads, err = openFrames(filepath.Join(l.dir, entriesFile), entriesFile); err != nil {
		return err
	}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(l.hashes, nil, idx) })
	off := int64(0)
	for i, data := range payloads {
		r, err := ParseRecord(data)
		if err != nil {
			return &CorruptError{File: entriesFile, Index: int64(i), Problem: err.Error()}
		}
		if err := l.checkChain(r, int64(i), hr); err != nil {
			return err
		}
		hs, err := tlog.StoredHashes(int64(i), data, hr)
		if err != nil {
			return err
		}
		l.hashes = append(l.hashes, hs...)
		l.offsets = append(l.offsets, off)
		off += int64(len(data)) + 8
	}
	l.n = int64(len(payloads))

	// Personal records: an acknowledged entry's record was made durable
	// before the entry; records of entries that never made it are dropped.
	var pers [][]byte
	if l.personal, pers, err = openFrames(filepath.Join(l.dir, personalFile), personalFile); err != nil {
		return err
	}
	off = 0
	for i, p := range pers {
		if len(p) < 8+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
			return &CorruptError{File: personalFile, Index: -1, Problem: fmt.Sprintf("record %d too short", i)}
		}
		idx := int64(binary.BigEndian.Uint64(p))
		if idx >= l.n {
			l.log.Warn("audit: dropping personal records of unacknowledged entries", "from_index", idx)
			if err := l.personal.truncate(off); err != nil {
				return err
			}
			break
		}
		l.persIdx[idx] = off
		off += int64(len(p)) + 8
	}

	var cps [][]byte
	if l.checkpoints, cps, err = openFrames(filepath.Join(l.dir, checkpointsFile), checkpointsFile); err != nil {
		return err
	}
	if len(cps) > 0 {
		l.cp = cps[len(cps)-1]
	}
	if l.side, err = openSide(l.dir); err != nil {
		return err
	}
	if cp, err := l.parseCheckpoint(l.cp); l.cp == nil || err != nil || int64(cp.Size) != l.n {
		return l.signCheckpoint(l.n, hr)
	}
	return nil
}

// checkChain checks an entry's index and prev root against the tree of
// the entries before it.
func (l *Log) checkChain(r *Record, i int64, hr tlog.HashReader) error {
	if r.Index != i {
		return &CorruptError{File: entriesFile, Index: i, Problem: fmt.Sprintf("entry says index %d: entries missing, inserted or reordered", r.Index)}
	}
	prev, err := tlog.TreeHash(i, hr)
	if err != nil {
		return err
	}
	if prev != r.Prev {
		return &CorruptError{File: entriesFile, Index: i - 1, Problem: "entry altered: the next entry's prev root does not match"}
	}
	return nil
}

// pick serves stored hashes from the published slice and a pending batch.
func pick(published, pending []tlog.Hash, idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		switch {
		case x < int64(len(published)):
			out[i] = published[x]
		case x-int64(len(published)) < int64(len(pending)):
			out[i] = pending[x-int64(len(published))]
		default:
			return nil, fmt.Errorf("audit: stored hash %d not available", x)
		}
	}
	return out, nil
}

func (l *Log) signCheckpoint(n int64, hr tlog.HashReader) error {
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		return err
	}
	text := tlogfmt.Checkpoint{Origin: l.origin, Size: uint64(n), Hash: root[:]}.Marshal()
	cp, err := note.Sign(&note.Note{Text: string(text)}, l.signer)
	if err != nil {
		return err
	}
	// Checkpoints can be re-signed from the entries, so they are written
	// without an fsync of their own.
	if err := l.checkpoints.write(appendFrame(nil, cp), false); err != nil {
		return err
	}
	l.mu.Lock()
	l.cp = cp
	l.mu.Unlock()
	return nil
}

func (l *Log) parseCheckpoint(cp []byte) (*tlogfmt.Checkpoint, error) {
	c, _, _, err := parseCheckpoint(cp, l.origin, l.verifier)
	return c, err
}

// Origin is the log's name, the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// PublicKey is the verifier key auditors use to check checkpoints and
// receipts.
func (l *Log) PublicKey() string { return l.vkey }

// Size is the number of durable entries.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.n
}

// Checkpoint returns the latest signed checkpoint (a C2SP tlog-checkpoint
// signed note) covering every acknowledged entry.
func (l *Log) Checkpoint() []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]byte(nil), l.cp...)
}

func (l *Log) hashReader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(l.hashes, nil, idx) })
}

// ProveInclusion proves that entry index is in the tree of the first size
// entries.
func (l *Log) ProveInclusion(index, size int64) (tlog.RecordProof, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if index < 0 || size > l.n || index >= size {
		return nil, fmt.Errorf("%w: entry %d in a tree of %d (log has %d)", ErrNotFound, index, size, l.n)
	}
	return tlog.ProveRecord(size, index, l.hashReader())
}

// ProveConsistency proves that the tree of oldSize entries is a prefix of
// the tree of size entries.
func (l *Log) ProveConsistency(oldSize, size int64) (tlog.TreeProof, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if oldSize < 1 || oldSize > size || size > l.n {
		return nil, fmt.Errorf("%w: trees %d and %d (log has %d)", ErrNotFound, oldSize, size, l.n)
	}
	return tlog.ProveTree(size, oldSize, l.hashReader())
}

// Entry returns the stored bytes of entry index.
func (l *Log) Entry(index int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.entryLocked(index)
}

func (l *Log) entryLocked(index int64) ([]byte, error) {
	if index < 0 || index >= l.n {
		return nil, fmt.Errorf("%w: %d (log has %d)", ErrNotFound, index, l.n)
	}
	buf, err := readFrameAt(l.entries.f, l.offsets[index])
	if err != nil {
		return nil, err
	}
	if tlog.RecordHash(buf) != l.leafHash(index) {
		return nil, &CorruptError{File: entriesFile, Index: index, Problem: "entry changed on disk since it was appended"}
	}
	return buf, nil
}

func (l *Log) leafHash(index int64) tlog.Hash {
	return l.hashes[tlog.StoredHashIndex(0, index)]
}

// Close waits for appends in flight, stops the committer and closes the
// files. It is safe to call more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.inflight.Wait()
	close(l.done)
	<-l.stopped
	l.closeFiles()
	return nil
}
