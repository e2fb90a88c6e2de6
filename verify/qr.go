package verify

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
	xdraw "golang.org/x/image/draw"

	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/ref"
)

// Errors of [ReadQR], apart from [ErrTooLarge] and the context's.
var (
	// ErrNoQR: no QR code could be read in the image.
	ErrNoQR = errors.New("verify: no QR code found")
	// ErrNotReference: a QR code was read, but it does not hold a oneface
	// reference (a URL, a Wi-Fi code, another product's card).
	ErrNotReference = errors.New("verify: a QR code was found but is not a oneface reference")
	// ErrQRBudget: the search ran out of its work or time budget before
	// reading a code — typically an image full of finder-like patterns.
	// Treat it as an unreadable card: refuse and record the attempt.
	ErrQRBudget = errors.New("verify: QR search budget exhausted")
)

// The budget of one [ReadQR] call. ZXing's detector confirms every
// 1:1:3:1:1 finder-like pattern it meets and then tries every triple of
// them, so its cost grows with the cube of the number of candidates: a
// 2.3 kB image tiled with 2,800 of them took 51 s of CPU. A card has 3
// finder patterns, and a cluttered camera frame adds a few more; the
// bounds leave that room many times over and cap the worst case at a few
// hundred milliseconds of CPU.
const (
	// qrScanPixels: a frame with more pixels is scaled down to this size
	// before the search (a 1080p frame is 2.1 M; a card's 6 px modules in
	// a 12 MP photo stay over 3 px).
	qrScanPixels = 4_000_000
	// qrMaxCandidates: finder-pattern candidates in one attempt; the triple
	// search then costs at most 100³/6 ≈ 170,000 steps.
	qrMaxCandidates = 100
	// qrMaxPixelsSearched: pixels binarised and scanned, summed over all
	// attempts (views × binarisers × polarities).
	qrMaxPixelsSearched = 16 * qrScanPixels
	// qrDeadline bounds the wall time of one call, on top of the caller's
	// context.
	qrDeadline = 5 * time.Second
)

// QRCode renders a reference as a PNG QR code, each module modulePixels
// wide (whole pixels keep the code sharp; 6 suits print), with error
// correction level M so a worn card still reads. The code carries the
// binary container in byte mode: the text form's base64 would need a
// larger, denser code (version 22 instead of 19 for one verifier), which
// cameras read less reliably.
func QRCode(sealed []byte, modulePixels int) ([]byte, error) {
	if len(sealed) > ref.MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(sealed))
	}
	if modulePixels < 1 || modulePixels > 64 {
		return nil, fmt.Errorf("verify: QR module size %d px (1..64)", modulePixels)
	}
	return qrcode.Encode(string(sealed), qrcode.Medium, -modulePixels)
}

// ReadQR finds a reference QR code in an image, such as a kiosk camera
// frame showing a card, and returns the binary reference (still sealed:
// pass it to [Opener.Open]).
//
// ZXing's detector is built for cameras that retry on the next frame: a
// single frame can fail on a slightly misjudged module size. ReadQR tries
// a bounded set of views — the frame scaled to at most 4 M pixels, then at
// 75, 50, 60 and 90 %, each with ZXing's two binarisers, in normal and in
// inverted luminance (light modules on a dark ground: a phone in dark
// mode, a card printed light on dark), then as a bare code — and keeps the
// first that decodes. A misread cannot do harm: Open authenticates what it
// gets.
//
// The search has a budget: at most 100 finder-pattern candidates per
// attempt, 64 M pixels searched in all, and 5 s, within ctx. ctx is
// honoured between attempts and at every candidate. Errors: [ErrTooLarge]
// for a frame over [imageio.Limits] (40 M pixels, 16,384 px a side, 8:1),
// [ErrNoQR], [ErrNotReference], [ErrQRBudget] when the budget runs out,
// or ctx's error when the caller cancelled.
func ReadQR(ctx context.Context, img image.Image) ([]byte, error) {
	return readQR(ctx, img, &qrStats{})
}

// qrStats counts the work of one call: the deterministic measure tests
// assert on.
type qrStats struct {
	attempts   int // decoder runs
	candidates int // finder-pattern candidates, over all attempts
	pixels     int // pixels binarised and scanned, over all attempts

	onCandidate func() // test hook, called at every candidate
}

// errTooManyCandidates ends one attempt; readQR reports it as ErrQRBudget
// if no other attempt reads a code.
var errTooManyCandidates = fmt.Errorf("over %d finder-pattern candidates in one view", qrMaxCandidates)

// qrAbort is the panic value with which the candidate callback stops
// ZXing's search; readQR recovers it and nothing else.
type qrAbort struct{ err error }

func readQR(ctx context.Context, img image.Image, st *qrStats) ([]byte, error) {
	b := img.Bounds()
	if err := (imageio.Limits{}).Check(b.Dx(), b.Dy()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, qrDeadline)
	defer cancel()

	// The base view: the frame, in gray, scaled down to the scan budget.
	base := image.Image(img)
	if px := b.Dx() * b.Dy(); px > qrScanPixels {
		s := math.Sqrt(float64(qrScanPixels) / float64(px))
		g := image.NewGray(image.Rect(0, 0, max(1, int(float64(b.Dx())*s)), max(1, int(float64(b.Dy())*s))))
		xdraw.ApproxBiLinear.Scale(g, g.Bounds(), img, b, xdraw.Src, nil)
		base = g
	}
	bb := base.Bounds()
	budgetHit := ""
	var firstErr error
	try := func(src gozxing.LuminanceSource, bin func(gozxing.LuminanceSource) gozxing.Binarizer, pure bool) ([]byte, error, bool) {
		if err := ctx.Err(); err != nil {
			return nil, err, true
		}
		px := src.GetWidth() * src.GetHeight()
		if st.pixels+px > qrMaxPixelsSearched {
			budgetHit = fmt.Sprintf("%d pixels searched (limit %d)", st.pixels, qrMaxPixelsSearched)
			return nil, nil, true
		}
		st.pixels += px
		st.attempts++
		bmp, err := gozxing.NewBinaryBitmap(bin(src))
		if err != nil {
			return nil, nil, false
		}
		res, err := st.decode(ctx, bmp, pure)
		var abort qrAbort
		switch {
		case errors.As(err, &abort) && abort.err == errTooManyCandidates:
			budgetHit = abort.err.Error()
			return nil, nil, false // this view is hopeless; others may read
		case errors.As(err, &abort):
			return nil, abort.err, true
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
			return nil, nil, false
		}
		out, err := qrBytes(res)
		return out, err, true
	}
	hybrid := func(s gozxing.LuminanceSource) gozxing.Binarizer { return gozxing.NewHybridBinarizer(s) }
	global := func(s gozxing.LuminanceSource) gozxing.Binarizer { return gozxing.NewGlobalHistgramBinarizer(s) }

	finish := func(out []byte, err error) ([]byte, error) {
		if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
			return nil, fmt.Errorf("%w: no code read within %v", ErrQRBudget, qrDeadline)
		}
		return out, err
	}
	// Smaller views help a code filling the frame; the last, doubled view
	// helps a small code far from the camera (modules of 2–3 pixels).
	for _, scale := range []float64{1, 0.75, 0.5, 0.6, 0.9, 2} {
		view := base
		if scale != 1 {
			w, h := int(float64(bb.Dx())*scale), int(float64(bb.Dy())*scale)
			if w < 21 || h < 21 || w*h > qrScanPixels {
				continue
			}
			small := image.NewGray(image.Rect(0, 0, w, h))
			xdraw.ApproxBiLinear.Scale(small, small.Bounds(), base, bb, xdraw.Src, nil)
			view = small
		}
		src := gozxing.NewLuminanceSourceFromImage(view)
		inv := src.Invert()
		for _, a := range []struct {
			src gozxing.LuminanceSource
			bin func(gozxing.LuminanceSource) gozxing.Binarizer
		}{{src, hybrid}, {inv, hybrid}, {src, global}, {inv, global}} {
			if out, err, done := try(a.src, a.bin, false); done {
				if out == nil && err == nil {
					return nil, fmt.Errorf("%w: %s", ErrQRBudget, budgetHit)
				}
				return finish(out, err)
			}
		}
	}
	src := gozxing.NewLuminanceSourceFromImage(base)
	for _, s := range []gozxing.LuminanceSource{src, src.Invert()} {
		if out, err, done := try(s, hybrid, true); done {
			if out == nil && err == nil {
				return nil, fmt.Errorf("%w: %s", ErrQRBudget, budgetHit)
			}
			return finish(out, err)
		}
	}
	if budgetHit != "" {
		return nil, fmt.Errorf("%w: %s", ErrQRBudget, budgetHit)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoQR, firstErr)
	}
	return nil, ErrNoQR
}

// decode runs ZXing's QR reader on bmp with a callback on every new
// finder-pattern candidate, which stops the search (by a qrAbort panic,
// recovered here and returned as the error) when ctx ends or the attempt
// has more than qrMaxCandidates candidates. Any other panic is re-raised.
func (st *qrStats) decode(ctx context.Context, bmp *gozxing.BinaryBitmap, pure bool) (res *gozxing.Result, err error) {
	n := 0
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_NEED_RESULT_POINT_CALLBACK: gozxing.ResultPointCallback(func(gozxing.ResultPoint) {
			n++
			st.candidates++
			if st.onCandidate != nil {
				st.onCandidate()
			}
			if n > qrMaxCandidates {
				panic(qrAbort{errTooManyCandidates})
			}
			if err := ctx.Err(); err != nil {
				panic(qrAbort{err})
			}
		}),
	}
	if pure {
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
	} else {
		hints[gozxing.DecodeHintType_TRY_HARDER] = true
	}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(qrAbort)
			if !ok {
				panic(r)
			}
			res, err = nil, a
		}
	}()
	return zxqr.NewQRCodeReader().Decode(bmp, hints)
}

func (a qrAbort) Error() string { return a.err.Error() }

// qrBytes returns the reference a decoded code holds: byte-mode segments
// as they are (the binary form), else the text (the text form). Anything
// that is not a oneface reference is [ErrNotReference].
func qrBytes(res *gozxing.Result) ([]byte, error) {
	var b []byte
	if segs, ok := res.GetResultMetadata()[gozxing.ResultMetadataType_BYTE_SEGMENTS].([][]byte); ok && len(segs) > 0 {
		for _, s := range segs {
			if len(b)+len(s) > ref.MaxSealed {
				return nil, fmt.Errorf("%w: QR code holds more than %d bytes", ErrTooLarge, ref.MaxSealed)
			}
			b = append(b, s...)
		}
	} else {
		b = []byte(res.GetText())
	}
	out, err := DecodeReference(b)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrNotReference, err)
	}
	if !isContainer(out) {
		return nil, fmt.Errorf("%w: %d bytes starting %q", ErrNotReference, len(b), b[:min(len(b), 16)])
	}
	return out, nil
}

// isContainer reports whether b starts like a sealed reference of a
// version this package reads (v2, or v1 for an opener that allows it).
func isContainer(b []byte) bool {
	for _, intro := range []string{ref.IntroV2, ref.Intro} {
		if len(b) > len(intro) && string(b[:len(intro)]) == intro {
			return true
		}
	}
	return false
}
