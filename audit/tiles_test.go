package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tilesClient reads a tlog-tiles directory served over HTTP on 127.0.0.1
// with filippo.io/torchwood's client, which authenticates every tile
// against the checkpoint, and returns the verified tree and entries.
func tilesClient(t *testing.T, base, vkey string) (torchwood.Checkpoint, [][]byte, error) {
	t.Helper()
	ctx := context.Background()
	f, err := torchwood.NewTileFetcher(base)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := f.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		return torchwood.Checkpoint{}, nil, err
	}
	n, err := note.Open(signed, note.VerifierList(mustVerifier(vkey)))
	if err != nil {
		return torchwood.Checkpoint{}, nil, err
	}
	// An independent C2SP tlog-checkpoint parser (torchwood's, not
	// transparency-dev/formats which the log uses).
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return cp, nil, err
	}
	c, err := torchwood.NewClient(f)
	if err != nil {
		t.Fatal(err)
	}
	// Entries stops before a trailing partial entry bundle; resuming
	// from there reads it (as a client tailing the log does).
	var entries [][]byte
	for int64(len(entries)) < cp.N {
		before := len(entries)
		for i, e := range c.Entries(ctx, cp.Tree, int64(len(entries))) {
			if i != int64(len(entries)) {
				t.Fatalf("entry %d after %d entries", i, len(entries))
			}
			entries = append(entries, bytes.Clone(e))
		}
		if c.Err() != nil || len(entries) == before {
			break
		}
	}
	return cp, entries, c.Err()
}

func TestExportTilesReadByTorchwood(t *testing.T) {
	l := newTestLog(t, Options{})
	out := filepath.Join(t.TempDir(), "tiles")
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer srv.Close()

	// 0 entries, then sizes that end inside a tile, on a tile boundary,
	// and past a second level of tiles (256*256 would be slow; 600 gives
	// two full tiles and a partial one at level 0, a partial at level 1).
	for _, size := range []int{0, 5, 256, 600} {
		appendN(t, l.Log, size-int(l.Size()), "tile")
		if l.Size() > 0 && l.Size()%7 == 3 {
			l.Append(context.Background(), verifyEntry(1), personal(1, 2))
		}
		if err := ExportTiles(l.dir, out, nil, l.vkey); err != nil {
			t.Fatalf("size %d: %v", l.Size(), err)
		}
		cp, entries, err := tilesClient(t, srv.URL, l.vkey)
		if err != nil {
			t.Fatalf("size %d: torchwood: %v", l.Size(), err)
		}
		if cp.Origin != l.Origin() || cp.N != l.Size() || int64(len(entries)) != l.Size() {
			t.Fatalf("size %d: torchwood read %s with %d entries", l.Size(), cp.String(), len(entries))
		}
		for i, e := range entries {
			want, err := l.Entry(int64(i))
			if err != nil || !bytes.Equal(e, want) {
				t.Fatalf("entry %d differs", i)
			}
		}
		// Single entries with their inclusion proofs, checked by torchwood
		// and by oneface's receipts' checker (tlog).
		if l.Size() > 0 {
			c, _ := torchwood.NewClient(mustFetcher(t, srv.URL))
			for _, i := range []int64{0, l.Size() / 2, l.Size() - 1} {
				e, proof, err := c.Entry(context.Background(), cp.Tree, i)
				if err != nil {
					t.Fatalf("entry %d: %v", i, err)
				}
				if err := tlog.CheckRecord(proof, cp.N, cp.Hash, i, tlog.RecordHash(e)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Every file has the path torchwood expects for its tile.
	n := 0
	filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(out, path)
		if d.IsDir() || rel == "checkpoint" {
			return nil
		}
		tile, err := torchwood.ParseTilePath(filepath.ToSlash(rel))
		if err != nil || torchwood.TilePath(tile) != filepath.ToSlash(rel) || tilePath(tile) != filepath.ToSlash(rel) {
			t.Errorf("%s: not a C2SP tile path (%v)", rel, err)
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatal("no tiles")
	}
}

func mustFetcher(t *testing.T, base string) *torchwood.TileFetcher {
	f, err := torchwood.NewTileFetcher(base)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestExportTilesTamper: torchwood's client rejects an altered entry
// bundle or hash tile; ExportTiles refuses a log whose entries do not hash
// to the checkpoint, and an output directory holding another history.
func TestExportTilesTamper(t *testing.T) {
	l := newTestLog(t, Options{})
	appendN(t, l.Log, 300, "tile")
	out := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer srv.Close()
	if err := ExportTiles(l.dir, out, nil, l.vkey); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"tile/entries/000", "tile/entries/001.p/44", "tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"} {
		path := filepath.Join(out, filepath.FromSlash(rel))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(orig)
		bad[len(bad)-1] ^= 1
		os.WriteFile(path, bad, 0o644)
		if _, _, err := tilesClient(t, srv.URL, l.vkey); err == nil {
			t.Fatalf("%s altered: torchwood accepted the log", rel)
		}
		// Exporting again into it: the directory holds another history.
		if err := ExportTiles(l.dir, out, nil, l.vkey); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s altered, re-export: %v", rel, err)
		}
		os.WriteFile(path, orig, 0o644)
	}
	if _, _, err := tilesClient(t, srv.URL, l.vkey); err != nil {
		t.Fatal(err)
	}

	// A checkpoint of another history (same key) does not match the entries.
	fork := openTestLogWithKey(t, l.skey)
	appendN(t, fork, 300, "fork")
	if err := ExportTiles(l.dir, t.TempDir(), fork.Checkpoint(), l.vkey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("foreign checkpoint: %v", err)
	}
	// Nor does a checkpoint signed by another key verify.
	if err := ExportTiles(l.dir, t.TempDir(), nil, newTestLog(t, Options{}).vkey); !errors.Is(err, ErrBadProof) {
		t.Fatalf("other key: %v", err)
	}
	// A cosigned checkpoint is served as given.
	cp := append(l.Checkpoint(), "— witness.example/w AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"...)
	out2 := t.TempDir()
	if err := ExportTiles(l.dir, out2, cp, l.vkey); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out2, "checkpoint")); !bytes.Equal(got, cp) {
		t.Fatal("checkpoint not served as given")
	}
}

func ExampleExportTiles() {
	logDir, _ := os.MkdirTemp("", "log")
	outDir, _ := os.MkdirTemp("", "tiles")
	defer os.RemoveAll(logDir)
	defer os.RemoveAll(outDir)
	skey, vkey, _ := GenerateKey("kiosk-1.example")
	l, err := Open(logDir, skey, Options{})
	if err != nil {
		panic(err)
	}
	for range 3 {
		l.Append(context.Background(), Entry{Kind: KindVerify, Purpose: "door-main", Decision: DecisionMatch, Reason: "ok", ModelID: "-"}, nil)
	}
	l.Close()

	// Static files for any web server; any C2SP tlog client can read them.
	if err := ExportTiles(logDir, outDir, nil, vkey); err != nil {
		panic(err)
	}
	filepath.WalkDir(outDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(outDir, path)
			fmt.Println(filepath.ToSlash(rel))
		}
		return nil
	})
	// Output:
	// checkpoint
	// tile/0/000.p/3
	// tile/entries/000.p/3
}
