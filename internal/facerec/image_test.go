package facerec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/oneface/oneface/internal/imageio"
)

// testImage is a w×h grey RGBA image with a red 2×2 block at x 2..3,
// y 0..1 (when it fits), to follow orientation.
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	for y := range 2 {
		for x := 2; x < 4; x++ {
			img.Set(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEGq(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withOrientation inserts an EXIF APP1 segment carrying orientation o
// after the SOI marker of a JPEG, in the given byte order.
func withOrientation(j []byte, o uint16, order binary.ByteOrder) []byte {
	tiff := make([]byte, 8+2+12+4)
	if order == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	order.PutUint16(tiff[2:], 42)
	order.PutUint32(tiff[4:], 8)
	order.PutUint16(tiff[8:], 1)       // one entry
	order.PutUint16(tiff[10:], 0x0112) // Orientation
	order.PutUint16(tiff[12:], 3)      // SHORT
	order.PutUint32(tiff[14:], 1)      // count
	order.PutUint16(tiff[18:], o)
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	seg = append(seg, body...)
	out := append([]byte{}, j[:2]...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func TestOrientation(t *testing.T) {
	// A 12×8 image whose marker block is centred at (3,1). For each
	// orientation, the upright size and where the marker's centre lands.
	want := map[uint16]struct {
		w, h   int
		cx, cy float64
	}{
		1: {12, 8, 3, 1},
		2: {12, 8, 9, 1},
		3: {12, 8, 9, 7},
		4: {12, 8, 3, 7},
		5: {8, 12, 1, 3},
		6: {8, 12, 7, 3},
		7: {8, 12, 7, 9},
		8: {8, 12, 1, 9},
	}
	base := encodeJPEGq(t, testImage(12, 8))
	for o, w := range want {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			data := withOrientation(base, o, order)
			if got := imageio.Orientation(data); got != int(o) {
				t.Fatalf("orientation %d (%v): parsed %d", o, order, got)
			}
			f, err := Bytes(data).decode(Limits{}.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			b := f.img.Bounds()
			if b.Dx() != w.w || b.Dy() != w.h {
				t.Fatalf("orientation %d: size %v, want %dx%d", o, b, w.w, w.h)
			}
			// The centroid of redness marks where the marker landed
			// (JPEG blurs it symmetrically).
			var sx, sy, sw float64
			for y := range b.Dy() {
				for x := range b.Dx() {
					r, g, _, _ := f.img.At(x, y).RGBA()
					if d := float64(int(r>>8) - int(g>>8)); d > 64 {
						sx, sy, sw = sx+(float64(x)+0.5)*d, sy+(float64(y)+0.5)*d, sw+d
					}
				}
			}
			if cx, cy := sx/sw, sy/sw; math.Abs(cx-w.cx) > 0.5 || math.Abs(cy-w.cy) > 0.5 {
				t.Errorf("orientation %d: marker centred at (%.2f,%.2f), want (%v,%v)", o, cx, cy, w.cx, w.cy)
			}
		}
	}
}

func TestOrientationMalformed(t *testing.T) {
	base := encodeJPEGq(t, testImage(6, 4))
	for _, o := range []uint16{0, 9, 0xFFFF} {
		if got := imageio.Orientation(withOrientation(base, o, binary.BigEndian)); got != 1 {
			t.Errorf("orientation value %d parsed as %d, want 1", o, got)
		}
	}
	data := withOrientation(base, 6, binary.BigEndian)
	for n := range len(data) {
		_ = imageio.Orientation(data[:n]) // every truncation: no panic
	}
}

func TestDecodeErrors(t *testing.T) {
	lim := Limits{}.withDefaults()
	good := encodePNG(t, testImage(8, 8))
	jpg := encodeJPEGq(t, testImage(64, 64))

	// A PNG header that claims 100000×100000 pixels: refused from the
	// header, before any pixel is inflated.
	bomb := append([]byte{}, good...)
	binary.BigEndian.PutUint32(bomb[16:], 100000)
	binary.BigEndian.PutUint32(bomb[20:], 100000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29])) // IHDR CRC

	corruptJPEG := append([]byte{}, jpg...)
	for i := len(corruptJPEG) / 2; i < len(corruptJPEG)-2; i++ {
		corruptJPEG[i] = 0xFF
	}

	cases := []struct {
		name string
		in   Input
		lim  Limits
		want error
	}{
		{"empty", Bytes(nil), lim, ErrCorruptImage},
		{"oversized bytes", Bytes(make([]byte, 1025)), Limits{MaxBytes: 1024, MaxPixels: 1 << 20}, ErrTooLarge},
		{"decompression bomb header", Bytes(bomb), lim, ErrTooLarge},
		{"pixel limit", Bytes(good), Limits{MaxBytes: 1 << 20, MaxPixels: 63}, ErrTooLarge},
		{"truncated PNG", Bytes(good[:len(good)-20]), lim, ErrCorruptImage},
		{"truncated PNG header", Bytes(good[:12]), lim, ErrCorruptImage},
		{"corrupt JPEG", Bytes(corruptJPEG), lim, ErrCorruptImage},
		{"truncated JPEG", Bytes(jpg[:len(jpg)/3]), lim, ErrCorruptImage},
		{"truncated WebP", Bytes([]byte("RIFF\x10\x00\x00\x00WEBPVP8 ")), lim, ErrCorruptImage},
		{"HEIC", Bytes([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")), lim, ErrUnsupportedFormat},
		{"side over 65,500", Bytes(wideJPEG(t)), lim, ErrTooLarge},
		{"GIF", Bytes([]byte("GIF89a\x01\x00\x01\x00")), lim, ErrUnsupportedFormat},
		{"text", Bytes([]byte("hello, world")), lim, ErrUnsupportedFormat},
		{"huge image.Image", Image(image.NewGray(image.Rect(0, 0, 100, 100))), Limits{MaxBytes: 1, MaxPixels: 9999}, ErrTooLarge},
		{"empty image.Image", Image(image.NewRGBA(image.Rectangle{})), lim, ErrCorruptImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.in.decode(c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestDecodeToThreeChannels(t *testing.T) {
	lim := Limits{}.withDefaults()
	gray := image.NewGray(image.Rect(0, 0, 16, 16))
	var gj bytes.Buffer
	if err := jpeg.Encode(&gj, gray, nil); err != nil {
		t.Fatal(err)
	}
	offset := image.NewRGBA(image.Rect(10, 20, 30, 40))
	for _, in := range []Input{Bytes(gj.Bytes()), Bytes(encodePNG(t, gray)), Image(gray), Image(offset)} {
		f, err := in.decode(lim)
		if err != nil {
			t.Fatal(err)
		}
		if !isThreeChannel(f.img) {
			t.Errorf("%T not converted to a three-channel image at the origin", f.img)
		}
		// The JPEG we hand go-face must have three components.
		buf, err := encodeJPEG(f.img)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := img.(*image.YCbCr); !ok {
			t.Errorf("engine JPEG decodes as %T, want 3-component YCbCr", img)
		}
	}
	// The caller's image is never modified, and its offset is kept.
	f, _ := Image(offset).decode(lim)
	if f.origin != image.Pt(10, 20) {
		t.Errorf("origin %v, want (10,20)", f.origin)
	}
}

// FuzzDecode: decoding outside bytes never panics; on success the frame
// respects the limits, and on failure the error is one of the sentinels.
func FuzzDecode(f *testing.F) {
	f.Add(encodePNG(f, testImage(8, 8)))
	f.Add(encodeJPEGq(f, testImage(8, 8)))
	f.Add(withOrientation(encodeJPEGq(f, testImage(8, 4)), 6, binary.BigEndian))
	f.Add([]byte("RIFF\x10\x00\x00\x00WEBPVP8 "))
	lim := Limits{MaxBytes: 1 << 16, MaxPixels: 1 << 16}.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Bytes(data).decode(lim)
		if err != nil {
			if !errors.Is(err, ErrCorruptImage) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		b := fr.img.Bounds()
		if b.Dx()*b.Dy() > lim.MaxPixels || !isThreeChannel(fr.img) {
			t.Fatalf("frame %v (%T) breaks the limits", b, fr.img)
		}
	})
}

// wideJPEG is ../shared/bugreports/jpeg-side-over-65500/wide-65535x2.jpg.
func wideJPEG(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "bugreports", "jpeg-side-over-65500", "wide-65535x2.jpg"))
	if err != nil {
		t.Fatalf("shared bug report input: %v", err)
	}
	return b
}
