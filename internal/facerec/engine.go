package facerec

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"sync"
)

// DescriptorSize is the number of components of a face descriptor.
const DescriptorSize = 128

// Descriptor is the 128-D face embedding of dlib's ResNet. Descriptors are
// only comparable when made under the same [ModelID].
type Descriptor [DescriptorSize]float32

// Face is one detected face, in the coordinates of the caller's upright
// image (after EXIF orientation).
type Face struct {
	Box        image.Rectangle // detector box; may reach past the frame edge
	Landmarks  []image.Point   // 68 points with the 68-point predictor (5 with the 5-point one)
	Descriptor Descriptor
	Quality    Quality // capture-quality measures of the face box
}

// Analysis is the result of analysing one frame.
type Analysis struct {
	// Bounds of the upright frame, in the caller's coordinates.
	Bounds image.Rectangle
	// Faces, largest box first (ties: nearest the centre first).
	Faces []Face
	// DetectScale is the size of the frame the detector saw relative to
	// Bounds: 1 as given, <1 downscaled, 2 after the small-face retry.
	DetectScale float64
}

// Options configure [Open]. The zero value selects defaults.
type Options struct {
	// PoolSize is the number of recognizers (each holds its own copy of
	// the models, ≈110 MB with the 68-point predictor). go-face serialises
	// inference inside one recognizer, so the pool is what runs calls in
	// parallel. Default min(GOMAXPROCS, 2).
	PoolSize int
	// BLASThreads sets OpenBLAS's thread count, which is process-wide.
	// 0 selects max(1, GOMAXPROCS/PoolSize) so BLAS threads and the pool
	// do not oversubscribe the CPUs; negative leaves BLAS alone. Without
	// OpenBLAS this has no effect.
	BLASThreads int
	// Limits on inputs.
	Limits Limits
	// Logger receives debug and info records (default: discard).
	Logger *slog.Logger
}

// rawFace is what a backend recognizer returns, in the coordinates of the
// JPEG it was given.
type rawFace struct {
	Box        image.Rectangle
	Landmarks  []image.Point
	Descriptor Descriptor
}

// recognizer is one backend instance (a go-face Recognizer, or a fake in
// tests). It is used by one goroutine at a time.
type recognizer interface {
	recognize(jpeg []byte) ([]rawFace, error)
	close()
}

// Engine analyses frames with a pool of recognizers. All methods are safe
// for concurrent use.
type Engine struct {
	modelID ModelID
	limits  Limits
	log     *slog.Logger
	pool    chan recognizer
	all     []recognizer

	mu       sync.RWMutex // guards closed; held shared while a call starts
	closed   bool
	done     chan struct{} // closed by Close: waiters for a recognizer leave
	inflight sync.WaitGroup
}

func (o Options) poolSize() int {
	if o.PoolSize > 0 {
		return o.PoolSize
	}
	return min(runtime.GOMAXPROCS(0), 2)
}

// newEngine builds an engine over n recognizers made by mk.
func newEngine(id ModelID, o Options, mk func() (recognizer, error)) (*Engine, error) {
	n := o.poolSize()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		modelID: id,
		limits:  o.Limits.withDefaults(),
		log:     log,
		pool:    make(chan recognizer, n),
		done:    make(chan struct{}),
	}
	// Load the recognizers concurrently: each reads ≈120 MB of models.
	recs := make([]recognizer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { recs[i], errs[i] = mk() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, r := range recs {
			if r != nil {
				r.close()
			}
		}
		return nil, err
	}
	for _, r := range recs {
		e.all = append(e.all, r)
		e.pool <- r
	}
	return e, nil
}

// ModelID identifies the models and extractor settings: descriptors from
// engines with different IDs must never be compared.
func (e *Engine) ModelID() ModelID { return e.modelID }

// PoolSize is the number of recognizers.
func (e *Engine) PoolSize() int { return len(e.all) }

// Close releases the recognizers. It waits for calls in flight, is safe to
// call several times, and makes later calls return [ErrClosed].
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	e.mu.Unlock()
	e.inflight.Wait()
	for _, r := range e.all {
		r.close()
	}
	return nil
}

// begin registers a call in flight, or reports ErrClosed.
func (e *Engine) begin() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	e.inflight.Add(1)
	return nil
}

// Analyze decodes the input within the limits, detects every face and
// computes its landmarks and descriptor. A frame without faces is not an
// error here: use [Analysis.Single] when exactly one face is required.
//
// The C++ work of one call cannot be interrupted; ctx is checked before
// decoding, while waiting for a recognizer and between detection passes.
func (e *Engine) Analyze(ctx context.Context, in Input) (*Analysis, error) {
	if err := e.begin(); err != nil {
		return nil, err
	}
	defer e.inflight.Done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := in.decode(e.limits)
	if err != nil {
		return nil, err
	}
	if f.owned {
		defer wipeImage(f.img)
	}
	b := f.img.Bounds()
	pixels := float64(b.Dx()) * float64(b.Dy())

	// Detection frame: downscale to the pixel budget if needed.
	det, scale := f.img, 1.0
	if pixels > float64(e.limits.DetectPixels) {
		scale = math.Sqrt(float64(e.limits.DetectPixels) / pixels)
		small := scaleTo(f.img, scale)
		defer wipeImage(small)
		det = small
	}

	r, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { e.pool <- r }()

	faces, err := runOnce(r, det)
	if err != nil {
		return nil, err
	}
	if e.needsUpscale(faces) && 4*float64(det.Bounds().Dx())*float64(det.Bounds().Dy()) <= float64(e.limits.DetectPixels) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		big := scaleTo(det, 2)
		defer wipeImage(big)
		more, err := runOnce(r, big)
		if err != nil {
			return nil, err
		}
		if len(more) > 0 {
			e.log.Debug("facerec: small-face retry", "before", len(faces), "after", len(more))
			faces, scale = more, scale*2
		}
	}

	a := &Analysis{Bounds: b.Add(f.origin), DetectScale: scale}
	for _, rf := range faces {
		for _, v := range rf.Descriptor {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, errors.New("facerec: engine returned a non-finite descriptor")
			}
		}
		fc := Face{
			Box:        mapRect(rf.Box, scale, f.origin),
			Descriptor: rf.Descriptor,
			Landmarks:  make([]image.Point, len(rf.Landmarks)),
		}
		for i, p := range rf.Landmarks {
			fc.Landmarks[i] = mapPoint(p, scale, f.origin)
		}
		// Quality is measured on the upright frame, in its own coordinates.
		fc.Quality = measureQuality(f.img, fc.Box.Sub(f.origin), subAll(fc.Landmarks, f.origin))
		a.Faces = append(a.Faces, fc)
	}
	sortFaces(a.Faces, a.Bounds)
	return a, nil
}

func (e *Engine) acquire(ctx context.Context) (recognizer, error) {
	select {
	case r := <-e.pool:
		return r, nil
	default:
	}
	select {
	case r := <-e.pool:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.done:
		return nil, ErrClosed
	}
}

func (e *Engine) needsUpscale(faces []rawFace) bool {
	if e.limits.UpscaleBelow < 0 {
		return false
	}
	for _, f := range faces {
		if f.Box.Dx() >= e.limits.UpscaleBelow {
			return false
		}
	}
	return true
}

// runOnce encodes img once and runs the recognizer on it.
func runOnce(r recognizer, img image.Image) ([]rawFace, error) {
	buf, err := encodeJPEG(img)
	if err != nil {
		return nil, err
	}
	defer clear(buf)
	faces, err := r.recognize(buf)
	if err != nil {
		return nil, fmt.Errorf("facerec: engine: %w", err)
	}
	return faces, nil
}

func mapPoint(p image.Point, s float64, origin image.Point) image.Point {
	return image.Pt(int(math.Round(float64(p.X)/s)), int(math.Round(float64(p.Y)/s))).Add(origin)
}

func mapRect(r image.Rectangle, s float64, origin image.Point) image.Rectangle {
	return image.Rectangle{Min: mapPoint(r.Min, s, origin), Max: mapPoint(r.Max, s, origin)}
}

func subAll(ps []image.Point, o image.Point) []image.Point {
	out := make([]image.Point, len(ps))
	for i, p := range ps {
		out[i] = p.Sub(o)
	}
	return out
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

// centreDist2 is the squared distance between the centres of r and frame.
func centreDist2(r, frame image.Rectangle) int {
	cx := (r.Min.X + r.Max.X) - (frame.Min.X + frame.Max.X)
	cy := (r.Min.Y + r.Max.Y) - (frame.Min.Y + frame.Max.Y)
	return cx*cx + cy*cy
}

func sortFaces(fs []Face, frame image.Rectangle) {
	sort.SliceStable(fs, func(i, j int) bool {
		ai, aj := area(fs[i].Box), area(fs[j].Box)
		if ai != aj {
			return ai > aj
		}
		return centreDist2(fs[i].Box, frame) < centreDist2(fs[j].Box, frame)
	})
}
