package onnx

import (
	"encoding/hex"
	"fmt"
	"math"
)

// Bounds on what reaches C++. They are far above what oneface's networks
// need (the face embedding takes 1×3×112×112 = 37,632 values, the
// presentation-attack detectors 1×3×80×80 or 1×3×128×128) and far below
// what would exhaust memory.
const (
	// MaxModelBytes bounds the size of a model file (256 MiB).
	MaxModelBytes = 256 << 20
	// MaxRank is the largest input rank accepted.
	MaxRank = 6
	// MaxDim is the largest size of one input dimension.
	MaxDim = 4096
	// MaxInputElements bounds the number of input values (16 Mi float32,
	// 64 MiB).
	MaxInputElements = 1 << 24
	// maxOutputRank is the largest output rank the C++ side reports.
	maxOutputRank = 8
)

// checkInput validates a tensor against the bounds and returns its element
// count.
func checkInput(input []float32, shape []int) (int, error) {
	if len(shape) < 1 || len(shape) > MaxRank {
		return 0, fmt.Errorf("%w: rank %d, want 1..%d", ErrShape, len(shape), MaxRank)
	}
	n := 1
	for i, d := range shape {
		if d < 1 || d > MaxDim {
			return 0, fmt.Errorf("%w: dimension %d is %d, want 1..%d", ErrShape, i, d, MaxDim)
		}
		n *= d // cannot overflow: checked against the bound at every step
		if n > MaxInputElements {
			return 0, fmt.Errorf("%w: more than %d elements", ErrShape, MaxInputElements)
		}
	}
	if len(input) != n {
		return 0, fmt.Errorf("%w: %d values for shape %v (%d elements)", ErrShape, len(input), shape, n)
	}
	for i, v := range input {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("%w: value %d is not finite", ErrShape, i)
		}
	}
	return n, nil
}

// checkPin validates a pinned SHA-256 (64 hex digits, either case) and
// returns it in lowercase.
func checkPin(want string) (string, error) {
	b, err := hex.DecodeString(want)
	if err != nil || len(b) != 32 {
		return "", fmt.Errorf("%w: pinned SHA-256 %q is not 64 hex digits", ErrModel, want)
	}
	return hex.EncodeToString(b), nil
}
