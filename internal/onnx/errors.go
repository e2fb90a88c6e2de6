package onnx

import "errors"

// Sentinel errors. Callers test them with [errors.Is]; messages carry the
// details.
var (
	// ErrUnavailable is returned by every call of a binary built without
	// cgo: OpenCV is not compiled in.
	ErrUnavailable = errors.New("onnx: ONNX runtime not available (built without cgo)")

	// ErrClosed is returned by calls made after [Net.Close].
	ErrClosed = errors.New("onnx: network closed")

	// ErrModel means the model file could not be read, is larger than
	// [MaxModelBytes], does not match its pinned SHA-256, or is not a
	// network OpenCV can load.
	ErrModel = errors.New("onnx: model file rejected")

	// ErrShape means the input tensor's shape or values are out of bounds
	// (see [Net.Run]).
	ErrShape = errors.New("onnx: input tensor rejected")

	// ErrInference means OpenCV failed while running the network (a C++
	// exception, or an output that is not finite).
	ErrInference = errors.New("onnx: inference failed")
)
