//go:build cgo

package calibgen

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// TestRegenerate runs the calibration on the dev sets with the real engine
// and embedder and checks the committed table is exactly what it
// produces. Per-image results come from the cache ([CacheDir]) when
// present; the first run analyses all 1,765 images.
func TestRegenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("all 1,614 LFW dev images and 151 spoof-dev frames")
	}
	a := devAnalyser(t)
	got, err := Generate(context.Background(), a, testenv.FacesDir())
	if err != nil {
		t.Fatal(err)
	}
	// The file package calib embeds, read from disk: the same bytes.
	want, err := os.ReadFile("../calibration.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := calib.Load(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("calibration.json does not regenerate bit-identically: run `go generate ./internal/calib` and review the diff")
	}
}

// devAnalyser opens the real engine and embedder with the on-disk cache,
// or skips when the dev sets or models are missing; closed at cleanup.
func devAnalyser(t *testing.T) *Analyser {
	t.Helper()
	testenv.LFWDir(t)
	e, err := facerec.Open(testenv.ModelDir(), facerec.Options{})
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	t.Cleanup(func() { e.Close() })
	em, err := embed.Open(testenv.ModelDir(), embed.Options{})
	if err != nil {
		testenv.Missing(t, "embedder", err)
	}
	t.Cleanup(func() { em.Close() })
	return &Analyser{Engine: e, Embedder: em, Cache: CacheDir(e.ModelID())}
}
