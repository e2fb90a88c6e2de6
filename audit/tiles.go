package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the C2SP tlog-tiles tile height (256 hashes or entries a
// full tile).
const tileHeight = 8

// ExportTiles writes the log in logDir as a C2SP tlog-tiles directory in
// outDir, static files any web server can serve so that any standard tlog
// client (e.g. filippo.io/torchwood's) can fetch and verify its entries:
//
//	checkpoint            the signed checkpoint (a C2SP tlog-checkpoint note)
//	tile/<L>/<N>[.p/<W>]  hash tiles (golang.org/x/mod/sumdb/tlog ReadTileData)
//	tile/entries/<N>[.p/<W>]  entry bundles: each entry as a 2-byte big-endian
//	                      length and its bytes (the entries as stored: text, no
//	                      personal data)
//
// It exports the tree of checkpoint (a signed note; nil means the latest
// one in logDir), which must verify with logKey and whose root the entries
// file must reproduce: the entries are hashed into tiles and the root is
// compared, so the tiles always match the checkpoint served with them
// (this does not re-check each entry's format and chain: [VerifyDir] does).
// Passing a checkpoint that carries witness cosignatures serves those too.
//
// Exporting again into the same outDir (after more appends) adds the new
// tiles and replaces the checkpoint last, so a client never sees a
// checkpoint whose tiles are missing. A file already there with other
// contents is refused with a *[CorruptError]: outDir holds another history.
// outDir is created with mode 0755 and must belong to this user and not be
// writable by group or others; files are written exclusively (no symbolic
// link is followed) and renamed into place.
func ExportTiles(logDir, outDir string, checkpoint []byte, logKey string) error {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return fmt.Errorf("audit: log key: %w", err)
	}
	if checkpoint == nil {
		if checkpoint, err = LatestCheckpoint(logDir); err != nil {
			return err
		}
	}
	if len(checkpoint) > maxCheckpointNote {
		return fmt.Errorf("audit: checkpoint of %d bytes, limit %d", len(checkpoint), maxCheckpointNote)
	}
	size, root, err := openLogCheckpoint(checkpoint, v)
	if err != nil {
		return fmt.Errorf("%w: checkpoint: %v", ErrBadProof, err)
	}
	// First pass: hash the entries the checkpoint covers, streamed (one
	// frame in memory; the stored hashes, 64 bytes an entry, are the
	// tiles' content). What follows them is not read.
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(hashes, nil, idx) })
	n := int64(0)
	err = scanEntries(logDir, size, func(i int64, p []byte) error {
		hs, err := tlog.StoredHashes(i, p, hr)
		if err != nil {
			return err
		}
		hashes = append(hashes, hs...)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n < size {
		return &CorruptError{File: entriesFile, Index: n, Problem: fmt.Sprintf("log truncated: %d entries, the checkpoint covers %d", n, size)}
	}
	if got, err := tlog.TreeHash(size, hr); err != nil {
		return err
	} else if got != root {
		return &CorruptError{File: entriesFile, Index: size - 1, Problem: "the entries do not hash to the checkpoint's root"}
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := witCheckDir(outDir); err != nil {
		return err
	}
	for _, t := range tlog.NewTiles(tileHeight, 0, size) {
		td, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return err
		}
		if err := putTile(outDir, tilePath(t), td); err != nil {
			return err
		}
	}
	// Second pass: the entry bundles, one data tile at a time; each
	// entry is checked against its hash from the first pass (the file
	// may have changed in between).
	var bundle []byte
	err = scanEntries(logDir, size, func(i int64, p []byte) error {
		if tlog.RecordHash(p) != hashes[tlog.StoredHashIndex(0, i)] {
			return &CorruptError{File: entriesFile, Index: i, Problem: "changed while being exported"}
		}
		bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(p))) // entries are at most maxFrame bytes
		bundle = append(bundle, p...)
		if i+1 != size && (i+1)%(1<<tileHeight) != 0 {
			return nil
		}
		dt := tlog.Tile{H: tileHeight, L: -1, N: i >> tileHeight, W: int(i%(1<<tileHeight)) + 1}
		if err := putTile(outDir, tilePath(dt), bundle); err != nil {
			return err
		}
		bundle = bundle[:0]
		return nil
	})
	if err != nil {
		return err
	}
	return witWriteFile(outDir, "checkpoint", checkpoint, 0o644)
}

// tilePath is a tile's C2SP tlog-tiles path: x/mod's sumdb path
// ("tile/8/L/..." and "tile/8/data/...") without the height, with
// "entries" for the data level.
func tilePath(t tlog.Tile) string {
	p := t.Path()
	if rest, ok := strings.CutPrefix(p, fmt.Sprintf("tile/%d/data/", tileHeight)); ok {
		return "tile/entries/" + rest
	}
	return "tile/" + strings.TrimPrefix(p, fmt.Sprintf("tile/%d/", tileHeight))
}

// putTile writes a tile unless the same bytes are there already.
func putTile(outDir, rel string, data []byte) error {
	path := filepath.Join(outDir, filepath.FromSlash(rel))
	old, err := witReadFile(path, int64(len(data)))
	switch {
	case err == nil && bytes.Equal(old, data):
		return nil
	case err == nil:
		return &CorruptError{File: path, Index: -1, Problem: "already there with other contents: the directory holds another history"}
	case !errors.Is(err, os.ErrNotExist):
		return &CorruptError{File: path, Index: -1, Problem: fmt.Sprintf("already there and unreadable as a tile (%v)", err)}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return witWriteFile(outDir, filepath.FromSlash(rel), data, 0o644)
}

// scanEntries calls fn with the first at most max entries of a log
// directory's entries file, streamed (see [scanLogFile]); a bad frame
// among them is a *CorruptError. It stops reading after max entries.
func scanEntries(dir string, max int64, fn func(i int64, payload []byte) error) error {
	f, err := openLogFile(dir, entriesFile)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := newFrameScanner(f, entriesFile)
	for int64(sc.count) < max && sc.next() {
		if err := fn(int64(sc.count-1), sc.payload); err != nil {
			return err
		}
	}
	if sc.err != nil {
		return sc.err
	}
	if sc.badAt >= 0 && int64(sc.badAt) < max {
		return &CorruptError{File: entriesFile, Index: int64(sc.badAt), Problem: sc.why}
	}
	return nil
}
