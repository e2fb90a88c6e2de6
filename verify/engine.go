package verify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/onnx"
)

// Engine errors, for errors.Is. They are the face engine's own sentinels;
// the embedding network's failures are wrapped under the same ones.
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

// Engine is the face engine: dlib through go-face (detector, 68 landmarks,
// its 128-D descriptor) and, unless only [ModelDlib] was asked for, the
// ArcFace-class 512-D embedding (internal/embed) on the same landmarks.
// It is safe for concurrent use. Open one per process and share it
// between the issuer or verifier code that needs it.
type Engine struct {
	e     *facerec.Engine
	em    *embed.Embedder // nil for a dlib-only engine
	model Model           // the model enrolment uses
	pad   *pad.Detector   // nil unless EngineOptions.PAD; see liveness.go
}

// EngineOptions configure [OpenEngine]; the zero value is a good default.
type EngineOptions struct {
	// PoolSize is the number of recognizers (and embedding networks)
	// running in parallel (default min(GOMAXPROCS, 2); each recognizer
	// holds about 110 MB of models, each network about 5 MB).
	PoolSize int
	// Model is the model the engine enrols with and [Engine.ModelID]
	// names [ModelArcFace]. ModelArcFace loads both models (dlib's is
	// needed for detection and landmarks anyway), so a verifier on this
	// engine can compare with either; ModelDlib loads dlib alone and does
	// not need the embedding network's file (see README, "Models").
	Model Model
	// Logger for engine events (default: discard).
	Logger *slog.Logger
	// PAD also loads the passive presentation-attack detection network
	// from modelDir's antispoof/ subfolder (pad.Shipped's configuration,
	// MiniFASNetV1SE, pinned by SHA-256; about 2 MB), as LivenessPassive
	// and LivenessBoth require. Without cgo: [ErrEngineUnavailable].
	PAD bool
}

// OpenEngine checks the model files in modelDir against their pinned
// SHA-256 (errors.Is(err, [ErrModelFiles]) when they differ or are
// missing) and loads the engine. Built without cgo, it returns
// [ErrEngineUnavailable]. An unknown EngineOptions.Model is an error.
func OpenEngine(modelDir string, o EngineOptions) (*Engine, error) {
	m := o.Model
	if m == "" {
		m = ModelArcFace
	}
	if m != ModelArcFace && m != ModelDlib {
		return nil, fmt.Errorf("verify: unknown model %q (%s or %s)", o.Model, ModelArcFace, ModelDlib)
	}
	e, err := facerec.Open(modelDir, facerec.Options{PoolSize: o.PoolSize, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	eng := &Engine{e: e, model: m}
	if m == ModelArcFace {
		if eng.em, err = embed.Open(modelDir, embed.Options{PoolSize: o.PoolSize}); err != nil {
			e.Close()
			switch {
			case errors.Is(err, onnx.ErrUnavailable):
				return nil, fmt.Errorf("%w: %w", ErrEngineUnavailable, err)
			case errors.Is(err, onnx.ErrModel):
				return nil, fmt.Errorf("%w: %w", ErrModelFiles, err)
			}
			return nil, err
		}
	}
	if o.PAD {
		if err := eng.openPAD(modelDir); err != nil {
			eng.Close()
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

// ModelID of the model the engine enrols with ([EngineOptions].Model).
func (e *Engine) ModelID() ModelID {
	id, _ := e.ModelIDFor(e.model)
	return id
}

// Model is the model the engine enrols with ([EngineOptions].Model).
func (e *Engine) Model() Model { return e.model }

// ModelIDFor returns the model ID of m on this engine, or false when the
// engine does not run m (ModelArcFace on a dlib-only engine, or an
// unknown model). The ArcFace-class ID covers dlib's detector and
// landmarks too (embed.ModelID).
func (e *Engine) ModelIDFor(m Model) (ModelID, bool) {
	switch {
	case m == ModelDlib:
		return ModelID(e.e.ModelID()), true
	case m == ModelArcFace && e.em != nil:
		return ModelID(embed.ModelID(e.e.ModelID())), true
	}
	return ModelID{}, false
}

// Close releases the engine; it waits for calls in flight and is safe to
// call more than once.
func (e *Engine) Close() error {
	err := e.e.Close()
	if e.em != nil {
		err = errors.Join(err, e.em.Close())
	}
	if e.pad != nil {
		e.pad.Close()
	}
	return err
}
