package facerec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"strings"

	xdraw "golang.org/x/image/draw"

	"github.com/oneface/oneface/internal/imageio"
)

// Limits bound every input before any byte of it reaches the C++ engine.
// The zero value of a field selects its default. The bytes, pixel, side
// and aspect bounds are those of [imageio.Limits]; see that package for
// the measured memory cost of the worst input they admit.
type Limits struct {
	// MaxBytes bounds encoded input (default 20 MiB).
	MaxBytes int
	// MaxPixels bounds width×height, checked from the image header before
	// decoding, so decompression bombs are refused cheaply (default 40 M).
	MaxPixels int
	// MaxSide bounds each side in pixels (default 16,384; never above
	// libjpeg's 65,500, [imageio.MaxEngineSide]).
	MaxSide int
	// MaxAspect bounds the long side over the short side (default 8).
	MaxAspect float64
	// DetectPixels is the pixel budget of the frame the detector sees:
	// larger frames are downscaled for detection, smaller ones may be
	// upscaled up to it (default 2,100,000, about 1920×1088).
	DetectPixels int
	// UpscaleBelow: when no detected face is at least this many pixels
	// wide, detection is retried on a 2× upscaled frame if that fits in
	// DetectPixels. dlib's HOG detector misses faces under ≈80 px. Default
	// 100; negative disables the retry.
	UpscaleBelow int
}

const (
	defaultMaxBytes     = imageio.DefaultMaxBytes
	defaultMaxPixels    = imageio.DefaultMaxPixels
	defaultDetectPixels = 2_100_000
	defaultUpscaleBelow = 100

	// jpegQuality of the single re-encode that hands pixels to go-face,
	// which only reads JPEG. Part of the extractor settings in the model ID.
	jpegQuality = 95
)

func (l Limits) withDefaults() Limits {
	il := l.image()
	l.MaxBytes, l.MaxPixels, l.MaxSide, l.MaxAspect = il.MaxBytes, il.MaxPixels, il.MaxSide, il.MaxAspect
	if l.DetectPixels == 0 {
		l.DetectPixels = defaultDetectPixels
	}
	if l.UpscaleBelow == 0 {
		l.UpscaleBelow = defaultUpscaleBelow
	}
	return l
}

func (l Limits) image() imageio.Limits {
	return imageio.Limits{MaxBytes: l.MaxBytes, MaxPixels: l.MaxPixels, MaxSide: l.MaxSide, MaxAspect: l.MaxAspect}.WithDefaults()
}

// Input is an image to analyse: build it with [Bytes] or [Image].
type Input struct {
	data []byte
	img  image.Image
}

// Bytes is an encoded image: JPEG, PNG or WebP (see [imageio.Decode] for
// what is accepted and what is refused by name). The slice is read, never
// kept or modified.
func Bytes(b []byte) Input { return Input{data: b} }

// Image is a decoded image. It is read, never kept or modified.
func Image(img image.Image) Input { return Input{img: img} }

// frame is a decoded, upright image with its origin at (0,0), in a form
// whose JPEG encoding has three components (go-face rejects grayscale).
type frame struct {
	img    image.Image
	origin image.Point // Min of the caller's image, added back to boxes
	owned  bool        // pixels allocated here, wiped after use
}

// decode turns the input into an upright frame, enforcing the limits.
func (in Input) decode(l Limits) (frame, error) {
	if in.img != nil {
		b := in.img.Bounds()
		if err := l.image().Check(b.Dx(), b.Dy()); err != nil {
			return frame{}, imageError(err)
		}
		f := frame{img: in.img, origin: b.Min}
		if !imageio.ThreeChannel(in.img) {
			f.img, f.owned = imageio.Flatten(in.img), true
		}
		return f, nil
	}
	img, _, err := imageio.Decode(in.data, l.image())
	if err != nil {
		return frame{}, imageError(err)
	}
	return frame{img: img, owned: true}, nil
}

// decodeError carries an imageio error under this package's sentinel, so
// that callers match facerec's errors and read one message: "facerec:
// unsupported format: HEIC, re-save as JPEG or PNG".
type decodeError struct{ kind, err error }

func (e *decodeError) Error() string {
	return "facerec: " + strings.TrimPrefix(e.err.Error(), "imageio: ")
}

func (e *decodeError) Unwrap() []error { return []error{e.kind, e.err} }

func imageError(err error) error {
	switch {
	case errors.Is(err, imageio.ErrTooLarge):
		return &decodeError{ErrTooLarge, err}
	case errors.Is(err, imageio.ErrUnsupported):
		return &decodeError{ErrUnsupportedFormat, err}
	case errors.Is(err, imageio.ErrCorrupt):
		return &decodeError{ErrCorruptImage, err}
	}
	return err
}

// isThreeChannel reports whether img can be encoded for the engine as is.
func isThreeChannel(img image.Image) bool { return imageio.ThreeChannel(img) }

// orient applies EXIF orientation o (2..8) and returns an upright RGBA image.
func orient(img image.Image, o int) *image.RGBA { return imageio.Orient(img, o) }

// scaleTo resizes img by factor s (>0): BiLinear (area-aware) when
// shrinking, CatmullRom when enlarging.
func scaleTo(img image.Image, s float64) *image.RGBA {
	b := img.Bounds()
	w := max(1, int(math.Round(float64(b.Dx())*s)))
	h := max(1, int(math.Round(float64(b.Dy())*s)))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	var k xdraw.Interpolator = xdraw.BiLinear
	if s > 1 {
		k = xdraw.CatmullRom
	}
	k.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}

// encodeJPEG is the one re-encode before the engine: only bytes produced
// here ever reach libjpeg inside go-face. It checks the frame once more,
// after any scaling: libjpeg refuses a side over 65,500 pixels
// ([imageio.MaxEngineSide]) with an engine error, so such a frame is
// [ErrTooLarge] here, before the engine.
func encodeJPEG(img image.Image) ([]byte, error) {
	b := img.Bounds()
	if w, h := b.Dx(), b.Dy(); w <= 0 || h <= 0 || max(w, h) > imageio.MaxEngineSide {
		return nil, fmt.Errorf("%w: %dx%d frame for the engine, a side over %d", ErrTooLarge, w, h, imageio.MaxEngineSide)
	}
	var buf bytes.Buffer
	buf.Grow(b.Dx()*b.Dy()/4 + 1024)
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("facerec: encoding frame for the engine: %v", err)
	}
	return buf.Bytes(), nil
}

// wipeImage zeroes the pixel buffers of images this package allocated. It
// is best effort: Go may have copied memory (GC, stack growth) and the C++
// engine keeps its own short-lived copies.
func wipeImage(img image.Image) { imageio.Wipe(img) }
