package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// This file builds synthetic inputs that Go's encoders cannot write:
// 4-component (CMYK, YCCK) JPEGs, PNG colour types Go never emits
// (gray+alpha), and metadata chunks.

// dcJPEG encodes a w×h (multiples of 8) JPEG with nc components, each
// sampled 1×1, whose 8×8 blocks are uniform: sample(c, bx, by) is the
// value of component c in block (bx, by). Only DC coefficients are coded
// (every AC run is EOB), with a quantisation table of ones, so the decoded
// samples equal the given ones. adobe ≥ 0 adds an Adobe APP14 segment with
// that transform (0: CMYK/RGB, 1: YCbCr, 2: YCCK). sof is the frame marker
// (0xC0 baseline).
func dcJPEG(w, h, nc, adobe int, sof byte, sample func(c, bx, by int) uint8) []byte {
	var b bytes.Buffer
	seg := func(marker byte, body []byte) {
		b.Write([]byte{0xFF, marker, byte((len(body) + 2) >> 8), byte(len(body) + 2)})
		b.Write(body)
	}
	b.Write([]byte{0xFF, 0xD8})
	if adobe >= 0 {
		seg(0xEE, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, byte(adobe)))
	}
	seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))
	sofBody := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(nc)}
	for c := range nc {
		sofBody = append(sofBody, byte(c+1), 0x11, 0)
	}
	seg(sof, sofBody)
	// DC table: categories 0..11, all with 4-bit codes (code = category).
	dc := append([]byte{0x00}, make([]byte, 16)...)
	dc[4] = 12
	for s := range 12 {
		dc = append(dc, byte(s))
	}
	seg(0xC4, dc)
	// AC table: only EOB (0x00), a 1-bit code "0".
	ac := append([]byte{0x10}, make([]byte, 16)...)
	ac[1] = 1
	seg(0xC4, append(ac, 0x00))
	sos := []byte{byte(nc)}
	for c := range nc {
		sos = append(sos, byte(c+1), 0x00)
	}
	seg(0xDA, append(sos, 0, 63, 0))

	var bits uint64
	var nbits uint
	out := func(v uint64, n uint) {
		bits, nbits = bits<<n|v&(1<<n-1), nbits+n
		for nbits >= 8 {
			by := byte(bits >> (nbits - 8))
			b.WriteByte(by)
			if by == 0xFF {
				b.WriteByte(0)
			}
			nbits -= 8
		}
	}
	pred := make([]int, nc)
	for by := 0; by < h/8; by++ {
		for bx := 0; bx < w/8; bx++ {
			for c := range nc {
				v := 8 * (int(sample(c, bx, by)) - 128)
				d := v - pred[c]
				pred[c] = v
				cat, mag := 0, d
				if mag < 0 {
					mag = -mag
				}
				for mag > 0 {
					cat++
					mag >>= 1
				}
				out(uint64(cat), 4)
				if cat > 0 {
					if d < 0 {
						d += 1<<cat - 1
					}
					out(uint64(d), uint(cat))
				}
				out(0, 1) // EOB
			}
		}
	}
	if nbits > 0 {
		out(1<<(8-nbits)-1, 8-nbits)
	}
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

// pngChunk is one chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(c, uint32(len(data)))
	copy(c[4:], typ)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// rawPNG writes a PNG of colour type ct and bit depth depth from
// unfiltered scanlines (without their filter bytes), with extra chunks
// (e.g. PLTE, tRNS, eXIf) before IDAT.
func rawPNG(w, h int, depth, ct byte, rows [][]byte, extra ...[]byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	b = append(b, pngChunk("IHDR", append(ihdr, depth, ct, 0, 0, 0))...)
	for _, e := range extra {
		b = append(b, e...)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	for _, r := range rows {
		zw.Write([]byte{0})
		zw.Write(r)
	}
	zw.Close()
	b = append(b, pngChunk("IDAT", z.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

// withPNGChunk inserts a chunk right after IHDR of an encoded PNG.
func withPNGChunk(p []byte, chunk []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, chunk...)
	return append(out, p[afterIHDR:]...)
}

// exifTIFF is a TIFF header with IFD0 holding one Orientation tag.
func exifTIFF(o uint16, order binary.ByteOrder) []byte {
	t := make([]byte, 8+2+12+4)
	if order == binary.LittleEndian {
		copy(t, "II")
	} else {
		copy(t, "MM")
	}
	order.PutUint16(t[2:], 42)
	order.PutUint32(t[4:], 8)
	order.PutUint16(t[8:], 1)
	order.PutUint16(t[10:], 0x0112)
	order.PutUint16(t[12:], 3)
	order.PutUint32(t[14:], 1)
	order.PutUint16(t[18:], o)
	return t
}

// withJPEGExif inserts an APP1 Exif segment after SOI.
func withJPEGExif(j []byte, o uint16) []byte {
	body := append([]byte("Exif\x00\x00"), exifTIFF(o, binary.BigEndian)...)
	seg := []byte{0xFF, 0xE1, byte((len(body) + 2) >> 8), byte(len(body) + 2)}
	out := append([]byte{}, j[:2]...)
	out = append(append(out, seg...), body...)
	return append(out, j[2:]...)
}

// webpVP8X rewraps a simple (VP8 or VP8L) WebP of size w×h as an extended
// one with a VP8X header (flags) and extra chunks after the image.
func webpVP8X(simple []byte, w, h int, flags byte, extra map[string][]byte) []byte {
	var body bytes.Buffer
	body.WriteString("WEBP")
	vp8x := []byte{flags, 0, 0, 0,
		byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16),
		byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	chunk := func(fcc string, d []byte) {
		body.WriteString(fcc)
		binary.Write(&body, binary.LittleEndian, uint32(len(d)))
		body.Write(d)
		if len(d)%2 == 1 {
			body.WriteByte(0)
		}
	}
	chunk("VP8X", vp8x)
	body.Write(simple[12:]) // the image chunk(s) of the simple file
	for fcc, d := range extra {
		chunk(fcc, d)
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(body.Len()))
	return append(out, body.Bytes()...)
}

// xImageTestdata is golang.org/x/image's testdata folder in the module
// cache (the module is a dependency, so it is there whenever this builds).
var xImageTestdata = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		return "", err
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata"), nil
})

func xImageFile(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := xImageTestdata()
	if err != nil {
		t.Fatalf("locating golang.org/x/image: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// halves is a 16×16 image, colour a on the left half and b on the right.
func halves(a, b color.Color, m image.Image) image.Image {
	type setter interface{ Set(x, y int, c color.Color) }
	s := m.(setter)
	for y := range 16 {
		for x := range 16 {
			if x < 8 {
				s.Set(x, y, a)
			} else {
				s.Set(x, y, b)
			}
		}
	}
	return m
}

// vp8lBomb is a valid lossless WebP bitstream of w×h pixels in 8 bytes:
// no transforms, no colour cache, and five prefix codes of one symbol
// each, so every pixel costs zero bits. The decoder still allocates every
// pixel: the most memory per byte of file any accepted format allows.
func vp8lBomb(w, h int) []byte {
	var bits uint64
	var n uint
	put := func(v uint64, k uint) { bits |= v << n; n += k }
	put(uint64(w-1), 14)
	put(uint64(h-1), 14)
	put(1, 1) // alpha_is_used
	put(0, 3) // version
	put(0, 1) // no transform
	put(0, 1) // no colour cache
	put(0, 1) // no meta prefix codes
	for range 5 {
		put(1, 1) // simple code
		put(0, 1) // one symbol
		put(0, 1) // 1-bit symbol
		put(0, 1) // symbol 0
	}
	data := []byte{0x2f}
	for i := uint(0); i < n; i += 8 {
		data = append(data, byte(bits>>i))
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+8+len(data)+len(data)%2))
	out = append(out, "WEBPVP8L"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}
