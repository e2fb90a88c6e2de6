package audit

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/oneface/oneface/internal/notekey"
)

// Version is the library version recorded in every entry.
const Version = "0.3.0"

const (
	entriesFile     = "entries"
	personalFile    = "personal"
	checkpointsFile = "checkpoints"
	lockFile        = "lock"
	keysDir         = "keys"
	legacySideFile  = "side.secret"

	maxBatch = 64
	// DefaultRetention is how long personal data stays attributable: the
	// CNIL's six months for access logs.
	DefaultRetention = 6 * 30 * 24 * time.Hour
)

// Errors.
var (
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("audit: log closed")
	// ErrFailed: an earlier write failed, or a witness refused a
	// checkpoint; the log refuses appends until it is reopened (after a
	// refusal, until an operator calls [AcknowledgeWitnessRefusal]).
	ErrFailed = errors.New("audit: log failed; appends refused")
	// ErrNotFound: no such entry.
	ErrNotFound = errors.New("audit: no such entry")
	// ErrRollback: the log is shorter than a checkpoint signed for it (by
	// the device, or cosigned by witnesses): entries were removed. It is
	// matched by the *[CorruptError] that names the first missing entry.
	ErrRollback = errors.New("audit: log rolled back")
	// ErrFork: two checkpoints signed by the log's key describe different
	// histories (same size, different roots, or not consistent). It is
	// matched by the *[CorruptError] (or error) that names them.
	ErrFork = errors.New("audit: forked history")
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
	// Controller is the age recipient of whoever answers access and
	// erasure requests; personal records are encrypted under keys wrapped
	// to it, so the device can write them but not read them back. It is
	// recorded in the directory (file "controller") the first time and
	// used when this field is nil; giving another one rotates it (new keys
	// are wrapped to the new one). With no controller at all, personal
	// parts are committed in the entries but not stored: only the
	// person's receipt can open them.
	Controller *age.X25519Recipient
	// StatePath, when set, is a file on storage separate from the log
	// directory (another partition, a TPM-backed or remote store) where
	// the device keeps a copy of the last checkpoint it signed, replaced
	// atomically after every commit. Open refuses a log shorter than, or
	// inconsistent with, that copy even if the log's own checkpoints file
	// was rolled back with it. When set for an existing log, first copy
	// the log's latest checkpoint there (`oneface audit checkpoint DIR`).
	StatePath string
	// Witnesses cosign checkpoints (C2SP tlog-witness); see [Witness] and
	// WitnessPolicy. Submissions run in the background and never delay
	// appends; a refusal stops appends, durably (see [Log.Witness] and
	// [AcknowledgeWitnessRefusal]).
	Witnesses []Witness
	// WitnessPolicy says when checkpoints are submitted (default: every
	// checkpoint).
	WitnessPolicy WitnessPolicy
}

// Log is a local, append-only audit log: a Merkle tree (RFC 6962, via
// golang.org/x/mod/sumdb/tlog) over entries, with checkpoints signed by
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

	// Owned by the committer (and load): the files and their sizes.
	entries, personal, checkpoints *frameFile
	keys                           *keyStore

	mu       sync.RWMutex // guards the published state below
	hashes   []tlog.Hash  // stored hashes, tlog layout
	offsets  []int64      // frame offset of each entry in the entries file
	n        int64
	cp       []byte // latest signed checkpoint
	persIdx  map[int64]int64
	persSize int64 // bytes of the personal file covering published entries
	closed   bool
	failed   error

	reqs     chan *appendReq
	done     chan struct{}
	inflight sync.WaitGroup
	stopped  chan struct{}

	wit *witnessing
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
// signing key (see [GenerateKey]). Its name is the log's origin.
//
// Open never signs backwards: it re-verifies every entry and compares the
// log with every checkpoint the device signed (its checkpoints file, the
// StatePath copy, and the latest cosigned checkpoint in witnessed/, which
// a witness vouched for). A log shorter than the last signed checkpoint, a
// changed byte inside what it covers, a checkpoint of another history or
// a missing checkpoints file beside a non-empty log is refused with a
// *[CorruptError] (matching [ErrCorrupt], and [ErrRollback] or [ErrFork]
// when that is what it is) naming the entry. Only bytes past the last
// signed checkpoint are treated as a torn tail (a crash) and cut. A
// witness's refusal that no operator acknowledged (see
// [AcknowledgeWitnessRefusal]) leaves the log readable but refusing
// appends ([ErrFailed], [ErrWitnessRefused]).
//
// The directory must belong to the process's user and not be writable by
// group or others ([ErrUnsafeDir]); Open creates it with mode 0700.
// A log written by version 0.1 (plain subject keys and side.secret in the
// directory) is migrated when a controller is known; without one it is
// refused with [ErrNoController].
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
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	if err := prepareDir(filepath.Join(dir, keysDir)); err != nil {
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
	if err := l.loadRefusal(); err != nil {
		l.closeFiles()
		return nil, err
	}
	l.startWitnessing()
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

// signed is a checkpoint the device signed: where it was found, its size
// and root.
type signed struct {
	from string
	size int64
	root tlog.Hash
	note []byte // the checkpoint, when its signature is yet to be checked
}

// load reads the files, checks them against every checkpoint the device
// signed, cuts torn tails past the last one, and rebuilds the tree.
func (l *Log) load() error {
	if err := l.loadController(); err != nil {
		return err
	}
	var err error
	var cpData, entData, persData []byte
	var cpExisted, entExisted bool
	if l.checkpoints, cpData, cpExisted, err = openFrameFile(filepath.Join(l.dir, checkpointsFile), checkpointsFile, true); err != nil {
		return err
	}
	if l.entries, entData, entExisted, err = openFrameFile(filepath.Join(l.dir, entriesFile), entriesFile, true); err != nil {
		return err
	}
	if l.personal, persData, _, err = openFrameFile(filepath.Join(l.dir, personalFile), personalFile, true); err != nil {
		return err
	}

	// What the device signed before.
	cps, cpValid, cpTorn, cpBad := readFrames(cpData)
	if cpBad >= 0 && !cpTorn {
		return &CorruptError{File: checkpointsFile, Index: -1, Problem: fmt.Sprintf("bad frame %d (length or checksum) before the end of the file", cpBad)}
	}
	if len(cps) == 0 && entExisted && len(entData) > 0 {
		what := "missing"
		if cpExisted {
			what = "empty"
		}
		return &CorruptError{File: checkpointsFile, Index: -1, Problem: fmt.Sprintf("%s, but the entries file holds %d bytes: the device's record of what it signed was deleted", what, len(entData)), kind: ErrRollback}
	}
	var prior []signed
	var last signed
	fileSize, stateSize := int64(-1), int64(-1)
	for i, cp := range cps {
		// Only the last checkpoint's signature is checked here (the others
		// are checked when their root disagrees, to name the problem): a
		// forged frame can only make Open refuse, never accept.
		var c *tlogfmt.Checkpoint
		if i == len(cps)-1 {
			c, err = l.parseCheckpoint(cp)
		} else {
			c, err = parseUnverifiedCheckpoint(cp, l.origin)
		}
		if err != nil {
			return &CorruptError{File: checkpointsFile, Index: -1, Problem: fmt.Sprintf("checkpoint %d: %v", i, err)}
		}
		s := signed{from: fmt.Sprintf("checkpoint %d of the checkpoints file", i), size: int64(c.Size), note: cp}
		copy(s.root[:], c.Hash)
		if s.size < last.size {
			return &CorruptError{File: checkpointsFile, Index: -1, Problem: fmt.Sprintf("checkpoint %d covers %d entries, an earlier one %d: the device signed backwards", i, s.size, last.size), kind: ErrFork}
		}
		prior, last = append(prior, s), s
		fileSize = s.size
	}
	if l.opt.StatePath != "" {
		data, err := readSmallFile(l.opt.StatePath, maxCheckpoint)
		switch {
		case errors.Is(err, os.ErrNotExist) && len(entData) == 0 && len(cps) == 0:
		case errors.Is(err, os.ErrNotExist):
			return &CorruptError{File: l.opt.StatePath, Index: -1, Problem: "the copy of the last signed checkpoint is missing (copy the log's latest checkpoint there when adding StatePath to an existing log)", kind: ErrRollback}
		case err != nil:
			return fmt.Errorf("audit: state copy: %w", err)
		default:
			c, err := l.parseCheckpoint(data)
			if err != nil {
				return &CorruptError{File: l.opt.StatePath, Index: -1, Problem: err.Error()}
			}
			s := signed{from: "the state copy " + l.opt.StatePath, size: int64(c.Size)}
			copy(s.root[:], c.Hash)
			prior = append(prior, s)
			stateSize = s.size
			if s.size > last.size {
				last = s
			}
		}
	}

	// The latest checkpoint a witness cosigned: the device signed it too,
	// and it outlives a state copy rolled back with the log.
	if data, err := LatestWitnessed(l.dir); err == nil {
		c, err := l.parseCheckpoint(data)
		if err != nil {
			return &CorruptError{File: witnessedDir, Index: -1, Problem: fmt.Sprintf("latest cosigned checkpoint: %v", err)}
		}
		s := signed{from: fmt.Sprintf("the cosigned checkpoint in %s/", witnessedDir), size: int64(c.Size)}
		copy(s.root[:], c.Hash)
		prior = append(prior, s)
		if s.size > last.size {
			last = s
		}
	} else if !errors.Is(err, ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: %s: %w", witnessedDir, err)
	}

	// Entries: everything up to the last signed size must be intact.
	payloads, valid, torn, badAt := readFrames(entData)
	switch {
	case badAt >= 0 && int64(badAt) < last.size:
		return &CorruptError{File: entriesFile, Index: int64(badAt), Problem: fmt.Sprintf("entry damaged (length or checksum), inside the %d entries the device signed", last.size)}
	case int64(len(payloads)) < last.size:
		return &CorruptError{File: entriesFile, Index: int64(len(payloads)), Problem: fmt.Sprintf("log holds %d entries, but the device signed a checkpoint of %d (%s): entries were removed", len(payloads), last.size, lastFrom(prior, last.size)), kind: ErrRollback}
	case badAt >= 0 && !torn:
		return &CorruptError{File: entriesFile, Index: int64(badAt), Problem: "bad frame (length or checksum) before the end of the file"}
	}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(l.hashes, nil, idx) })
	off := int64(0)
	for i, data := range payloads {
		r, err := ParseRecord(data)
		if err != nil {
			return &CorruptError{File: entriesFile, Index: int64(i), Problem: err.Error()}
		}
		if r.Device != l.origin {
			return &CorruptError{File: entriesFile, Index: int64(i), Problem: fmt.Sprintf("entry of device %q in the log of %q", r.Device, l.origin)}
		}
		if err := checkChain(r, int64(i), hr); err != nil {
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
	for _, s := range prior {
		root, err := tlog.TreeHash(s.size, hr)
		if err != nil {
			return err
		}
		if root != s.root {
			if s.note != nil {
				if _, err := l.parseCheckpoint(s.note); err != nil {
					return &CorruptError{File: checkpointsFile, Index: -1, Problem: fmt.Sprintf("%s is not signed by this device's key: the file was tampered with (%v)", s.from, err)}
				}
			}
			return &CorruptError{File: entriesFile, Index: s.size - 1, Problem: fmt.Sprintf("the tree of the first %d entries differs from %s, signed by this device: an entry up to this one was altered, or the history forked", s.size, s.from), kind: ErrFork}
		}
	}

	// Personal records: an acknowledged entry's record was made durable
	// before the entry; records of entries that never made it are cut.
	pers, persValid, persTorn, persBad := readFrames(persData)
	if persBad >= 0 && !persTorn {
		return &CorruptError{File: personalFile, Index: -1, Problem: fmt.Sprintf("bad frame %d before the end of the file", persBad)}
	}
	off = 0
	for i, p := range pers {
		_, idx, _, ok := personalHeader(p)
		if !ok {
			return &CorruptError{File: personalFile, Index: -1, Problem: fmt.Sprintf("record %d malformed", i)}
		}
		if idx >= l.n {
			l.log.Warn("audit: dropping personal records of unacknowledged entries", "from_index", idx)
			persValid = int(off)
			break
		}
		l.persIdx[idx] = off
		off += int64(len(p)) + 8
	}

	// Everything checked: now cut what no checkpoint covers.
	for _, c := range []struct {
		ff    *frameFile
		valid int
	}{{l.entries, valid}, {l.personal, persValid}, {l.checkpoints, cpValid}} {
		if int64(c.valid) < c.ff.size {
			l.log.Warn("audit: cutting a torn tail", "file", c.ff.name, "bytes", c.ff.size-int64(c.valid))
			if err := c.ff.truncate(int64(c.valid)); err != nil {
				return err
			}
		}
	}
	l.persSize = l.personal.size
	if !cpExisted {
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	if err := l.migrate(); err != nil {
		return err
	}
	removeTemporaries(l.dir, filepath.Join(l.dir, keysDir), filepath.Join(l.dir, witnessedDir))
	if len(cps) > 0 {
		l.cp = cps[len(cps)-1]
	}
	if fileSize != l.n || l.opt.StatePath != "" && stateSize != l.n {
		if l.cp, err = l.signCheckpoint(l.n, hr, !cpExisted); err != nil {
			return err
		}
	}
	return nil
}

func lastFrom(prior []signed, size int64) string {
	for _, s := range prior {
		if s.size == size {
			return s.from
		}
	}
	return "?"
}

// loadController reads the recorded controller recipient, records a new
// one, and refuses an old-format directory it cannot migrate.
func (l *Log) loadController() error {
	path := filepath.Join(l.dir, controllerKey)
	data, err := readSmallFile(path, 1024)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var recorded *age.X25519Recipient
	if err == nil {
		if recorded, err = age.ParseX25519Recipient(strings.TrimSpace(string(data))); err != nil {
			return &CorruptError{File: controllerKey, Index: -1, Problem: err.Error()}
		}
	}
	c := l.opt.Controller
	switch {
	case c != nil && (recorded == nil || recorded.String() != c.String()):
		if recorded != nil {
			l.log.Warn("audit: controller key changed: new keys are wrapped to the new one", "old", recorded.String(), "new", c.String())
		}
		if err := writeAtomic(l.dir, controllerKey, []byte(c.String()+"\n")); err != nil {
			return err
		}
	case c == nil:
		c = recorded
	}
	if c == nil {
		l.log.Warn("audit: no controller key: personal parts are committed but not stored")
	}
	l.keys = &keyStore{dir: filepath.Join(l.dir, keysDir), controller: c, cache: map[string]*subjectKey{}}
	return nil
}

// checkChain checks an entry's index and prev root against the tree of
// the entries before it.
func checkChain(r *Record, i int64, hr tlog.HashReader) error {
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

// signCheckpoint signs the checkpoint of the first n entries, appends it
// to the checkpoints file (fsynced when sync) and copies it to StatePath;
// the caller publishes it. Only the committer and load call it.
func (l *Log) signCheckpoint(n int64, hr tlog.HashReader, sync bool) ([]byte, error) {
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		return nil, err
	}
	text := tlogfmt.Checkpoint{Origin: l.origin, Size: uint64(n), Hash: root[:]}.Marshal()
	cp, err := note.Sign(&note.Note{Text: string(text)}, l.signer)
	if err != nil {
		return nil, err
	}
	// The entries are fsynced before their checkpoint is signed, so a
	// checkpoint lost in a power cut is re-signed identically from them:
	// checkpoints need no fsync of their own (except the first, which
	// marks the log as started).
	if err := l.checkpoints.write(appendFrame(nil, cp), sync); err != nil {
		return nil, err
	}
	if l.opt.StatePath != "" {
		if err := writeAtomic(filepath.Dir(l.opt.StatePath), filepath.Base(l.opt.StatePath), cp); err != nil {
			return nil, fmt.Errorf("audit: state copy: %w", err)
		}
	}
	return cp, nil
}

// parseUnverifiedCheckpoint reads a checkpoint's text without checking
// its signature.
func parseUnverifiedCheckpoint(cp []byte, origin string) (*tlogfmt.Checkpoint, error) {
	text, _, ok := bytes.Cut(cp, []byte("\n\n"))
	if !ok {
		return nil, errors.New("not a signed note")
	}
	var c tlogfmt.Checkpoint
	if _, err := c.Unmarshal(append(text, '\n')); err != nil {
		return nil, err
	}
	if c.Origin != origin || len(c.Hash) != len(tlog.Hash{}) || c.Size > 1<<62 {
		return nil, fmt.Errorf("checkpoint of %q, %d-byte hash", c.Origin, len(c.Hash))
	}
	return &c, nil
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

// Close waits for appends in flight, stops the committer and the
// witnessing, and closes the files. It is safe to call more than once.
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
	l.stopWitnessing()
	l.closeFiles()
	return nil
}
