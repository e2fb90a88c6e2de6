package embed

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/oneface/oneface/internal/onnx"
)

// Size is the number of components of an embedding.
const Size = 512

// Embedding is the network's 512-D output scaled to unit Euclidean length.
// Embeddings are only comparable under the same model ID ([ModelID]).
type Embedding [Size]float32

// Options configure [Open]. The zero value selects defaults.
type Options struct {
	// PoolSize is the number of network instances (each ≈5 MB of weights
	// and runs on one thread: see internal/onnx). Default
	// min(GOMAXPROCS, 2).
	PoolSize int
}

// Embedder aligns faces and embeds them with a pool of networks. All
// methods are safe for concurrent use.
type Embedder struct {
	pool chan *onnx.Net
	all  []*onnx.Net

	mu       sync.RWMutex // guards closed; held shared while a call starts
	closed   bool
	done     chan struct{}
	inflight sync.WaitGroup
}

// Open loads [ModelFile] from dir, checked against its pinned SHA-256
// ([ModelSHA256]), into a pool of networks. Without cgo it fails with
// onnx.ErrUnavailable; a missing or different file gives onnx.ErrModel.
func Open(dir string, o Options) (*Embedder, error) {
	n := o.PoolSize
	if n <= 0 {
		n = min(runtime.GOMAXPROCS(0), 2)
	}
	e := &Embedder{pool: make(chan *onnx.Net, n), done: make(chan struct{})}
	for range n {
		net, err := onnx.Load(filepath.Join(dir, ModelFile), modelSHA256)
		if err != nil {
			for _, m := range e.all {
				m.Close()
			}
			return nil, fmt.Errorf("embed: %w", err)
		}
		e.all = append(e.all, net)
		e.pool <- net
	}
	return e, nil
}

// Close releases the networks. It waits for calls in flight; later calls
// return [ErrClosed]. It is idempotent.
func (e *Embedder) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	e.mu.Unlock()
	e.inflight.Wait()
	for _, n := range e.all {
		n.Close()
	}
	return nil
}

// Embed aligns the face whose 68 dlib landmarks are given ([Align]) and
// embeds it ([Embedder.EmbedAligned]). The landmarks must be in img's
// coordinates: pass internal/facerec the same image (facerec.Image(img)),
// or an image already turned upright from its EXIF orientation, since
// facerec's landmarks refer to the upright frame.
func (e *Embedder) Embed(ctx context.Context, img image.Image, landmarks []image.Point) (Embedding, error) {
	crop, err := Align(img, landmarks)
	if err != nil {
		return Embedding{}, err
	}
	defer wipe(crop)
	return e.EmbedAligned(ctx, crop)
}

// EmbedAligned embeds a 112×112 crop aligned to the [Template] (from
// [Align]): the network's output, L2-normalised. The crop must have bounds
// (0,0)–(112,112).
//
// Input convention (the publisher's lib/fr_feature.js, preprocessFeature):
// channels R, G, B in that order (its canvas reader yields RGBA and it
// takes channels 0, 1, 2), each value (v − 127)/128, laid out N×C×H×W as
// 1×3×112×112 float32. Output: 1×512 float32, not normalised by the
// network; this function scales it to unit length (float64 accumulation)
// and refuses a zero or non-finite vector with [ErrOutput].
func (e *Embedder) EmbedAligned(ctx context.Context, crop *image.RGBA) (Embedding, error) {
	raw, err := e.raw(ctx, crop)
	if err != nil {
		return Embedding{}, err
	}
	return normalise(raw)
}

// raw runs the network on a crop and returns its unnormalised output.
func (e *Embedder) raw(ctx context.Context, crop *image.RGBA) ([]float32, error) {
	if crop == nil || crop.Bounds() != image.Rect(0, 0, CropSize, CropSize) {
		return nil, fmt.Errorf("embed: crop must be %d×%d at the origin", CropSize, CropSize)
	}
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return nil, ErrClosed
	}
	e.inflight.Add(1)
	e.mu.RUnlock()
	defer e.inflight.Done()

	var net *onnx.Net
	select {
	case net = <-e.pool:
	case <-e.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { e.pool <- net }()

	in := Tensor(crop)
	defer clear(in)
	out, shape, err := net.RunShape(ctx, in, []int{1, 3, CropSize, CropSize})
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	if len(shape) != 2 || shape[0] != 1 || shape[1] != Size || len(out) != Size {
		return nil, fmt.Errorf("%w: shape %v", ErrOutput, shape)
	}
	return out, nil
}

// Tensor converts a 112×112 crop to the network's input: 1×3×112×112
// float32, planes R, G, B, each value (v − 127)/128.
func Tensor(crop *image.RGBA) []float32 {
	const plane = CropSize * CropSize
	t := make([]float32, 3*plane)
	for y := 0; y < CropSize; y++ {
		for x := 0; x < CropSize; x++ {
			i := crop.PixOffset(x, y)
			k := y*CropSize + x
			for c := 0; c < 3; c++ {
				t[c*plane+k] = (float32(crop.Pix[i+c]) - 127) / 128
			}
		}
	}
	return t
}

func normalise(raw []float32) (Embedding, error) {
	var e Embedding
	var ss float64
	for _, v := range raw {
		ss += float64(v) * float64(v)
	}
	if !(ss > 0) || math.IsInf(ss, 0) {
		return e, fmt.Errorf("%w: norm %g", ErrOutput, math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	for i, v := range raw {
		e[i] = float32(float64(v) * inv)
	}
	return e, nil
}

// CosineDistance returns 1 − a·b for two embeddings, in [0, 2] (0 for the
// same direction), accumulated in float64. Inputs are assumed unit length,
// as [Embedder] returns them; it does not renormalise. Thresholds on this
// distance are security settings and come from calibration.
func CosineDistance(a, b *Embedding) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return 1 - dot
}

// Mean returns the unit-length mean direction of several embeddings (for
// enrolment from several photos), or false for none or a zero mean.
func Mean(es []Embedding) (Embedding, bool) {
	if len(es) == 0 {
		return Embedding{}, false
	}
	sum := make([]float32, Size)
	acc := make([]float64, Size)
	for _, e := range es {
		for i, v := range e {
			acc[i] += float64(v)
		}
	}
	for i := range acc {
		sum[i] = float32(acc[i])
	}
	m, err := normalise(sum)
	return m, err == nil
}

func wipe(img *image.RGBA) { clear(img.Pix) }
