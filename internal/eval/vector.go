package eval

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/oneface/oneface/internal/facerec"
)

// VectorDescriber is a [Describer] whose subjects are described by vectors
// other than dlib's descriptor, compared with their own distance: Run uses
// DescribeVector, Distance and Metric instead of Describe and the
// Euclidean distance (`oneface eval -model arcface` uses one for the
// ArcFace-class embedding).
type VectorDescriber interface {
	Describer
	DescribeVector(ctx context.Context, image []byte) ([]float32, error)
	Distance(a, b []float32) float64
	Metric() string
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

// embeddingSize is the length of internal/embed's vectors (this package
// does not import embed, whose measurement tests import this package).
const embeddingSize = 512

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
	case 4 * embeddingSize:
		o.vec = make([]float32, embeddingSize)
		for i := range o.vec {
			o.vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	default:
		return outcome{}, false
	}
	return o, true
}
