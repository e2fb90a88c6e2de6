package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func encPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type rgb struct{ r, g, b uint8 }

func at(m image.Image, x, y int) rgb {
	r, g, b, _ := m.At(x, y).RGBA()
	return rgb{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

func near(a, b rgb, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.r, b.r) && d(a.g, b.g) && d(a.b, b.b)
}

// colourCase is one row of the format/colour-model table: an input, and
// either the error it must get or the colours of its left and right
// halves after decoding (transparency over white).
type colourCase struct {
	name        string
	data        []byte
	want        error
	msg         string // in the error message
	left, right rgb
	tol         int
}

func colourCases(t testing.TB) []colourCase {
	red, blue, white := rgb{255, 0, 0}, rgb{0, 0, 255}, rgb{255, 255, 255}
	sample4 := func(left, right [4]uint8) func(c, bx, by int) uint8 {
		return func(c, bx, by int) uint8 {
			if bx == 0 {
				return left[c]
			}
			return right[c]
		}
	}
	// Adobe CMYK stores ink inverted: 255 = no ink. Red = M+Y full; grey =
	// K half.
	cmyk := dcJPEG(16, 8, 4, 0, 0xC0, sample4([4]uint8{255, 0, 0, 255}, [4]uint8{255, 255, 255, 127}))
	// YCCK (libjpeg's and Photoshop's convention): the YCbCr of the CMY ink
	// taken as RGB, and K inverted. Red: ink (0,255,255) → YCbCr
	// (179,171,0), no black; grey: no CMY ink → (0,128,128), K half.
	ycck := dcJPEG(16, 8, 4, 2, 0xC0, sample4([4]uint8{179, 171, 0, 255}, [4]uint8{0, 128, 128, 127}))
	baseline := dcJPEG(16, 8, 3, -1, 0xC0, sample4([4]uint8{76, 85, 255}, [4]uint8{29, 255, 107}))
	twelveBit := bytes.Clone(baseline)
	twelveBit[bytes.Index(twelveBit, []byte{0xFF, 0xC0})+1] = 0xC1
	twelveBit[bytes.Index(twelveBit, []byte{0xFF, 0xC1})+4] = 12
	sofAs := func(m byte) []byte {
		b := bytes.Clone(baseline)
		b[bytes.Index(b, []byte{0xFF, 0xC0})+1] = m
		return b
	}

	rgba := halves(color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, image.NewRGBA(image.Rect(0, 0, 16, 16)))
	gray := halves(color.Gray{40}, color.Gray{200}, image.NewGray(image.Rect(0, 0, 16, 16)))
	gray16 := halves(color.Gray16{0x2828}, color.Gray16{0xC8C8}, image.NewGray16(image.Rect(0, 0, 16, 16)))
	nrgba := halves(color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 0}, image.NewNRGBA(image.Rect(0, 0, 16, 16)))
	nrgba64 := halves(color.NRGBA64{0xFFFF, 0, 0, 0xFFFF}, color.NRGBA64{0, 0, 0xFFFF, 0x8000}, image.NewNRGBA64(image.Rect(0, 0, 16, 16)))
	pal := image.NewPaletted(image.Rect(0, 0, 16, 16), color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}})
	halves(pal.Palette[0], pal.Palette[1], pal)
	palT := image.NewPaletted(image.Rect(0, 0, 16, 16), color.Palette{color.NRGBA{255, 0, 0, 0}, color.NRGBA{0, 0, 255, 255}})
	halves(palT.Palette[0], palT.Palette[1], palT)

	// Gray+alpha, which Go's encoder never writes: 8-bit (grey 100 opaque |
	// black fully transparent) and 16-bit.
	var ga8, ga16 [][]byte
	for range 16 {
		r8 := bytes.Repeat([]byte{100, 255}, 8)
		r8 = append(r8, bytes.Repeat([]byte{0, 0}, 8)...)
		ga8 = append(ga8, r8)
		r16 := bytes.Repeat([]byte{100, 100, 255, 255}, 8)
		r16 = append(r16, bytes.Repeat([]byte{0, 0, 0, 0}, 8)...)
		ga16 = append(ga16, r16)
	}

	var gifBuf bytes.Buffer
	gif.Encode(&gifBuf, pal, nil)
	bmp := append([]byte("BM"), make([]byte, 52)...)
	binary.LittleEndian.PutUint32(bmp[14:], 40)

	lossless := xImageFile(t, "blue-purple-pink.lossless.webp")
	losslessPNG, err := png.Decode(bytes.NewReader(xImageFile(t, "blue-purple-pink.png")))
	if err != nil {
		t.Fatal(err)
	}
	c0, c1 := at(losslessPNG, 2, 2), at(losslessPNG, losslessPNG.Bounds().Dx()-3, 2)
	lossy := xImageFile(t, "video-001.lossy.webp")
	lossyRef, err := png.Decode(bytes.NewReader(xImageFile(t, "video-001.png"))) // the original it was made from
	if err != nil {
		t.Fatal(err)
	}
	l0, l1 := at(lossyRef, 2, 2), at(lossyRef, lossyRef.Bounds().Dx()-3, 2)
	alpha := xImageFile(t, "gopher-doc.with-alpha.lossless.webp")

	return []colourCase{
		{name: "JPEG YCbCr 4:2:0 (Go encoder)", data: encJPEG(t, rgba), left: red, right: blue, tol: 24},
		{name: "JPEG YCbCr 4:4:4, DC only", data: baseline, left: red, right: blue, tol: 3},
		{name: "JPEG grayscale", data: encJPEG(t, gray), left: rgb{40, 40, 40}, right: rgb{200, 200, 200}, tol: 3},
		{name: "JPEG Adobe CMYK (inverted)", data: cmyk, left: red, right: rgb{128, 128, 128}, tol: 3},
		{name: "JPEG Adobe YCCK", data: ycck, left: red, right: rgb{128, 128, 128}, tol: 3},
		{name: "JPEG 4 components without Adobe APP14", data: dcJPEG(16, 8, 4, -1, 0xC0, sample4([4]uint8{}, [4]uint8{})), want: ErrUnsupported, msg: "re-save as JPEG or PNG"},
		{name: "JPEG 12-bit", data: twelveBit, want: ErrUnsupported, msg: "12-bit JPEG"},
		{name: "JPEG arithmetic", data: sofAs(0xC9), want: ErrUnsupported, msg: "arithmetic-coded JPEG"},
		{name: "JPEG progressive arithmetic", data: sofAs(0xCA), want: ErrUnsupported, msg: "arithmetic-coded JPEG"},
		{name: "JPEG lossless", data: sofAs(0xC3), want: ErrUnsupported, msg: "lossless JPEG"},
		{name: "JPEG hierarchical", data: sofAs(0xC5), want: ErrUnsupported, msg: "hierarchical JPEG"},
		{name: "JPEG-LS", data: sofAs(0xF7), want: ErrUnsupported, msg: "JPEG-LS"},
		{name: "PNG RGB 8", data: encPNG(t, rgba), left: red, right: blue},
		{name: "PNG RGBA 8, transparent half", data: encPNG(t, nrgba), left: red, right: white},
		{name: "PNG RGBA 16, half-transparent blue", data: encPNG(t, nrgba64), left: red, right: rgb{127, 127, 255}, tol: 1},
		{name: "PNG gray 8", data: encPNG(t, gray), left: rgb{40, 40, 40}, right: rgb{200, 200, 200}},
		{name: "PNG gray 16", data: encPNG(t, gray16), left: rgb{40, 40, 40}, right: rgb{200, 200, 200}},
		{name: "PNG gray+alpha 8", data: rawPNG(16, 16, 8, 4, ga8), left: rgb{100, 100, 100}, right: white},
		{name: "PNG gray+alpha 16", data: rawPNG(16, 16, 16, 4, ga16), left: rgb{100, 100, 100}, right: white},
		{name: "PNG palette", data: encPNG(t, pal), left: red, right: blue},
		{name: "PNG palette with tRNS", data: encPNG(t, palT), left: white, right: blue},
		{name: "WebP lossless", data: lossless, left: c0, right: c1},
		{name: "WebP lossy", data: lossy, left: l0, right: l1, tol: 20},
		{name: "WebP lossless with alpha", data: alpha, left: white, right: white, tol: 1},
		{name: "WebP animated", data: webpVP8X(lossless, 1, 1, 0x02, nil), want: ErrUnsupported, msg: "animated WebP"},
		{name: "GIF", data: gifBuf.Bytes(), want: ErrUnsupported, msg: "GIF, re-save as JPEG or PNG"},
		{name: "BMP", data: bmp, want: ErrUnsupported, msg: "BMP, re-save"},
		{name: "TIFF little-endian", data: []byte("II*\x00\x08\x00\x00\x00"), want: ErrUnsupported, msg: "TIFF, re-save"},
		{name: "TIFF big-endian", data: []byte("MM\x00*\x00\x00\x00\x08"), want: ErrUnsupported, msg: "TIFF, re-save"},
		{name: "HEIC", data: []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), want: ErrUnsupported, msg: "HEIC, re-save"},
		{name: "AVIF", data: []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), want: ErrUnsupported, msg: "AVIF, re-save"},
		{name: "HEIF (mif1 only)", data: []byte("\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1"), want: ErrUnsupported, msg: "HEIF, re-save"},
		{name: "JPEG XL codestream", data: []byte{0xFF, 0x0A, 0xFA, 0x7F}, want: ErrUnsupported, msg: "JPEG XL, re-save"},
		{name: "JPEG XL container", data: []byte("\x00\x00\x00\x0cJXL \r\n\x87\n\x00\x00"), want: ErrUnsupported, msg: "JPEG XL, re-save"},
		{name: "JPEG 2000", data: []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"), want: ErrUnsupported, msg: "JPEG 2000, re-save"},
		{name: "text", data: []byte("oneface-ref1:AAAA"), want: ErrUnsupported, msg: "not a known image signature"},
		{name: "truncated PNG", data: encPNG(t, rgba)[:60], want: ErrCorrupt},
		{name: "truncated JPEG", data: baseline[:len(baseline)-20], want: ErrCorrupt},
		{name: "corrupt WebP", data: lossless[:40], want: ErrCorrupt},
	}
}

// TestColourModels is the format/colour-model table: each row decodes to
// the right colours, or is refused with the right, named error.
func TestColourModels(t *testing.T) {
	for _, c := range colourCases(t) {
		t.Run(c.name, func(t *testing.T) {
			img, info, err := Decode(c.data, Limits{})
			if c.want != nil {
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("got %v, want %v containing %q", err, c.want, c.msg)
				}
				if errors.Is(c.want, ErrUnsupported) && errors.Is(err, ErrCorrupt) {
					t.Fatal("unsupported input reported as corrupt")
				}
				if f, serr := Sniff(c.data); serr != nil && (f == "") != (c.name == "text" || strings.HasPrefix(c.name, "JPEG 4 comp")) {
					t.Fatalf("Sniff named %q: %v", f, serr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ThreeChannel(img) {
				t.Fatalf("%T is not an opaque three-channel image", img)
			}
			b := img.Bounds()
			if b.Dx() != info.Width || b.Dy() != info.Height {
				t.Fatalf("bounds %v, info %+v", b, info)
			}
			l, r := at(img, 2, 2), at(img, b.Dx()-3, 2)
			if !near(l, c.left, c.tol) || !near(r, c.right, c.tol) {
				t.Fatalf("halves %v | %v, want %v | %v (±%d)", l, r, c.left, c.right, c.tol)
			}
			t.Logf("%s %dx%d → %T: %v | %v", info.Format, b.Dx(), b.Dy(), img, l, r)
		})
	}
}

// marked is a w×h grey image with a red 2×2 block at x 2..3, y 0..1.
func marked(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 0x80
	}
	for y := range 2 {
		for x := 2; x < 4; x++ {
			m.Set(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	return m
}

// TestOrientationEveryContainer: the same Orientation tag carried by a
// JPEG APP1 segment, a PNG eXIf chunk (bare or with an "Exif\0\0" prefix,
// either byte order) or a WebP EXIF chunk gives the same upright image.
func TestOrientationEveryContainer(t *testing.T) {
	src := marked(12, 8)
	plainPNG := encPNG(t, src)
	webpPlain := xImageFile(t, "blue-purple-pink.lossless.webp")
	wimg, _, err := Decode(webpPlain, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ww, wh := wimg.Bounds().Dx(), wimg.Bounds().Dy()
	for o := uint16(1); o <= 8; o++ {
		want := Orient(src, int(o))
		wantW := Orient(wimg, int(o))
		for _, c := range []struct {
			name string
			data []byte
			want *image.RGBA
		}{
			{"PNG eXIf MM", withPNGChunk(plainPNG, pngChunk("eXIf", exifTIFF(o, binary.BigEndian))), want},
			{"PNG eXIf II", withPNGChunk(plainPNG, pngChunk("eXIf", exifTIFF(o, binary.LittleEndian))), want},
			{"PNG eXIf with Exif prefix", withPNGChunk(plainPNG, pngChunk("eXIf", append([]byte("Exif\x00\x00"), exifTIFF(o, binary.BigEndian)...))), want},
			{"WebP EXIF", webpVP8X(webpPlain, ww, wh, 0x08, map[string][]byte{"EXIF": exifTIFF(o, binary.LittleEndian)}), wantW},
		} {
			if got := Orientation(c.data); got != int(o) {
				t.Fatalf("%s, orientation %d: read %d", c.name, o, got)
			}
			img, info, err := Decode(c.data, Limits{})
			if err != nil {
				t.Fatalf("%s, orientation %d: %v", c.name, o, err)
			}
			if info.Orientation != int(o) || img.Bounds() != c.want.Bounds() {
				t.Fatalf("%s, orientation %d: %v %+v, want %v", c.name, o, img.Bounds(), info, c.want.Bounds())
			}
			got := Flatten(img)
			if !bytes.Equal(got.Pix, c.want.Pix) {
				t.Fatalf("%s, orientation %d: pixels differ from the rotated original", c.name, o)
			}
		}
		// JPEG APP1: lossy, so compare where the red marker lands.
		j := withJPEGExif(encJPEG(t, src), o)
		img, info, err := Decode(j, Limits{})
		if err != nil || info.Orientation != int(o) || img.Bounds() != want.Bounds() {
			t.Fatalf("JPEG orientation %d: %v %+v", o, err, info)
		}
		if p := redCentre(want); p != redCentre(img) {
			t.Fatalf("JPEG orientation %d: marker at %v, want %v", o, redCentre(img), p)
		}
	}
}

func redCentre(m image.Image) image.Point {
	var sx, sy, n int
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if c := at(m, x, y); int(c.r)-int(c.g) > 64 {
				sx, sy, n = sx+x, sy+y, n+1
			}
		}
	}
	if n == 0 {
		return image.Pt(-1, -1)
	}
	return image.Pt((2*sx+n)/(2*n), (2*sy+n)/(2*n))
}

func TestOrientationMalformed(t *testing.T) {
	p := encPNG(t, marked(6, 4))
	for _, o := range []uint16{0, 9, 0xFFFF} {
		data := withPNGChunk(p, pngChunk("eXIf", exifTIFF(o, binary.BigEndian)))
		if got := Orientation(data); got != 1 {
			t.Errorf("orientation value %d read as %d, want 1", o, got)
		}
	}
	data := withPNGChunk(p, pngChunk("eXIf", exifTIFF(6, binary.BigEndian)))
	for n := range len(data) {
		_ = Orientation(data[:n]) // every truncation: no panic
	}
}

// opaqueOnly hides an image's concrete type, forcing Orient's generic path.
type opaqueOnly struct{ image.Image }

// TestOrientFastPaths: the per-type fast paths of Orient give the colours
// of the generic path (image.Image.At) for every orientation.
func TestOrientFastPaths(t *testing.T) {
	ycc, _ := jpeg.Decode(bytes.NewReader(encJPEG(t, marked(12, 8))))
	gray := image.NewGray(image.Rect(0, 0, 12, 8))
	cmyk := image.NewCMYK(image.Rect(0, 0, 12, 8))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	for i := range cmyk.Pix {
		cmyk.Pix[i] = uint8(i * 13)
	}
	rgba, nrgba, nrgba64 := image.NewRGBA(gray.Rect), image.NewNRGBA(gray.Rect), image.NewNRGBA64(gray.Rect)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(i * 11)
	}
	for i := range nrgba64.Pix {
		nrgba64.Pix[i] = uint8(i * 29)
	}
	draw.Draw(rgba, rgba.Rect, nrgba, image.Point{}, draw.Src) // valid premultiplied values
	gray16 := image.NewGray16(gray.Rect)
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(i * 31)
	}
	pal := image.NewPaletted(gray.Rect, color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 100}, color.Black})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	for _, src := range []image.Image{ycc, gray, cmyk, rgba, nrgba, nrgba64, gray16, pal} {
		for o := 1; o <= 8; o++ {
			fast, slow := Orient(src, o), Orient(opaqueOnly{src}, o)
			if fast.Bounds() != slow.Bounds() {
				t.Fatalf("%T o=%d: %v vs %v", src, o, fast.Bounds(), slow.Bounds())
			}
			for i := range fast.Pix {
				if d := int(fast.Pix[i]) - int(slow.Pix[i]); d < -1 || d > 1 {
					t.Fatalf("%T o=%d: byte %d is %d, generic %d", src, o, i, fast.Pix[i], slow.Pix[i])
				}
			}
		}
	}
}
