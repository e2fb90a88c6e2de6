package eval

import (
	"context"
	"crypto/sha256"
	"errors"
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
