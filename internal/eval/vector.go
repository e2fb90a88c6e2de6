package eval

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	_ "image/jpeg" // the dev sets and kiosk frames are JPEG or PNG
	_ "image/png"
	"math"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
)

// VectorDescriber is a [Describer] whose subjects are described by vectors
// other than dlib's descriptor, compared with their own distance: Run uses
// DescribeVector, Distance and Metric instead of Describe and the
// Euclidean distance. [EmbedDescriber] is the ArcFace-class embedding.
type VectorDescriber interface {
	Describer
	DescribeVector(ctx context.Context, image []byte) ([]float32, error)
	Distance(a, b []float32) float64
	Metric() string
}

// EmbedDescriber analyses with the dlib engine (detection, 68 landmarks,
// the face nearest the frame centre) and describes the subject with
// internal/embed's 512-D embedding, compared by cosine distance — the
// pipeline internal/calib calibrates. The image is decoded in Go (no EXIF
// orientation, as the calibration), at most 40 Mpixels.
type EmbedDescriber struct {
	E  *facerec.Engine
	Em *embed.Embedder
}

// Describe implements [Describer]; it is not used by Run (the embedding is
// no dlib descriptor) and always fails.
func (d EmbedDescriber) Describe(context.Context, []byte) (facerec.Descriptor, error) {
	return facerec.Descriptor{}, fmt.Errorf("eval: the embedding is not a dlib descriptor: use DescribeVector")
}

// ModelID implements [Describer]: the embedding's model ID.
func (d EmbedDescriber) ModelID() string { return embed.ModelID(d.E.ModelID()).String() }

// Metric implements [VectorDescriber].
func (d EmbedDescriber) Metric() string {
	return "cosine distance 1 − a·b of unit 512-D embeddings (match iff distance < threshold)"
}

// DescribeVector implements [VectorDescriber].
func (d EmbedDescriber) DescribeVector(ctx context.Context, b []byte) ([]float32, error) {
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

// Distance implements [VectorDescriber]: embed.CosineDistance.
func (d EmbedDescriber) Distance(a, b []float32) float64 {
	if len(a) != embed.Size || len(b) != embed.Size {
		return math.NaN()
	}
	return embed.CosineDistance((*embed.Embedding)(a), (*embed.Embedding)(b))
}

// describe runs the describer on one image.
func describe(ctx context.Context, d Describer, data []byte) outcome {
	if vd, ok := d.(VectorDescriber); ok {
		v, err := vd.DescribeVector(ctx, data)
		return outcome{vec: v, err: err}
	}
	desc, err := d.Describe(ctx, data)
	return outcome{desc: desc, err: err}
}

// distance compares two outcomes with the describer's metric.
func distance(d Describer, a, b outcome) float64 {
	if vd, ok := d.(VectorDescriber); ok {
		return vd.Distance(a.vec, b.vec)
	}
	return facerec.Euclidean(&a.desc, &b.desc)
}

// metric names the describer's comparison.
func metric(d Describer) string {
	if vd, ok := d.(VectorDescriber); ok {
		return vd.Metric()
	}
	return "euclidean (match iff distance < threshold)"
}

// vector is what the cache stores: the vector, or the descriptor.
func (o outcome) vector() []float32 {
	if o.vec != nil {
		return o.vec
	}
	return o.desc[:]
}

// decodeCached reads a cached vector: 128 components are a dlib
// descriptor, 512 an embedding (the cache path includes the model ID, so
// the two never meet).
func decodeCached(b []byte) (outcome, bool) {
	var o outcome
	switch len(b) {
	case 4 * facerec.DescriptorSize:
		for i := range o.desc {
			o.desc[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case 4 * embed.Size:
		o.vec = make([]float32, embed.Size)
		for i := range o.vec {
			o.vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	default:
		return outcome{}, false
	}
	return o, true
}
