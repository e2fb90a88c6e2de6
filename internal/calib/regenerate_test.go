//go:build cgo

package calib

import (
	"bytes"
	"context"
	"testing"

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
	if !bytes.Equal(got, tableJSON) {
		t.Fatalf("calibration.json does not regenerate bit-identically: run `go generate ./internal/calib` and review the diff")
	}
}
