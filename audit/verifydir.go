package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Report is the outcome of [VerifyDir].
type Report struct {
	Entries        int64     // valid entries in the log
	CheckpointSize int64     // entries the checkpoint covers
	Root           tlog.Hash // root hash at CheckpointSize
	TornTail       bool      // an incomplete write after the last entry (a crash), ignored
}

// VerifyDir verifies a copied log directory against a checkpoint the
// auditor trusts (kept from earlier, or received with a receipt) and the
// log's public key, recomputing everything from the entries file: framing
// and checksums, each entry's format, its index and the root of the tree
// before it, and the checkpoint's root. The first problem is returned as
// a *[CorruptError] naming the bad entry index and what is wrong.
func VerifyDir(dir string, checkpoint []byte, logKey string) (*Report, error) {
	data, err := os.ReadFile(filepath.Join(dir, entriesFile))
	if err != nil {
		return nil, err
	}
	return verifyEntries(data, checkpoint, logKey)
}

// verifyEntries is VerifyDir over the bytes of an entries file.
func verifyEntries(data, checkpoint []byte, logKey string) (*Report, error) {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return nil, fmt.Errorf("audit: log key: %w", err)
	}
	cp, _, _, err := parseCheckpoint(checkpoint, v.Name(), v)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrBadProof, err)
	}
	if len(cp.Hash) != len(tlog.Hash{}) || cp.Size > 1<<62 {
		return nil, fmt.Errorf("%w: checkpoint hash", ErrBadProof)
	}
	payloads, _, torn, badAt := readFrames(data)
	if badAt >= 0 && !torn {
		return nil, &CorruptError{File: entriesFile, Index: int64(badAt), Problem: "bad frame (length or checksum)"}
	}
	if badAt >= 0 && int64(badAt) < int64(cp.Size) {
		return nil, &CorruptError{File: entriesFile, Index: int64(badAt), Problem: "entry damaged or cut short"}
	}
	rep := &Report{Entries: int64(len(payloads)), CheckpointSize: int64(cp.Size), TornTail: torn}
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(hashes, nil, idx) })
	l := &Log{} // for checkChain
	for i, p := range payloads {
		r, err := ParseRecord(p)
		if err != nil {
			return nil, &CorruptError{File: entriesFile, Index: int64(i), Problem: err.Error()}
		}
		if r.Device != v.Name() {
			return nil, &CorruptError{File: entriesFile, Index: int64(i), Problem: fmt.Sprintf("entry of device %q in the log of %q", r.Device, v.Name())}
		}
		if err := l.checkChain(r, int64(i), hr); err != nil {
			return nil, err
		}
		hs, err := tlog.StoredHashes(int64(i), p, hr)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, hs...)
	}
	if rep.Entries < rep.CheckpointSize {
		return nil, &CorruptError{File: entriesFile, Index: rep.Entries, Problem: fmt.Sprintf("log truncated: %d entries, the checkpoint covers %d", rep.Entries, rep.CheckpointSize)}
	}
	if rep.Root, err = tlog.TreeHash(rep.CheckpointSize, hr); err != nil {
		return nil, err
	}
	if string(rep.Root[:]) != string(cp.Hash) {
		return nil, &CorruptError{File: entriesFile, Index: rep.CheckpointSize - 1, Problem: "root hash differs from the checkpoint: this entry was altered, or the checkpoint belongs to another history"}
	}
	return rep, nil
}

// ReadEntries parses every entry of a log directory without opening it for
// writing (for auditors and the CLI). It checks framing and format only:
// use [VerifyDir] to check the tree.
func ReadEntries(dir string) ([]*Record, error) {
	data, err := os.ReadFile(filepath.Join(dir, entriesFile))
	if err != nil {
		return nil, err
	}
	payloads, _, torn, badAt := readFrames(data)
	if badAt >= 0 && !torn {
		return nil, &CorruptError{File: entriesFile, Index: int64(badAt), Problem: "bad frame (length or checksum)"}
	}
	out := make([]*Record, 0, len(payloads))
	for i, p := range payloads {
		r, err := ParseRecord(p)
		if err != nil {
			return nil, &CorruptError{File: entriesFile, Index: int64(i), Problem: err.Error()}
		}
		out = append(out, r)
	}
	return out, nil
}

// LatestCheckpoint returns the last checkpoint stored in a log directory.
// It is not verified here: check it with the log's public key (VerifyDir
// does), and prefer a checkpoint obtained earlier over one read from the
// same disk as the entries.
func LatestCheckpoint(dir string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, checkpointsFile))
	if err != nil {
		return nil, err
	}
	cps, _, _, _ := readFrames(data)
	if len(cps) == 0 {
		return nil, fmt.Errorf("%w: no checkpoint in %s", ErrNotFound, dir)
	}
	return cps[len(cps)-1], nil
}
