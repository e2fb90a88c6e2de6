package eval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
)

// fakeDescriber maps file contents "person:k" to a descriptor near the
// person's point; anything else has no face.
type fakeDescriber struct{ calls atomic.Int64 }

func (f *fakeDescriber) ModelID() string { return "fake-model" }
func (f *fakeDescriber) Describe(_ context.Context, img []byte) (facerec.Descriptor, error) {
	f.calls.Add(1)
	var d facerec.Descriptor
	person, k, ok := strings.Cut(strings.TrimSpace(string(img)), ":")
	if !ok {
		return d, facerec.ErrNoFace
	}
	h := sha256.Sum256([]byte(person))
	for i := range 16 {
		d[i] = float32(h[i]) / 255
	}
	d[127] = float32(len(k)) * 0.05
	return d, nil
}

func writeFiles(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunBadInputAndCache(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a1.jpg": "alice:1", "a2.jpg": "alice:22", "b1.jpg": "bob:1", "b2.jpg": "bob:333",
		"noface.jpg": "a landscape",
		"pairs.csv": "a,b,same\n" +
			"a1.jpg,a2.jpg,1\n" +
			"b1.jpg,b2.jpg,1\n" +
			"a1.jpg,b1.jpg,0\n" +
			"a2.jpg,b2.jpg,0\n" +
			"a1.jpg,missing.jpg,1\n" + // missing file: failure to acquire
			"noface.jpg,b1.jpg,0\n" + // no face: failure to acquire
			"a1.jpg,b2.jpg\n" + // two fields
			"a1.jpg,b2.jpg,maybe\n" + // bad label
			"\"unterminated,b2.jpg,0\n",
	})
	f := &fakeDescriber{}
	cfg := Config{PairsFile: filepath.Join(dir, "pairs.csv"), CacheDir: filepath.Join(dir, "cache"), Folds: 2}
	rep, err := Run(context.Background(), f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pairs != 6 || rep.PairsLost != 2 || rep.GenuinePairs != 2 || rep.ImpostorPairs != 2 {
		t.Fatalf("pairs %d lost %d genuine %d impostor %d", rep.Pairs, rep.PairsLost, rep.GenuinePairs, rep.ImpostorPairs)
	}
	if rep.FTA.Errors != 2 || rep.FTA.Trials != 6 {
		t.Fatalf("FTA %+v", rep.FTA)
	}
	if len(rep.LineErrors) != 3 || !strings.HasPrefix(rep.LineErrors[0], "line 8: 2 fields") || !strings.Contains(rep.LineErrors[1], "line 9: same is \"maybe\"") {
		t.Fatalf("line errors %q", rep.LineErrors)
	}
	var failed []string
	for _, fi := range rep.FailedImages {
		failed = append(failed, fi.Path+": "+fi.Error)
	}
	if len(failed) != 2 || !strings.Contains(strings.Join(failed, "\n"), "missing.jpg") || !strings.Contains(strings.Join(failed, "\n"), "noface.jpg: facerec: no face found") {
		t.Fatalf("failed images %q", failed)
	}
	if len(rep.Unsupported) != 2 { // 2 impostor pairs support no FMR claim
		t.Fatalf("unsupported claims %q", rep.Unsupported)
	}
	calls := f.calls.Load()
	again, err := Run(context.Background(), f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != calls || again.CacheHits != 5 {
		t.Fatalf("second run: %d new analyses, %d cache hits", f.calls.Load()-calls, again.CacheHits)
	}
	if again.AUC != rep.AUC || again.EER != rep.EER {
		t.Fatal("cached run differs")
	}
	out := filepath.Join(dir, "out")
	if err := WriteReport(out, rep, again); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.md", "report.json", "det.png", "det.svg", "hist.png", "hist.svg"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	back, err := LoadReport(filepath.Join(out, "report.json"))
	if err != nil || back.AUC != rep.AUC || len(back.Genuine) != 2 {
		t.Fatalf("report.json round trip: %v", err)
	}
	if _, err := Run(context.Background(), f, Config{PairsFile: filepath.Join(dir, "nope.csv")}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing CSV: %v", err)
	}
}

// TestRunProgress: off a terminal, eval's progress is plain lines (each
// image that fails to acquire, and the count every 100 images and at the
// end), with no carriage return or escape code; on a "terminal" (a
// buffer taken for one) the bar ends at 250/250, 100%, and the failures
// are still reported, each on its own line.
func TestRunProgress(t *testing.T) {
	files := map[string]string{"noface.jpg": "a landscape"}
	var pairs strings.Builder
	for i := range 249 {
		files[fmt.Sprintf("p%03d.jpg", i)] = fmt.Sprintf("p%d:1", i%7)
		pairs.WriteString(fmt.Sprintf("p%03d.jpg,noface.jpg,0\n", i))
	}
	files["pairs.csv"] = pairs.String()
	dir := writeFiles(t, files)
	for _, tty := range []bool{false, true} {
		var w bytes.Buffer
		_, err := Run(context.Background(), &fakeDescriber{}, Config{PairsFile: filepath.Join(dir, "pairs.csv"), Progress: &w, TTY: tty, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		out := w.String()
		if !strings.Contains(out, "eval: no face or unreadable: noface.jpg: facerec: no face found\n") {
			t.Fatalf("tty %v: the failed image is not reported: %q", tty, out)
		}
		if !tty {
			if strings.ContainsAny(out, "\r\x1b") || !strings.HasSuffix(out, "eval: 100/250 images\neval: 200/250 images\neval: 250/250 images\n") {
				t.Fatalf("plain output %q", out)
			}
			continue
		}
		frames := strings.Split(strings.TrimRight(out, "\n"), "\r")
		if last := frames[len(frames)-1]; !strings.Contains(last, "100%") || !strings.Contains(last, "250/250") {
			t.Fatalf("last frame %q", last)
		}
	}
}
