package eval

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
)

// fakeVectors describes "person:k" files with 512-D unit vectors (one axis
// per person, tilted by k) and compares them by cosine distance, as
// EmbedDescriber does.
type fakeVectors struct{ fakeDescriber }

func (f *fakeVectors) ModelID() string { return "fake-vectors" }
func (f *fakeVectors) Metric() string  { return "fake cosine" }
func (f *fakeVectors) DescribeVector(_ context.Context, img []byte) ([]float32, error) {
	f.calls.Add(1)
	person, k, ok := strings.Cut(strings.TrimSpace(string(img)), ":")
	if !ok {
		return nil, facerec.ErrNoFace
	}
	v := make([]float32, embed.Size)
	tilt := 0.1 * float64(len(k))
	v[int(person[0])%embed.Size] = float32(math.Cos(tilt))
	v[511] = float32(math.Sin(tilt))
	return v, nil
}
func (f *fakeVectors) Distance(a, b []float32) float64 {
	return embed.CosineDistance((*embed.Embedding)(a), (*embed.Embedding)(b))
}

// TestRunVectors: a VectorDescriber's vectors and metric are used, and its
// 512-D vectors survive the cache.
func TestRunVectors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a/1.jpg": "alice:1", "a/2.jpg": "alice:22", "b/1.jpg": "bob:1", "b/2.jpg": "bob:333",
		"pairs.csv": "a/1.jpg,a/2.jpg,1,g\nb/1.jpg,b/2.jpg,1,g\na/1.jpg,b/1.jpg,0,g\na/2.jpg,b/2.jpg,0,h\n",
	})
	f := &fakeVectors{}
	cfg := Config{PairsFile: dir + "/pairs.csv", CacheDir: t.TempDir(), Thresholds: []float64{0.5}}
	r1, err := Run(context.Background(), f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Run(context.Background(), f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != 4 || r2.CacheHits != 4 || r1.Metric != "fake cosine" {
		t.Fatalf("calls %d, cache hits %d, metric %q", f.calls.Load(), r2.CacheHits, r1.Metric)
	}
	// alice:1 vs alice:22: tilts 0.1 and 0.2 → 1 − cos(0.1).
	if want := 1 - math.Cos(0.1); math.Abs(r1.Genuine[0]-want) > 1e-6 || r1.Genuine[0] != r2.Genuine[0] || r1.Impostor[1] != r2.Impostor[1] {
		t.Fatalf("genuine %v (want %v first), impostor %v / %v", r1.Genuine, want, r1.Impostor, r2.Impostor)
	}
	if r1.ImpostorPairs != 2 || r1.AtThresholds[0].FMR.Errors != 0 || len(r1.Cohorts.Cohorts) != 2 {
		t.Fatalf("%+v", r1)
	}
}
