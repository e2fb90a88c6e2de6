//go:build cgo

package onnx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

// The real network used by these tests: the ArcFace-class embedding that
// `make setup` installs (pin from ../../internal/embed/models.sha256).
const (
	arcfaceFile   = "fr_feature.onnx"
	arcfaceSHA256 = "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"
)

var arcfaceShape = []int{1, 3, 112, 112}

func loadArcface(t testing.TB) *Net {
	t.Helper()
	n, err := Load(filepath.Join(testenv.ModelDir(), arcfaceFile), arcfaceSHA256)
	if err != nil {
		testenv.Missing(t, "ArcFace ONNX model", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// ramp is a deterministic, face-free input in the network's value range.
func ramp(n int, phase float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.01+phase) * 0.9)
	}
	return x
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.onnx")
	if err := os.WriteFile(junk, []byte("this is not an ONNX protobuf, just text"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(junk)
	sum := sha256.Sum256(b)
	junkSHA := hex.EncodeToString(sum[:])

	real := filepath.Join(testenv.ModelDir(), arcfaceFile)
	if _, err := os.Stat(real); err != nil {
		testenv.Missing(t, "ArcFace ONNX model", err)
	}
	tests := []struct {
		name, path, pin string
	}{
		{"wrong pin", real, junkSHA},
		{"pin one digit off", real, arcfaceSHA256[:63] + "0"},
		{"empty pin", real, ""},
		{"short pin", real, arcfaceSHA256[:62]},
		{"non-hex pin", real, "zz" + arcfaceSHA256[2:]},
		{"missing file", filepath.Join(dir, "nope.onnx"), arcfaceSHA256},
		{"not ONNX, pin matches", junk, junkSHA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Load(tt.path, tt.pin)
			if !errors.Is(err, ErrModel) {
				t.Fatalf("Load = %v, %v; want ErrModel", n, err)
			}
			if n != nil {
				t.Fatal("non-nil Net with an error")
			}
		})
	}
}

func TestRunShapeBounds(t *testing.T) {
	n := loadArcface(t)
	good := ramp(1*3*112*112, 0)
	nan := append([]float32(nil), good...)
	nan[100] = float32(math.NaN())
	inf := append([]float32(nil), good...)
	inf[7] = float32(math.Inf(-1))
	tests := []struct {
		name  string
		in    []float32
		shape []int
	}{
		{"no shape", good, nil},
		{"rank too high", good, []int{1, 1, 1, 3, 112, 112, 1}},
		{"zero dim", good, []int{1, 0, 112, 112}},
		{"negative dim", good, []int{1, -3, 112, 112}},
		{"dim too large", good, []int{1, 3, MaxDim + 1, 1}},
		{"too many elements", good, []int{1024, 1024, 32}},
		{"length mismatch short", good[:len(good)-1], arcfaceShape},
		{"length mismatch long", append(good, 0), arcfaceShape},
		{"empty input", nil, []int{1}},
		{"NaN", nan, arcfaceShape},
		{"Inf", inf, arcfaceShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := n.Run(context.Background(), tt.in, tt.shape)
			if !errors.Is(err, ErrShape) || out != nil {
				t.Fatalf("Run = %d values, %v; want ErrShape", len(out), err)
			}
		})
	}
}

// A shape within the bounds that the network cannot take makes OpenCV
// throw; the exception must come back as an error, not a crash.
func TestRunCPlusPlusException(t *testing.T) {
	n := loadArcface(t)
	for _, shape := range [][]int{{1, 1, 112, 112}, {1, 3, 7, 7}, {3, 112, 112}} {
		_, err := n.Run(context.Background(), ramp(shape[0]*shape[1]*shape[2]*prod(shape[3:]), 0), shape)
		if !errors.Is(err, ErrInference) {
			t.Errorf("shape %v: err = %v, want ErrInference", shape, err)
		}
	}
	// The network still works afterwards.
	if _, err := n.Run(context.Background(), ramp(3*112*112, 0), arcfaceShape); err != nil {
		t.Fatalf("after an exception: %v", err)
	}
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

func TestRunOutputShape(t *testing.T) {
	n := loadArcface(t)
	in := ramp(3*112*112, 0)
	out, shape, err := n.RunShape(context.Background(), in, arcfaceShape)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 1 || shape[1] != 512 || len(out) != 512 {
		t.Fatalf("output shape %v, %d values; want [1 512]", shape, len(out))
	}
	// The input is the caller's and must not be changed.
	if want := ramp(3*112*112, 0); !equal(in, want) {
		t.Fatal("Run modified its input")
	}
	// Different inputs give different outputs; the same input, the same.
	again, err := n.Run(context.Background(), in, arcfaceShape)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(out, again) {
		t.Fatal("same input, different output")
	}
	other, err := n.Run(context.Background(), ramp(3*112*112, 1), arcfaceShape)
	if err != nil {
		t.Fatal(err)
	}
	if equal(out, other) {
		t.Fatal("different inputs, same output")
	}
	// No batch test here: this network's Reshape node fixes the batch to 1
	// (a 2×3×112×112 blob comes out as 1×1024), which is why callers must
	// check the output shape RunShape returns.
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Concurrent Runs on one Net are serialised and give the single-threaded
// answers; Close while Runs are in flight waits for them, and every later
// call fails with ErrClosed. Run with -race.
func TestConcurrentRunAndClose(t *testing.T) {
	n, err := Load(filepath.Join(testenv.ModelDir(), arcfaceFile), arcfaceSHA256)
	if err != nil {
		testenv.Missing(t, "ArcFace ONNX model", err)
	}
	in := [2][]float32{ramp(3*112*112, 0), ramp(3*112*112, 2)}
	var want [2][]float32
	for i := range in {
		if want[i], err = n.Run(context.Background(), in[i], arcfaceShape); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 4; k++ {
				out, err := n.Run(context.Background(), in[(g+k)%2], arcfaceShape)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if !equal(out, want[(g+k)%2]) {
					errs <- errors.New("concurrent run gave a different output")
					return
				}
			}
		}()
	}
	// Close in the middle of the runs.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := n.Run(context.Background(), in[0], arcfaceShape); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestRunContext(t *testing.T) {
	n := loadArcface(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Run(ctx, ramp(3*112*112, 0), arcfaceShape); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v", err)
	}
	// A caller waiting for a busy Net leaves when its context ends.
	n.sem <- struct{}{} // simulate a Run in flight
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := n.Run(ctx2, ramp(3*112*112, 0), arcfaceShape)
		done <- err
	}()
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Run = %v, want context.Canceled", err)
	}
	<-n.sem
}

func TestOpenCVVersion(t *testing.T) {
	if v := OpenCVVersion(); v == "" {
		t.Fatal("empty OpenCV version")
	} else {
		t.Logf("OpenCV %s", v)
	}
}
