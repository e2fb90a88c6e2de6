package facerec

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRecognizer "detects" every white square in a black frame whose side
// is at least minSide pixels (like HOG's ≈80 px floor), and derives the
// descriptor from the box it found. It checks that only one goroutine uses
// it at a time, as the pool promises.
type fakeRecognizer struct {
	minSide int
	busy    atomic.Bool
	closed  atomic.Int32
	calls   *atomic.Int64
	gate    chan struct{} // when non-nil, recognize waits on it
	entered chan struct{} // when non-nil, signalled on entry
}

func (f *fakeRecognizer) recognize(buf []byte) ([]rawFace, error) {
	if !f.busy.CompareAndSwap(false, true) {
		panic("recognizer used by two goroutines at once")
	}
	defer f.busy.Store(false)
	if f.closed.Load() > 0 {
		panic("recognizer used after close")
	}
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	f.calls.Add(1)
	img, err := jpeg.Decode(bytes.NewReader(buf))
	if err != nil {
		return nil, err
	}
	var faces []rawFace
	for _, r := range whiteSquares(img) {
		if r.Dx() < f.minSide {
			continue
		}
		var d Descriptor
		d[0] = float32(r.Dx())
		faces = append(faces, rawFace{Box: r, Landmarks: []image.Point{r.Min, r.Max}, Descriptor: d})
	}
	return faces, nil
}

func (f *fakeRecognizer) close() { f.closed.Add(1) }

// whiteSquares finds bright connected runs row by row (good enough for
// separated axis-aligned squares).
func whiteSquares(img image.Image) []image.Rectangle {
	b := img.Bounds()
	seen := make(map[image.Point]bool)
	var out []image.Rectangle
	bright := func(x, y int) bool {
		r, g, bb, _ := img.At(x, y).RGBA()
		return (r+g+bb)/3 > 0x8000
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if seen[image.Pt(x, y)] || !bright(x, y) {
				continue
			}
			x1 := x
			for x1 < b.Max.X && bright(x1, y) {
				x1++
			}
			y1 := y
			for y1 < b.Max.Y && bright(x, y1) {
				y1++
			}
			for yy := y; yy < y1; yy++ {
				for xx := x; xx < x1; xx++ {
					seen[image.Pt(xx, yy)] = true
				}
			}
			out = append(out, image.Rect(x, y, x1, y1))
		}
	}
	return out
}

func squaresFrame(w, h int, squares ...image.Rectangle) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	for _, s := range squares {
		draw.Draw(img, s, image.NewUniform(color.White), image.Point{}, draw.Src)
	}
	return img
}

func fakeEngine(t *testing.T, n, minSide int, lim Limits) (*Engine, []*fakeRecognizer) {
	t.Helper()
	var calls atomic.Int64
	var made []*fakeRecognizer
	var mu sync.Mutex
	e, err := newEngine(ModelID{1}, Options{PoolSize: n, Limits: lim}, func() (recognizer, error) {
		r := &fakeRecognizer{minSide: minSide, calls: &calls}
		mu.Lock()
		made = append(made, r)
		mu.Unlock()
		return r, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, made
}

func near(a, b image.Rectangle, tol int) bool {
	d := func(x, y int) bool { return x-y <= tol && y-x <= tol }
	return d(a.Min.X, b.Min.X) && d(a.Min.Y, b.Min.Y) && d(a.Max.X, b.Max.X) && d(a.Max.Y, b.Max.Y)
}

func TestUpscaleRetryMapsBack(t *testing.T) {
	// A 60 px "face" in a 150×150 frame: missed at 1× (floor 80), found at
	// 2×, reported in the caller's coordinates.
	e, _ := fakeEngine(t, 1, 80, Limits{})
	sq := image.Rect(40, 50, 100, 110)
	a, err := e.Analyze(context.Background(), Image(squaresFrame(150, 150, sq)))
	if err != nil {
		t.Fatal(err)
	}
	if a.DetectScale != 2 || len(a.Faces) != 1 || !near(a.Faces[0].Box, sq, 2) {
		t.Fatalf("scale %v faces %+v, want one face near %v at scale 2", a.DetectScale, a.Faces, sq)
	}
	// With the retry disabled the face is missed.
	e2, _ := fakeEngine(t, 1, 80, Limits{UpscaleBelow: -1})
	a, err = e2.Analyze(context.Background(), Image(squaresFrame(150, 150, sq)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Single(); !errors.Is(err, ErrNoFace) {
		t.Fatalf("without retry: %v, want ErrNoFace", err)
	}
}

func TestDownscaleMapsBack(t *testing.T) {
	// A 2000×1000 frame over a 500,000-pixel budget is halved for
	// detection; the box comes back in full-size coordinates, shifted by a
	// non-zero image origin.
	e, _ := fakeEngine(t, 1, 80, Limits{DetectPixels: 500_000})
	sq := image.Rect(1000, 200, 1400, 600)
	img := squaresFrame(2000, 1000, sq)
	sub := img.SubImage(image.Rect(0, 0, 2000, 1000)).(*image.RGBA)
	sub.Rect = sub.Rect.Add(image.Pt(7, 9))
	a, err := e.Analyze(context.Background(), Image(sub))
	if err != nil {
		t.Fatal(err)
	}
	if a.DetectScale != 0.5 || len(a.Faces) != 1 || !near(a.Faces[0].Box, sq.Add(image.Pt(7, 9)), 4) {
		t.Fatalf("scale %v faces %+v, want one face near %v", a.DetectScale, a.Faces, sq)
	}
	if a.Bounds != image.Rect(7, 9, 2007, 1009) {
		t.Fatalf("bounds %v", a.Bounds)
	}
}

func TestPoolRunsInParallelAndSerialisesEachRecognizer(t *testing.T) {
	e, made := fakeEngine(t, 2, 10, Limits{})
	for _, r := range made {
		r.gate = make(chan struct{})
		r.entered = make(chan struct{}, 8)
	}
	frame := Image(squaresFrame(200, 200, image.Rect(50, 50, 150, 150)))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := e.Analyze(context.Background(), frame); err != nil {
				t.Error(err)
			}
		})
	}
	// Both recognizers must be entered at once: two calls in parallel.
	for _, r := range made {
		select {
		case <-r.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("second call did not run in parallel")
		}
	}
	for _, r := range made {
		close(r.gate)
	}
	wg.Wait()
}

func TestCloseWaitsForCallsInFlight(t *testing.T) {
	e, made := fakeEngine(t, 1, 10, Limits{})
	r := made[0]
	r.gate = make(chan struct{})
	r.entered = make(chan struct{}, 1)
	frame := Image(squaresFrame(200, 200, image.Rect(50, 50, 150, 150)))
	res := make(chan error, 2)
	go func() { _, err := e.Analyze(context.Background(), frame); res <- err }()
	<-r.entered
	// A second caller waits for the only recognizer; Close releases it.
	go func() { _, err := e.Analyze(context.Background(), frame); res <- err }()
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	// Wait until Close has begun (under load a fixed sleep is not enough):
	// from then on the waiting call must be refused, whenever it started.
	for {
		e.mu.RLock()
		started := e.closed
		e.mu.RUnlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	default:
	}
	close(r.gate)
	<-closed
	errs := []error{<-res, <-res}
	if errs[0] != nil && errs[1] != nil {
		t.Fatalf("the call in flight failed: %v", errs)
	}
	if !errors.Is(errs[0], ErrClosed) && !errors.Is(errs[1], ErrClosed) {
		t.Fatalf("the waiting call was not refused: %v", errs)
	}
	if r.closed.Load() != 1 {
		t.Fatalf("recognizer closed %d times", r.closed.Load())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if r.closed.Load() != 1 {
		t.Fatal("second Close closed the recognizer again")
	}
	if _, err := e.Analyze(context.Background(), frame); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	e, made := fakeEngine(t, 1, 10, Limits{})
	frame := Image(squaresFrame(200, 200, image.Rect(50, 50, 150, 150)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Analyze(ctx, frame); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	// Waiting for a busy pool honours the deadline.
	r := made[0]
	r.gate = make(chan struct{})
	r.entered = make(chan struct{}, 1)
	go e.Analyze(context.Background(), frame)
	<-r.entered
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := e.Analyze(ctx, frame); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for the pool: %v", err)
	}
	close(r.gate)
}

func TestNewEngineFailureClosesLoaded(t *testing.T) {
	var calls atomic.Int64
	var made []*fakeRecognizer
	var mu sync.Mutex
	boom := errors.New("boom")
	var n atomic.Int32
	_, err := newEngine(ModelID{}, Options{PoolSize: 3}, func() (recognizer, error) {
		if n.Add(1) == 2 {
			return nil, boom
		}
		r := &fakeRecognizer{calls: &calls}
		mu.Lock()
		made = append(made, r)
		mu.Unlock()
		return r, nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	for _, r := range made {
		if r.closed.Load() != 1 {
			t.Fatal("a loaded recognizer leaked")
		}
	}
}
