//go:build cgo

package onnx

/*
#cgo CXXFLAGS: -std=c++11 -I/usr/include/opencv4
#cgo LDFLAGS: -lopencv_dnn -lopencv_core
#include <stdlib.h>
#include "onnx.h"
*/
import "C"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"
)

// Net is one ONNX network loaded in OpenCV dnn. Its methods are safe for
// concurrent use; Runs are serialised (see the package doc).
type Net struct {
	sem    chan struct{} // capacity 1: holding it means using ptr
	ptr    *C.oneface_onnx_net
	sha256 string
}

// Load reads the ONNX model at path, checks that its SHA-256 is wantSHA256
// (64 hex digits; there is no way to skip the check) and loads it in OpenCV
// dnn on the CPU. It sets OpenCV's thread count to 1, process-wide (see the
// package doc). Errors match [ErrModel].
func Load(path string, wantSHA256 string) (*Net, error) {
	want, err := checkPin(wantSHA256)
	if err != nil {
		return nil, err
	}
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("%w: %s has SHA-256 %s, pinned %s", ErrModel, path, got, want)
	}
	cb := C.CBytes(b) // OpenCV reads it during the call; freed right after
	defer C.free(cb)
	var cerr *C.char
	p := C.oneface_onnx_load((*C.char)(cb), C.size_t(len(b)), &cerr)
	if p == nil {
		return nil, fmt.Errorf("%w: %s: OpenCV: %s", ErrModel, path, takeErr(cerr))
	}
	return &Net{sem: make(chan struct{}, 1), ptr: p, sha256: want}, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrModel, path, err)
	}
	if len(b) > MaxModelBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrModel, path, MaxModelBytes)
	}
	return b, nil
}

func takeErr(p *C.char) string {
	if p == nil {
		return "no message"
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p)
}

// SHA256 returns the lowercase hex SHA-256 of the loaded model file.
func (n *Net) SHA256() string { return n.sha256 }

// Run runs the network on one input tensor (float32, row-major, with the
// given shape, typically N×C×H×W) and returns its default output,
// flattened in row-major order; [Net.RunShape] also gives the output's
// shape. The input is copied; the caller keeps ownership.
//
// Errors: [ErrShape] for a shape out of bounds ([MaxRank], [MaxDim],
// [MaxInputElements]), a length that does not match it, or a non-finite
// value; [ErrInference] when OpenCV throws (for example a shape the network
// does not accept) or returns a non-finite output; [ErrClosed] after Close;
// ctx's error when it ends while waiting for the network. The C++ work of
// one call cannot be interrupted.
func (n *Net) Run(ctx context.Context, input []float32, shape []int) ([]float32, error) {
	out, _, err := n.RunShape(ctx, input, shape)
	return out, err
}

// RunShape is [Net.Run], also returning the output's shape (for the face
// embedding 1×512, for the presentation-attack detectors N×3).
func (n *Net) RunShape(ctx context.Context, input []float32, shape []int) ([]float32, []int, error) {
	if _, err := checkInput(input, shape); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	select {
	case n.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-n.sem }()
	if n.ptr == nil {
		return nil, nil, ErrClosed
	}

	cshape := make([]C.int, len(shape))
	for i, d := range shape {
		cshape[i] = C.int(d)
	}
	var (
		cout     *C.float
		outLen   C.size_t
		outShape [maxOutputRank]C.int
		outDims  C.int
		cerr     *C.char
	)
	rc := C.oneface_onnx_run(n.ptr, (*C.float)(unsafe.Pointer(&input[0])), &cshape[0], C.int(len(shape)),
		&cout, &outLen, &outShape[0], maxOutputRank, &outDims, &cerr)
	if rc != 0 {
		return nil, nil, fmt.Errorf("%w: OpenCV: %s", ErrInference, takeErr(cerr))
	}
	defer C.free(unsafe.Pointer(cout))
	out := make([]float32, int(outLen))
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(cout)), int(outLen)))
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("%w: output value %d is not finite", ErrInference, i)
		}
	}
	oshape := make([]int, int(outDims))
	for i := range oshape {
		oshape[i] = int(outShape[i])
	}
	return out, oshape, nil
}

// Close releases the network. It waits for a Run in flight; later calls
// return [ErrClosed]. Calling it again does nothing and returns nil.
func (n *Net) Close() error {
	n.sem <- struct{}{}
	defer func() { <-n.sem }()
	if n.ptr != nil {
		C.oneface_onnx_free(n.ptr)
		n.ptr = nil
	}
	return nil
}

// OpenCVVersion returns the version of the OpenCV library compiled in,
// for logs and reports.
func OpenCVVersion() string { return C.GoString(C.oneface_onnx_version()) }
