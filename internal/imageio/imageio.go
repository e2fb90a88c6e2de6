// Package imageio is oneface's one decode path for every frame a person
// brings: enrolment photos, verification frames, evaluation images and
// pictures of reference cards. It turns outside bytes into an upright,
// opaque, three-channel image within stated bounds, or refuses them by
// name.
//
// Most callers need [Decode] with the zero [Limits]. [Limits.Check] bounds
// images that arrive already decoded or that were scaled.
//
// # Formats
//
// [Sniff] reads the signature. JPEG (baseline and progressive, 8-bit), PNG
// (every colour type and bit depth) and WebP (lossy, lossless, with alpha;
// golang.org/x/image/webp) are decoded. Everything else is refused with
// [ErrUnsupported] and a message naming the format and the remedy,
// "unsupported format: HEIC, re-save as JPEG or PNG": HEIC/HEIF, AVIF,
// JPEG XL, JPEG 2000, BMP, TIFF, GIF, animated WebP, and the JPEG codings
// that are valid but that the decoder does not implement (arithmetic,
// lossless, hierarchical, JPEG-LS, 12-bit precision, 4 components without
// Adobe's APP14 marker). [ErrCorrupt] is kept for bytes that claim a
// supported format and do not decode.
//
// # Orientation
//
// The EXIF Orientation tag (1..8) is applied wherever the container
// carries it: a JPEG APP1 "Exif" segment, a PNG eXIf chunk, a WebP EXIF
// chunk. A malformed EXIF block is advisory metadata and is read as
// orientation 1; it never makes a decodable image fail.
//
// # Colour
//
// The result is a *image.YCbCr (a 3-component JPEG needing no rotation:
// no copy) or an opaque *image.RGBA with its origin at (0,0). Adobe CMYK
// and YCCK JPEGs are inverted as Adobe writes them (by image/jpeg); 16-bit
// samples are reduced to 8; gray, gray+alpha, palette with tRNS and RGBA
// are expanded to RGB; transparent pixels are composited over white, as a
// viewer or a printer shows them.
//
// # Limits and cost
//
// [Limits] bound the encoded bytes, then — from the header, before any
// pixel is decoded — the pixel count, each side and the aspect ratio, so a
// 17 kB JPEG of 65,535 × 2 pixels (which libjpeg inside dlib cannot take)
// or a decompression bomb is refused with [ErrTooLarge] at the cost of
// reading its header. Callers that scale call [Limits.Check] again on the
// result; [MaxEngineSide] is the hard bound for anything handed to libjpeg.
//
// Memory is bounded twice. Per pixel: one Decode of the worst legal input
// peaks at 12 bytes a pixel over the input (an Adobe CMYK JPEG, a 16-bit
// RGBA PNG: the decoder's samples plus the RGBA frame); 3 for a JPEG kept
// as YCbCr, 5 to 8 for the rest. Per byte: an input of n bytes may
// describe at most [FreePixels] + [Limits].PixelsPerByte × n pixels, so the
// cost is proportional to the file. With the defaults the worst case is 40 M
// pixels, about 460 MiB, reachable only from a file of 35 kB or more.
// Measured peak RSS over the input, one process per input, 8000 × 5000
// pixels (ONEFACE_MEASURE_RSS=1 go test -run TestPeakRSS -v
// ./internal/imageio):
//
//	JPEG YCbCr 4:4:4                 114 MiB   3.0 B/px (kept as YCbCr)
//	JPEG YCbCr 4:4:4, orientation 6  267 MiB   7.0 B/px
//	JPEG gray, orientation 6         191 MiB   5.0 B/px
//	JPEG Adobe CMYK, orientation 6   458 MiB  12.0 B/px
//	PNG RGBA 8-bit                   305 MiB   8.0 B/px
//	PNG RGBA 16-bit (± orientation)  458 MiB  12.0 B/px
//	WebP lossless (± orientation)    305 MiB   8.0 B/px
//
// Decode is safe for concurrent use; it keeps no state.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"
)

// Sentinel errors. Messages carry the details.
var (
	// ErrUnsupported: a real image format, or a JPEG coding, that oneface
	// does not decode. The message names it and says to re-save as JPEG
	// or PNG. It is never used for damaged bytes.
	ErrUnsupported = errors.New("imageio: unsupported format")
	// ErrTooLarge: the input exceeds a [Limits] bound (bytes, pixels, a
	// side or the aspect ratio).
	ErrTooLarge = errors.New("imageio: image too large")
	// ErrCorrupt: the bytes claim a supported format but do not decode
	// (truncated, damaged, empty).
	ErrCorrupt = errors.New("imageio: corrupt image")
)

// MaxEngineSide is the longest side libjpeg (inside dlib) accepts:
// JPEG_MAX_DIMENSION, 65,500 pixels. [Limits.Check] never lets a larger
// side through, whatever the limits say.
const MaxEngineSide = 65_500

// Limits bound an input. The zero value of a field selects its default.
type Limits struct {
	// MaxBytes bounds the encoded input (default 20 MiB).
	MaxBytes int
	// MaxPixels bounds width × height, read from the header before
	// decoding (default 40,000,000: an 8000 × 5000 photo).
	MaxPixels int
	// MaxSide bounds each side, in pixels (default 16,384; never above
	// [MaxEngineSide]).
	MaxSide int
	// MaxAspect bounds the long side over the short side (default 8: a
	// panorama of 8:1; a 16:9 frame is 1.8).
	MaxAspect float64
	// PixelsPerByte bounds the pixels an encoded byte may stand for,
	// beyond the first [FreePixels] (default 1024). Photos use well under
	// 100; PNG's deflate cannot exceed about 1,032:1 on samples (≈ 258
	// pixels a byte for RGBA), while a lossless WebP of single-symbol codes
	// describes any number of pixels in 46 bytes. With it, the memory of a
	// decode is proportional to the file: at most 12 bytes a pixel × (4 M +
	// 1024 × file size).
	PixelsPerByte int
}

// FreePixels is the number of pixels any input may have whatever its size
// (a 2560 × 1600 frame of one colour), before [Limits].PixelsPerByte
// applies.
const FreePixels = 4_000_000

// Defaults of [Limits].
const (
	DefaultMaxBytes      = 20 << 20
	DefaultMaxPixels     = 40_000_000
	DefaultMaxSide       = 16_384
	DefaultMaxAspect     = 8
	DefaultPixelsPerByte = 1024
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxSide == 0 {
		l.MaxSide = DefaultMaxSide
	}
	if l.MaxAspect == 0 {
		l.MaxAspect = DefaultMaxAspect
	}
	if l.PixelsPerByte == 0 {
		l.PixelsPerByte = DefaultPixelsPerByte
	}
	return l
}

// Check reports whether a w × h image is within l (zero fields: defaults):
// [ErrCorrupt] for an empty size, [ErrTooLarge] naming the bound exceeded.
func (l Limits) Check(w, h int) error {
	l = l.WithDefaults()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: empty image %dx%d", ErrCorrupt, w, h)
	}
	side := min(l.MaxSide, MaxEngineSide)
	long, short := max(w, h), min(w, h)
	switch {
	case long > side:
		return fmt.Errorf("%w: %dx%d pixels, a side over %d", ErrTooLarge, w, h, side)
	case int64(w)*int64(h) > int64(l.MaxPixels):
		return fmt.Errorf("%w: %dx%d pixels, limit %d", ErrTooLarge, w, h, l.MaxPixels)
	case float64(long) > l.MaxAspect*float64(short):
		return fmt.Errorf("%w: %dx%d pixels, aspect ratio over %g:1", ErrTooLarge, w, h, l.MaxAspect)
	}
	return nil
}

// Info describes a decoded input.
type Info struct {
	Format      Format
	Width       int // as stored, before orientation
	Height      int
	Orientation int // EXIF orientation applied, 1..8 (1: none)
}

// Decode sniffs b, checks it against l from its header, decodes it, applies
// its EXIF orientation and returns an upright, opaque, three-channel image
// at the origin: a *image.YCbCr or a *image.RGBA. Errors wrap
// [ErrUnsupported], [ErrTooLarge] or [ErrCorrupt]. b is read, never kept.
func Decode(b []byte, l Limits) (image.Image, Info, error) {
	l = l.WithDefaults()
	if len(b) == 0 {
		return nil, Info{}, fmt.Errorf("%w: empty input", ErrCorrupt)
	}
	if len(b) > l.MaxBytes {
		return nil, Info{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), l.MaxBytes)
	}
	f, err := Sniff(b)
	if err != nil {
		return nil, Info{}, err
	}
	var cfg image.Config
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case PNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case WebP:
		cfg, err = webp.DecodeConfig(bytes.NewReader(b))
	}
	if err != nil {
		return nil, Info{}, decodeErr(f, "header", err)
	}
	if err := l.Check(cfg.Width, cfg.Height); err != nil {
		return nil, Info{}, err
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > FreePixels+int64(l.PixelsPerByte)*int64(len(b)) {
		return nil, Info{}, fmt.Errorf("%w: %dx%d pixels from %d bytes, over %d pixels a byte (a decompression bomb)", ErrTooLarge, cfg.Width, cfg.Height, len(b), l.PixelsPerByte)
	}
	var img image.Image
	switch f {
	case JPEG:
		img, err = jpeg.Decode(bytes.NewReader(b))
	case PNG:
		img, err = png.Decode(bytes.NewReader(b))
	case WebP:
		img, err = webp.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return nil, Info{}, decodeErr(f, "", err)
	}
	info := Info{Format: f, Width: cfg.Width, Height: cfg.Height, Orientation: Orientation(b)}
	if bb := img.Bounds(); bb.Dx() != cfg.Width || bb.Dy() != cfg.Height {
		Wipe(img)
		return nil, Info{}, fmt.Errorf("%w: %s decodes to %v, header says %dx%d", ErrCorrupt, f, bb, cfg.Width, cfg.Height)
	}
	if info.Orientation != 1 {
		up := Orient(img, info.Orientation)
		Wipe(img)
		return up, info, nil
	}
	if ThreeChannel(img) {
		return img, info, nil
	}
	flat := Flatten(img)
	Wipe(img)
	return flat, info, nil
}

func decodeErr(f Format, what string, err error) error {
	if what != "" {
		what = " " + what
	}
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	if errors.As(err, &ju) || errors.As(err, &pu) {
		return fmt.Errorf("%w: %s (%v), re-save as JPEG or PNG", ErrUnsupported, f, err)
	}
	return fmt.Errorf("%w: %s%s: %v", ErrCorrupt, f, what, err)
}

// ThreeChannel reports whether img is a *image.YCbCr or an opaque
// *image.RGBA with its origin at (0,0): a form whose JPEG encoding has
// three components, as the engine needs.
func ThreeChannel(img image.Image) bool {
	if img.Bounds().Min != (image.Point{}) {
		return false
	}
	switch m := img.(type) {
	case *image.YCbCr:
		return true
	case *image.RGBA:
		return m.Opaque()
	}
	return false
}

// Flatten returns img as an opaque *image.RGBA at the origin, with
// transparent pixels composited over white, in one pass whose only
// allocation is the result. img is not modified.
func Flatten(img image.Image) *image.RGBA { return Orient(img, 1) }

// Wipe zeroes the pixel buffers of img. Callers wipe images they own once
// done with them; it is best effort (the Go runtime may have copied
// memory).
func Wipe(img image.Image) {
	switch m := img.(type) {
	case *image.RGBA:
		clear(m.Pix)
	case *image.YCbCr:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
	case *image.NYCbCrA:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
		clear(m.A)
	case *image.Gray:
		clear(m.Pix)
	case *image.Gray16:
		clear(m.Pix)
	case *image.NRGBA:
		clear(m.Pix)
	case *image.NRGBA64:
		clear(m.Pix)
	case *image.RGBA64:
		clear(m.Pix)
	case *image.CMYK:
		clear(m.Pix)
	case *image.Paletted:
		clear(m.Pix)
	case *image.Alpha:
		clear(m.Pix)
	}
}
