package facerec

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"

	xdraw "golang.org/x/image/draw"
)

// Limits bound every input before any byte of it reaches the C++ engine.
// The zero value of a field selects its default.
type Limits struct {
	// MaxBytes bounds encoded input (default 20 MiB).
	MaxBytes int
	// MaxPixels bounds width×height, checked from the image header before
	// decoding, so decompression bombs are refused cheaply (default 40 M).
	MaxPixels int
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
	defaultMaxBytes     = 20 << 20
	defaultMaxPixels    = 40_000_000
	defaultDetectPixels = 2_100_000
	defaultUpscaleBelow = 100

	// jpegQuality of the single re-encode that hands pixels to go-face,
	// which only reads JPEG. Part of the extractor settings in the model ID.
	jpegQuality = 95
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = defaultMaxPixels
	}
	if l.DetectPixels == 0 {
		l.DetectPixels = defaultDetectPixels
	}
	if l.UpscaleBelow == 0 {
		l.UpscaleBelow = defaultUpscaleBelow
	}
	return l
}

// Input is an image to analyse: build it with [Bytes] or [Image].
type Input struct {
	data []byte
	img  image.Image
}

// Bytes is an encoded JPEG or PNG image. The slice is read, never kept or
// modified.
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
	switch {
	case in.img != nil:
		b := in.img.Bounds()
		if err := checkPixels(b.Dx(), b.Dy(), l); err != nil {
			return frame{}, err
		}
		f := frame{img: in.img, origin: b.Min}
		if !isThreeChannel(in.img) || b.Min != (image.Point{}) {
			f.img, f.owned = toRGBA(in.img), true
		}
		return f, nil
	case len(in.data) == 0:
		return frame{}, fmt.Errorf("%w: empty input", ErrCorruptImage)
	case len(in.data) > l.MaxBytes:
		return frame{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(in.data), l.MaxBytes)
	}
	format, err := sniff(in.data)
	if err != nil {
		return frame{}, err
	}
	var cfg image.Config
	if format == "jpeg" {
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(in.data))
	} else {
		cfg, err = png.DecodeConfig(bytes.NewReader(in.data))
	}
	if err != nil {
		return frame{}, fmt.Errorf("%w: %s header: %v", ErrCorruptImage, format, err)
	}
	if err := checkPixels(cfg.Width, cfg.Height, l); err != nil {
		return frame{}, err
	}
	var img image.Image
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(in.data))
	} else {
		img, err = png.Decode(bytes.NewReader(in.data))
	}
	if err != nil {
		return frame{}, fmt.Errorf("%w: %s: %v", ErrCorruptImage, format, err)
	}
	f := frame{img: img, owned: true}
	if format == "jpeg" {
		if o := jpegOrientation(in.data); o != 1 {
			f.img = orient(img, o)
			wipeImage(img)
		}
	}
	if !isThreeChannel(f.img) {
		rgba := toRGBA(f.img)
		wipeImage(f.img)
		f.img = rgba
	}
	return f, nil
}

// sniff accepts JPEG and PNG by their magic bytes and names anything else.
func sniff(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg", nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png", nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "", fmt.Errorf("%w: WebP (JPEG and PNG only)", ErrUnsupportedFormat)
	case bytes.HasPrefix(b, []byte("GIF8")):
		return "", fmt.Errorf("%w: GIF (JPEG and PNG only)", ErrUnsupportedFormat)
	}
	return "", fmt.Errorf("%w: unknown signature (JPEG and PNG only)", ErrUnsupportedFormat)
}

func checkPixels(w, h int, l Limits) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: empty image %dx%d", ErrCorruptImage, w, h)
	}
	if int64(w)*int64(h) > int64(l.MaxPixels) {
		return fmt.Errorf("%w: %dx%d pixels, limit %d", ErrTooLarge, w, h, l.MaxPixels)
	}
	return nil
}

// isThreeChannel reports whether img has its origin at (0,0) and a type
// whose JPEG encoding has three components and a fast encode path.
func isThreeChannel(img image.Image) bool {
	if img.Bounds().Min != (image.Point{}) {
		return false
	}
	switch img.(type) {
	case *image.YCbCr, *image.RGBA:
		return true
	}
	return false
}

func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// orient applies EXIF orientation o (2..8) and returns an upright RGBA image.
func orient(img image.Image, o int) *image.RGBA {
	src := toRGBA(img)
	defer wipeImage(src)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			var sx, sy int
			switch o {
			case 2: // mirror horizontal
				sx, sy = w-1-x, y
			case 3: // rotate 180
				sx, sy = w-1-x, h-1-y
			case 4: // mirror vertical
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90 clockwise
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90 counter-clockwise
				sx, sy = w-1-y, x
			default:
				sx, sy = x, y
			}
			si := sy*src.Stride + sx*4
			di := y*dst.Stride + x*4
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}

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
// here ever reach libjpeg inside go-face.
func encodeJPEG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	b := img.Bounds()
	buf.Grow(b.Dx()*b.Dy()/4 + 1024)
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("facerec: encoding frame for the engine: %v", err)
	}
	return buf.Bytes(), nil
}

// wipeImage zeroes the pixel buffers of images this package allocated. It
// is best effort: Go may have copied memory (GC, stack growth) and the C++
// engine keeps its own short-lived copies.
func wipeImage(img image.Image) {
	switch m := img.(type) {
	case *image.RGBA:
		clear(m.Pix)
	case *image.YCbCr:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
	case *image.Gray:
		clear(m.Pix)
	case *image.NRGBA:
		clear(m.Pix)
	case *image.CMYK:
		clear(m.Pix)
	case *image.Gray16:
		clear(m.Pix)
	case *image.NRGBA64:
		clear(m.Pix)
	case *image.RGBA64:
		clear(m.Pix)
	case *image.Paletted:
		clear(m.Pix)
	}
}
