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
	data, err := os.ReadFile(filepath.Join(logDir, entriesFile))
	if err != nil {
		return err
	}
	payloads, _, _, badAt := readFrames(data)
	if badAt >= 0 && int64(badAt) < size {
		return &CorruptError{File: entriesFile, Index: int64(badAt), Problem: "bad frame (length or checksum)"}
	}
	if int64(len(payloads)) < size {
		return &CorruptError{File: entriesFile, Index: int64(len(payloads)), Problem: fmt.Sprintf("log truncated: %d entries, the checkpoint covers %d", len(payloads), size)}
	}
	payloads = payloads[:size]
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(hashes, nil, idx) })
	for i, p := range payloads {
		hs, err := tlog.StoredHashes(int64(i), p, hr)
		if err != nil {
			return err
		}
		hashes = append(hashes, hs...)
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
		if t.L != 0 {
			continue
		}
		var bundle []byte
		for _, p := range payloads[t.N<<tileHeight : t.N<<tileHeight+int64(t.W)] {
			bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(p))) // entries are at most maxFrame bytes
			bundle = append(bundle, p...)
		}
		dt := t
		dt.L = -1
		if err := putTile(outDir, tilePath(dt), bundle); err != nil {
			return err
		}
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
