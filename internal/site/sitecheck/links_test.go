package sitecheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFolderLinksRefused: a capture or attack folder, or a frame, that is
// a symbolic link is refused by name, never skipped silently (before: a
// linked person folder or attack type was left out of the measurement
// without a word) nor followed. No frame is analysed: the walk refuses
// before the engine is needed.
func TestFolderLinksRefused(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.MkdirAll(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(elsewhere, "f.jpg"), []byte("not a frame"), 0o600)
	link := func(name string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.Symlink(elsewhere, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	want := func(what string, err error, p string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), p+": a symbolic link, not followed") {
			t.Errorf("%s: got %v, want %s refused as a link", what, err, p)
		}
	}

	p := link("captures/0001")
	_, _, _, err := analyse(ctx, nil, filepath.Dir(p))
	want("captures/<person> link", err, p)

	p = link("attacks/screen")
	_, _, _, err = scoreAttacks(ctx, &PADConfig{AttackDir: filepath.Dir(p)})
	want("attacks/<type> link", err, p)

	p = link("attacks2/print/session-2")
	_, err = attackFrames(filepath.Dir(p))
	want("attacks/<type>/<folder> link", err, p)

	frame := filepath.Join(dir, "person", "x.jpg")
	os.MkdirAll(filepath.Dir(frame), 0o700)
	if err := os.Symlink(filepath.Join(elsewhere, "f.jpg"), frame); err != nil {
		t.Fatal(err)
	}
	_, err = frameNames(filepath.Dir(frame), 10)
	want("frame link", err, frame)
}
