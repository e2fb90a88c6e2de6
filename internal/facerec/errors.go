package facerec

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with [errors.Is]; messages carry the
// details.
var (
	// ErrUnavailable is returned by every call of a binary built without
	// cgo: the dlib engine is not compiled in.
	ErrUnavailable = errors.New("facerec: face engine not available (built without cgo)")

	// ErrClosed is returned by calls made after [Engine.Close].
	ErrClosed = errors.New("facerec: engine closed")

	// ErrNoFace means the frame holds no detectable face.
	ErrNoFace = errors.New("facerec: no face found")

	// ErrMultipleFaces means the frame holds several faces and none is
	// clearly dominant (see [Analysis.Single]).
	ErrMultipleFaces = errors.New("facerec: several comparable faces found")

	// ErrTooLarge means the input exceeds a [Limits] bound (encoded bytes,
	// pixel count, a side or the aspect ratio). Nothing of it reached the
	// C++ engine.
	ErrTooLarge = errors.New("facerec: input too large")

	// ErrUnsupportedFormat means the bytes are not a JPEG, PNG or WebP
	// image, or use a JPEG coding the decoder does not implement; the
	// message names the format ("unsupported format: HEIC, re-save as JPEG
	// or PNG").
	ErrUnsupportedFormat = errors.New("facerec: unsupported image format")

	// ErrCorruptImage means the bytes claim a supported format but do not
	// decode (truncated, corrupt, empty).
	ErrCorruptImage = errors.New("facerec: corrupt image")

	// ErrModel means a model file is missing, unreadable or does not match
	// its pinned SHA-256. The error is a *[ModelError] with the details.
	ErrModel = errors.New("facerec: model files do not match the pins")
)

// ModelError reports which model file failed its pin and how.
type ModelError struct {
	File     string // file name inside the model directory
	Expected string // pinned SHA-256, hex
	Got      string // SHA-256 found, hex; empty when the file could not be read
	Err      error  // read error, if any
}

func (e *ModelError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("facerec: model file %s (expected SHA-256 %s): %v", e.File, e.Expected, e.Err)
	}
	return fmt.Sprintf("facerec: model file %s has SHA-256 %s, expected %s", e.File, e.Got, e.Expected)
}

// Is makes errors.Is(err, ErrModel) true for every *ModelError.
func (e *ModelError) Is(target error) bool { return target == ErrModel }

// Unwrap returns the underlying read error, if any.
func (e *ModelError) Unwrap() error { return e.Err }
