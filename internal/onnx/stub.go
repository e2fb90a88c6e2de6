//go:build !cgo

package onnx

import "context"

// Net is one ONNX network. Without cgo none can be loaded.
type Net struct{}

// Load returns [ErrUnavailable]: this binary was built without cgo, so
// OpenCV is not compiled in.
func Load(path string, wantSHA256 string) (*Net, error) { return nil, ErrUnavailable }

// SHA256 returns "" without cgo.
func (n *Net) SHA256() string { return "" }

// Run returns [ErrUnavailable].
func (n *Net) Run(ctx context.Context, input []float32, shape []int) ([]float32, error) {
	return nil, ErrUnavailable
}

// RunShape returns [ErrUnavailable].
func (n *Net) RunShape(ctx context.Context, input []float32, shape []int) ([]float32, []int, error) {
	return nil, nil, ErrUnavailable
}

// Close does nothing without cgo.
func (n *Net) Close() error { return nil }

// OpenCVVersion returns "" without cgo.
func OpenCVVersion() string { return "" }
