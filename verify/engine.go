package verify

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/liveness/pad"
)

// Engine errors, for errors.Is. They are the face engine's own sentinels.
var (
	// ErrEngineUnavailable: the binary was built without cgo.
	ErrEngineUnavailable = facerec.ErrUnavailable
	// ErrEngineClosed: the engine was closed.
	ErrEngineClosed = facerec.ErrClosed
	// ErrModelFiles: the model files do not match their pins.
	ErrModelFiles = facerec.ErrModel
)

// ModelID identifies the face model and extractor settings; references are
// only compared with live captures made under the same ID.
type ModelID [16]byte

// String returns the ID in hex.
func (m ModelID) String() string { return hex.EncodeToString(m[:]) }

// ParseModelID parses the hex form of a model ID.
func ParseModelID(s string) (ModelID, error) {
	id, err := facerec.ParseModelID(s)
	if err != nil {
		return ModelID{}, fmt.Errorf("verify: %w", err)
	}
	return ModelID(id), nil
}

// Engine is the face engine (dlib through go-face): a pool of recognizers
// over pinned model files. It is safe for concurrent use. Open one per
// process and share it between the issuer or verifier code that needs it.
type Engine struct {
	e   *facerec.Engine
	pad *pad.Detector // nil unless EngineOptions.PAD; see liveness.go
}

// EngineOptions configure [OpenEngine]; the zero value is a good default.
type EngineOptions struct {
	// PoolSize is the number of recognizers running in parallel (default
	// min(GOMAXPROCS, 2); each holds about 110 MB of models).
	PoolSize int
	// Logger for engine events (default: discard).
	Logger *slog.Logger
	// PAD also loads the passive presentation-attack detection network
	// from modelDir's antispoof/ subfolder (pad.Shipped's configuration,
	// MiniFASNetV1SE, pinned by SHA-256; about 2 MB), as LivenessPassive
	// and LivenessBoth require. Without cgo: [ErrEngineUnavailable].
	PAD bool
}

// OpenEngine checks the model files in modelDir against their pinned
// SHA-256 (errors.Is(err, [ErrModelFiles]) when they differ) and loads the
// engine. Built without cgo, it returns [ErrEngineUnavailable].
func OpenEngine(modelDir string, o EngineOptions) (*Engine, error) {
	e, err := facerec.Open(modelDir, facerec.Options{PoolSize: o.PoolSize, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	eng := &Engine{e: e}
	if o.PAD {
		if err := eng.openPAD(modelDir); err != nil {
			e.Close()
			return nil, err
		}
	}
	return eng, nil
}

// analyzeFrame runs the engine on a frame's pixels or bytes.
func (e *Engine) analyzeFrame(ctx context.Context, f Frame) (*facerec.Analysis, error) {
	if f.Image != nil {
		return e.e.Analyze(ctx, facerec.Image(f.Image))
	}
	return e.e.Analyze(ctx, facerec.Bytes(f.Encoded))
}

// ModelID of the loaded models.
func (e *Engine) ModelID() ModelID { return ModelID(e.e.ModelID()) }

// Close releases the engine; it waits for calls in flight and is safe to
// call more than once.
func (e *Engine) Close() error {
	if e.pad != nil {
		e.pad.Close()
	}
	return e.e.Close()
}
