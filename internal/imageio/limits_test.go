package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func bugreport(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "bugreports", name))
	if err != nil {
		t.Fatalf("shared bug report input: %v", err)
	}
	return b
}

// pngSized is a tiny valid PNG header claiming w×h, with its IHDR CRC
// fixed: refused from the header, its pixels are never inflated.
func pngSized(t testing.TB, w, h uint32) []byte {
	b := encPNG(t, marked(8, 8))
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// TestWideJPEGBugReport: ../shared/bugreports/jpeg-side-over-65500 (a
// valid 65,535 × 2 baseline JPEG of 17 kB) is refused as too large from
// its header, naming the side bound, before any pixel is decoded.
// Before: only width × height (131,070 < 40 M) was checked, and the frame
// reached libjpeg, which failed ("Maximum supported image dimension is
// 65500 pixels").
func TestWideJPEGBugReport(t *testing.T) {
	data := bugreport(t, "jpeg-side-over-65500/wide-65535x2.jpg")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	img, _, err := Decode(data, Limits{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || img != nil || !strings.Contains(err.Error(), "65535x2 pixels, a side over 16384") {
		t.Fatalf("got %v, want ErrTooLarge naming the side", err)
	}
	// Even with limits that admit every side, MaxEngineSide holds.
	if _, _, err := Decode(data, Limits{MaxSide: 1 << 20, MaxAspect: 1 << 20}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "a side over 65500") {
		t.Fatalf("with lax limits: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Fatalf("refusing it allocated %d bytes", grew)
	}
}

func TestLimits(t *testing.T) {
	small := encPNG(t, marked(8, 8))
	for _, c := range []struct {
		name string
		data []byte
		lim  Limits
		want error
		msg  string
	}{
		{"bytes", small, Limits{MaxBytes: len(small) - 1}, ErrTooLarge, "bytes, limit"},
		{"pixels (decompression bomb header)", pngSized(t, 100000, 100000), Limits{}, ErrTooLarge, "a side over"},
		{"pixels within the sides", pngSized(t, 8000, 6000), Limits{}, ErrTooLarge, "limit 40000000"},
		{"side", pngSized(t, 16385, 2100), Limits{}, ErrTooLarge, "a side over 16384"},
		{"aspect", pngSized(t, 9000, 1000), Limits{}, ErrTooLarge, "aspect ratio over 8:1"},
		{"aspect, tall", pngSized(t, 100, 801), Limits{}, ErrTooLarge, "aspect ratio over 8:1"},
		{"46-byte lossless WebP of 40 M pixels", vp8lBomb(8000, 5000), Limits{}, ErrTooLarge, "over 1024 pixels a byte"},
		{"empty", nil, Limits{}, ErrCorrupt, "empty input"},
		{"zero width", pngSized(t, 0, 8), Limits{}, ErrCorrupt, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Decode(c.data, c.lim)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want %v with %q", err, c.want, c.msg)
			}
		})
	}
	// At the bounds: accepted.
	for _, wh := range [][2]int{{800, 100}, {100, 800}, {16384, 2048}} {
		if err := (Limits{}).Check(wh[0], wh[1]); err != nil {
			t.Errorf("Check(%v): %v", wh, err)
		}
	}
}

// FuzzDecode: outside bytes never panic the decoder; a success is an
// upright three-channel image within the limits; a failure is one of the
// three sentinels.
func FuzzDecode(f *testing.F) {
	f.Add(encPNG(f, marked(8, 8)))
	f.Add(encJPEG(f, marked(8, 8)))
	f.Add(withJPEGExif(encJPEG(f, marked(8, 4)), 6))
	f.Add(withPNGChunk(encPNG(f, marked(8, 4)), pngChunk("eXIf", exifTIFF(6, binary.LittleEndian))))
	f.Add(dcJPEG(16, 8, 4, 0, 0xC0, func(c, bx, by int) uint8 { return uint8(c * 60) }))
	f.Add(dcJPEG(16, 8, 3, -1, 0xC9, func(c, bx, by int) uint8 { return 9 }))
	f.Add(xImageFile(f, "blue-purple-pink.lossless.webp"))
	f.Add(webpVP8X(xImageFile(f, "gopher-doc.1bpp.lossless.webp"), 1, 1, 0x08, map[string][]byte{"EXIF": exifTIFF(3, binary.BigEndian)}))
	lim := Limits{MaxBytes: 1 << 16, MaxPixels: 1 << 18}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, info, err := Decode(data, lim)
		if err != nil {
			if img != nil || (!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupported)) {
				t.Fatalf("error %v with image %v", err, img != nil)
			}
			return
		}
		b := img.Bounds()
		if lim.Check(b.Dx(), b.Dy()) != nil || !ThreeChannel(img) || info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("frame %v (%T) %+v breaks the contract", b, img, info)
		}
	})
}

// FuzzOrientation: the metadata walks never panic and only answer 1..8.
func FuzzOrientation(f *testing.F) {
	f.Add(withJPEGExif(encJPEG(f, marked(4, 4)), 6))
	f.Add(withPNGChunk(encPNG(f, marked(4, 4)), pngChunk("eXIf", exifTIFF(8, binary.BigEndian))))
	f.Add(webpVP8X(xImageFile(f, "gopher-doc.1bpp.lossless.webp"), 1, 1, 0x08, map[string][]byte{"EXIF": exifTIFF(5, binary.LittleEndian)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := Orientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		_, _ = Sniff(data)
	})
}
