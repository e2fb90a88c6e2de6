//go:build cgo

package calibgen

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// TestRegenerate runs the calibration on the dev set with the real engine
// and checks the committed table is exactly what it produces.
func TestRegenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("all 1,614 dev images")
	}
	lfw := testenv.LFWDir(t)
	e, err := facerec.Open(testenv.ModelDir(), facerec.Options{})
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	defer e.Close()
	got, err := Generate(context.Background(), eval.EngineDescriber{E: e}, lfw)
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
