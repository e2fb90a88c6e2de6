package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// DirWitness collects a log's checkpoints in a directory, for an auditor
// (or a second disk) that keeps them. It is a collector, not a witness: it
// holds no key and returns no cosignature, so it adds no one's word to a
// checkpoint. What it does is what a witness checks: each checkpoint must
// carry the log's signature and extend the last one collected (checked
// with the consistency proof, which is stored beside it); a fork or a
// rollback is refused with [ErrWitnessRefused] and the refused checkpoint
// is kept as evidence. An auditor then runs VerifyDir against the latest
// collected checkpoint: a log shorter than it, or with another root, was
// tampered with.
//
// Files, per collected checkpoint of N entries (N in 20 decimal digits, so
// that names sort by size):
//
//	N.checkpoint          the signed checkpoint note, as received
//	proofs/N.proof        "old M\n", the consistency proof from the previous
//	                      collected size M (base64 hashes, one a line) and an
//	                      empty line: the header of a tlog-witness request
//	refused-N-<sha256 prefix>.checkpoint   a checkpoint refused as a fork or
//	                      a rollback, kept as evidence
//
// So the directory itself, holding only checkpoints at its top level, can
// be handed to an auditor as a directory of evidence; a refused fork in it
// is then reported as two checkpoints of one history that disagree.
// The directory must belong to this process's user and not be writable by
// group or others; files are created exclusively (no symbolic link is
// followed) and renamed into place, then the directory is fsynced.
// [NewDirWitness] re-verifies the whole stored chain. It is safe for
// concurrent use by one process.
type DirWitness struct {
	dir      string
	verifier note.Verifier

	mu       sync.Mutex
	lastSize int64
	lastRoot tlog.Hash
	have     bool
}

var collectedName = regexp.MustCompile(`^([0-9]{20})\.checkpoint$`)

// NewDirWitness opens (creating, mode 0700) the collection in dir for the
// log whose checkpoints verify with logKey, and verifies what is already
// there: every stored checkpoint's signature and each consistency proof
// from the one before. A broken chain is an error wrapping [ErrBadProof].
func NewDirWitness(dir, logKey string) (*DirWitness, error) {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return nil, fmt.Errorf("audit: log key: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, proofsDir), 0o700); err != nil {
		return nil, err
	}
	for _, d := range []string{dir, filepath.Join(dir, proofsDir)} {
		if err := witCheckDir(d); err != nil {
			return nil, err
		}
	}
	w := &DirWitness{dir: dir, verifier: v}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sizes []int64
	for _, de := range des {
		if m := collectedName.FindStringSubmatch(de.Name()); m != nil {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: size out of range", ErrBadProof, de.Name())
			}
			sizes = append(sizes, n)
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	for _, n := range sizes {
		cp, err := witReadFile(filepath.Join(dir, collectedFile(n)), maxCheckpointNote)
		if err != nil {
			return nil, err
		}
		size, root, err := openLogCheckpoint(cp, v)
		if err != nil || size != n {
			return nil, fmt.Errorf("%w: %s: not a checkpoint of %d entries signed by the log (%v)", ErrBadProof, collectedFile(n), n, err)
		}
		pf, err := witReadFile(filepath.Join(dir, filepath.FromSlash(proofFile(n))), maxWitnessResponse)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadProof, proofFile(n), err)
		}
		old, hashes, err := parseStoredProof(pf)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadProof, proofFile(n), err)
		}
		if old != w.lastSize || (!w.have && old != 0) {
			return nil, fmt.Errorf("%w: %s: proof from %d entries, the previous checkpoint kept has %d", ErrBadProof, proofFile(n), old, w.lastSize)
		}
		if w.have && w.lastSize > 0 {
			if err := tlog.CheckTree(hashes, size, root, w.lastSize, w.lastRoot); err != nil {
				return nil, fmt.Errorf("%w: %s does not extend the checkpoint of %d entries: %v", ErrBadProof, collectedFile(n), w.lastSize, err)
			}
		}
		w.lastSize, w.lastRoot, w.have = size, root, true
	}
	return w, nil
}

// Name is "dir:" and the directory.
func (w *DirWitness) Name() string { return "dir:" + w.dir }

// Latest returns the size of the latest collected checkpoint, and false
// when none is.
func (w *DirWitness) Latest() (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastSize, w.have
}

// Cosign stores checkpoint if it is signed by the log and extends the last
// one collected (proof is called for the consistency proof from that
// size), and returns no cosignature (nil). A checkpoint already collected
// is accepted again without change. A fork (same size, another root, or a
// proof that does not verify) or a rollback (fewer entries than collected)
// is refused with an error wrapping [ErrWitnessRefused]; a checkpoint the
// log did not sign, with one wrapping [ErrBadProof].
func (w *DirWitness) Cosign(ctx context.Context, checkpoint []byte, proof ProofFunc) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(checkpoint) > maxCheckpointNote {
		return nil, fmt.Errorf("audit: %s: checkpoint of %d bytes, limit %d", w.Name(), len(checkpoint), maxCheckpointNote)
	}
	size, root, err := openLogCheckpoint(checkpoint, w.verifier)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadProof, w.Name(), err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var hashes []tlog.Hash
	switch {
	case !w.have:
	case size < w.lastSize:
		return nil, w.refuse(checkpoint, size, fmt.Sprintf("a checkpoint of %d entries after one of %d: rollback", size, w.lastSize))
	case size == w.lastSize:
		if root == w.lastRoot {
			return nil, nil
		}
		return nil, w.refuse(checkpoint, size, fmt.Sprintf("two checkpoints of %d entries with different roots: fork", size))
	case w.lastSize > 0:
		if hashes, err = proof(w.lastSize); err != nil {
			return nil, fmt.Errorf("audit: %s: consistency proof %d→%d: %w", w.Name(), w.lastSize, size, err)
		}
		if len(hashes) > maxConsistencyProof || tlog.CheckTree(hashes, size, root, w.lastSize, w.lastRoot) != nil {
			return nil, w.refuse(checkpoint, size, fmt.Sprintf("the checkpoint of %d entries does not extend the one of %d: fork", size, w.lastSize))
		}
	}
	// The proof first, then the checkpoint: the checkpoint file is what
	// makes the pair count.
	if err := witWriteFile(w.dir, filepath.FromSlash(proofFile(size)), addCheckpointBody(w.lastSize, hashes, nil), 0o600); err != nil {
		return nil, err
	}
	if err := witWriteFile(w.dir, collectedFile(size), checkpoint, 0o600); err != nil {
		return nil, err
	}
	w.lastSize, w.lastRoot, w.have = size, root, true
	return nil, nil
}

// refuse keeps a refused checkpoint as evidence and returns the refusal.
func (w *DirWitness) refuse(cp []byte, size int64, why string) error {
	sum := sha256.Sum256(cp)
	name := fmt.Sprintf("refused-%020d-%s.checkpoint", size, hex.EncodeToString(sum[:8]))
	err := fmt.Errorf("%w: %s: %s (kept as %s)", ErrWitnessRefused, w.Name(), why, name)
	if _, serr := os.Lstat(filepath.Join(w.dir, name)); serr == nil {
		return err
	}
	if werr := witWriteFile(w.dir, name, cp, 0o600); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func collectedFile(n int64) string { return fmt.Sprintf("%020d.checkpoint", n) }
func proofFile(n int64) string     { return fmt.Sprintf(proofsDir+"/%020d.proof", n) }

const proofsDir = "proofs"

// parseStoredProof parses an N.proof file: "old M\n", hashes one a line,
// then the empty line that ends a tlog-witness request header.
func parseStoredProof(data []byte) (int64, []tlog.Hash, error) {
	s, ok := strings.CutSuffix(string(data), "\n\n")
	if !ok {
		return 0, nil, errors.New("want lines ending with an empty line")
	}
	lines := strings.Split(s, "\n")
	ms, ok := strings.CutPrefix(lines[0], "old ")
	m, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || m < 0 || strconv.FormatInt(m, 10) != ms {
		return 0, nil, errors.New("want \"old N\"")
	}
	if len(lines)-1 > maxConsistencyProof {
		return 0, nil, errors.New("proof too long")
	}
	hashes := make([]tlog.Hash, len(lines)-1)
	b64 := canonicalB64{}
	for i, l := range lines[1:] {
		h, err := b64.DecodeString(l)
		if err != nil || len(h) != len(tlog.Hash{}) {
			return 0, nil, fmt.Errorf("proof hash %d", i)
		}
		copy(hashes[i][:], h)
	}
	return m, hashes, nil
}

// openLogCheckpoint authenticates a checkpoint note with the log's key,
// then parses it (C2SP tlog-checkpoint; extension lines allowed), returning
// its size and root.
func openLogCheckpoint(cp []byte, v note.Verifier) (int64, tlog.Hash, error) {
	c, _, _, err := tlogfmt.ParseCheckpoint(cp, v.Name(), v)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	if len(c.Hash) != len(tlog.Hash{}) || c.Size > 1<<62 {
		return 0, tlog.Hash{}, errors.New("checkpoint hash or size out of range")
	}
	var root tlog.Hash
	copy(root[:], c.Hash)
	return int64(c.Size), root, nil
}
