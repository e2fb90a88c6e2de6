package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // the dev sets and kiosk frames are JPEG or PNG
	_ "image/png"
	"math"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
)

// evalDescriber picks the describer of `oneface eval -model`: dlib's
// descriptor, or the ArcFace-class embedding on top of the same engine.
// The embedder it opens lives as long as the process.
func evalDescriber(model, dir string, e *facerec.Engine) (eval.Describer, error) {
	switch model {
	case "dlib":
		return eval.EngineDescriber{E: e}, nil
	case "arcface":
		em, err := embed.Open(dir, embed.Options{})
		if err != nil {
			return nil, engineError(dir, err)
		}
		return embedDescriber{E: e, Em: em}, nil
	}
	return nil, usageError{"unknown -model " + model + " (dlib, arcface)"}
}

// embedDescriber analyses with the dlib engine (detection, 68 landmarks,
// the face nearest the frame centre) and describes the subject with
// internal/embed's 512-D embedding, compared by cosine distance — the
// pipeline internal/calib calibrates. The image is decoded in Go (no EXIF
// orientation, as the calibration), at most 40 Mpixels.
type embedDescriber struct {
	E  *facerec.Engine
	Em *embed.Embedder
}

// Describe implements [eval.Describer]; it is not used by Run (the embedding is
// no dlib descriptor) and always fails.
func (d embedDescriber) Describe(context.Context, []byte) (facerec.Descriptor, error) {
	return facerec.Descriptor{}, fmt.Errorf("eval: the embedding is not a dlib descriptor: use DescribeVector")
}

// ModelID implements [eval.Describer]: the embedding's model ID.
func (d embedDescriber) ModelID() string { return embed.ModelID(d.E.ModelID()).String() }

// Metric implements [eval.VectorDescriber].
func (d embedDescriber) Metric() string {
	return "cosine distance 1 − a·b of unit 512-D embeddings (match iff distance < threshold)"
}

// DescribeVector implements [eval.VectorDescriber].
func (d embedDescriber) DescribeVector(ctx context.Context, b []byte) ([]float32, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", facerec.ErrCorruptImage, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > 40<<20 {
		return nil, fmt.Errorf("%w: %d×%d pixels", facerec.ErrTooLarge, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", facerec.ErrCorruptImage, err)
	}
	a, err := d.E.Analyze(ctx, facerec.Image(img))
	if err != nil {
		return nil, err
	}
	f, err := a.Central()
	if err != nil {
		return nil, err
	}
	e, err := d.Em.Embed(ctx, img, f.Landmarks)
	if err != nil {
		return nil, err
	}
	return e[:], nil
}

// Distance implements [eval.VectorDescriber]: embed.CosineDistance.
func (d embedDescriber) Distance(a, b []float32) float64 {
	if len(a) != embed.Size || len(b) != embed.Size {
		return math.NaN()
	}
	return embed.CosineDistance((*embed.Embedding)(a), (*embed.Embedding)(b))
}
