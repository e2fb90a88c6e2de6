package embed

import "errors"

// Sentinel errors. Errors of the network itself come from internal/onnx
// (onnx.ErrUnavailable without cgo, onnx.ErrModel, onnx.ErrInference) and
// are wrapped, so errors.Is sees them too.
var (
	// ErrClosed is returned by calls made after [Embedder.Close].
	ErrClosed = errors.New("embed: embedder closed")

	// ErrLandmarks means the landmarks cannot be aligned: not dlib's 68
	// points, or all at one place.
	ErrLandmarks = errors.New("embed: landmarks cannot be aligned")

	// ErrOutput means the network returned something other than one
	// 512-value vector of non-zero norm.
	ErrOutput = errors.New("embed: unexpected network output")
)
