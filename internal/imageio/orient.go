package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
)

// Bounds on the metadata walks. A JPEG has few segments before its image
// data and IFD0 has a few dozen tags; PNG and WebP chunk walks advance at
// least 8 bytes a step, so they are bounded by the input size.
const (
	maxJPEGSegments = 64
	maxIFDEntries   = 512
)

// Orientation returns the EXIF orientation (1..8) that b's container
// carries — a JPEG APP1 Exif segment, a PNG eXIf chunk, a WebP EXIF chunk —
// or 1 when there is none or it is malformed.
func Orientation(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8}):
		return jpegOrientation(b)
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return pngOrientation(b)
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return webpOrientation(b)
	}
	return 1
}

func jpegOrientation(b []byte) int {
	i := 2
	for seg := 0; seg < maxJPEGSegments && i+4 <= len(b); seg++ {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD9 || marker == 0xDA: // EOI, SOS: no more metadata
			return 1
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no length
			i += 2
			continue
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		body := b[i+4 : i+2+n]
		if marker == 0xE1 && len(body) >= 6 && string(body[:6]) == "Exif\x00\x00" {
			return tiffOrientation(body[6:])
		}
		i += 2 + n
	}
	return 1
}

// pngOrientation reads the eXIf chunk (a bare TIFF header and IFDs). The
// PNG specification puts eXIf before IDAT; like libpng, any position
// before IEND is accepted.
func pngOrientation(b []byte) int {
	i := 8
	for i+8 <= len(b) {
		n := uint64(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		end := uint64(i) + 8 + n
		if end > uint64(len(b)) || typ == "IEND" {
			return 1
		}
		if typ == "eXIf" {
			return tiffOrientation(exifBody(b[i+8 : end]))
		}
		i = int(end) + 4 // CRC
	}
	return 1
}

// webpOrientation reads the EXIF chunk of an extended (VP8X) WebP.
func webpOrientation(b []byte) int {
	i := 12
	for i+8 <= len(b) {
		n := uint64(binary.LittleEndian.Uint32(b[i+4:]))
		end := uint64(i) + 8 + n
		if end > uint64(len(b)) {
			return 1
		}
		if string(b[i:i+4]) == "EXIF" {
			return tiffOrientation(exifBody(b[i+8 : end]))
		}
		i = int(end + end&1) // chunks are padded to even sizes
	}
	return 1
}

// exifBody drops the "Exif\0\0" prefix some writers put before the TIFF
// header of a PNG or WebP EXIF chunk.
func exifBody(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte("Exif\x00\x00"))
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := uint64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > uint64(len(t)) {
		return 1
	}
	n := int(bo.Uint16(t[off:]))
	p := int(off) + 2
	for k := 0; k < n && k < maxIFDEntries; k++ {
		e := p + 12*k
		if e+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		// SHORT (type 3), count 1, value in the first two bytes of the
		// value field.
		if bo.Uint16(t[e+2:]) != 3 || bo.Uint32(t[e+4:]) != 1 {
			return 1
		}
		v := int(bo.Uint16(t[e+8:]))
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

// Orient applies EXIF orientation o (1..8) to img and returns an upright,
// opaque *image.RGBA at the origin (transparency over white). img is not
// modified. The rotation and the conversion are one pass into the result,
// so the only allocation is the result: 4 bytes a pixel.
func Orient(img image.Image, o int) *image.RGBA {
	if o < 1 || o > 8 {
		o = 1
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	px := pixelReader(img)
	for y := 0; y < dh; y++ {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for x := 0; x < dw; x++ {
			var sx, sy int
			switch o {
			case 1:
				sx, sy = x, y
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
			}
			r, g, bl := px(b.Min.X+sx, b.Min.Y+sy)
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r, g, bl, 0xFF
		}
	}
	return dst
}

// pixelReader returns a function giving the opaque colour (over white) of
// img at (x, y), with fast paths for what the decoders return most.
func pixelReader(img image.Image) func(x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) (uint8, uint8, uint8) {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			return color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
		}
	case *image.Gray:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(x, y)]
			return v, v, v
		}
	case *image.Gray16:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(x, y)] // the high byte
			return v, v, v
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i < len(pal) {
				pal[i][0], pal[i][1], pal[i][2] = overWhite(c)
			}
		}
		return func(x, y int) (uint8, uint8, uint8) {
			p := pal[m.Pix[m.PixOffset(x, y)]]
			return p[0], p[1], p[2]
		}
	case *image.CMYK:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x, y)
			return color.CMYKToRGB(m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3])
		}
	case *image.RGBA: // premultiplied: over white is c + (255 - a)
		return func(x, y int) (uint8, uint8, uint8) {
			p := m.Pix[m.PixOffset(x, y):]
			w := 255 - p[3]
			return p[0] + w, p[1] + w, p[2] + w
		}
	case *image.NRGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			p := m.Pix[m.PixOffset(x, y):]
			a, w := uint32(p[3]), 255*uint32(255-p[3])
			return uint8((uint32(p[0])*a + w) / 255), uint8((uint32(p[1])*a + w) / 255), uint8((uint32(p[2])*a + w) / 255)
		}
	case *image.NRGBA64:
		return func(x, y int) (uint8, uint8, uint8) {
			p := m.Pix[m.PixOffset(x, y):]
			c := func(i int) uint32 { return uint32(p[i])<<8 | uint32(p[i+1]) }
			a := c(6)
			w := 0xFFFF * (0xFFFF - a)
			return uint8((c(0)*a + w) / 0xFFFF >> 8), uint8((c(2)*a + w) / 0xFFFF >> 8), uint8((c(4)*a + w) / 0xFFFF >> 8)
		}
	}
	return func(x, y int) (uint8, uint8, uint8) { return overWhite(img.At(x, y)) }
}

// overWhite composites c over white and returns 8-bit RGB.
func overWhite(c color.Color) (r, g, b uint8) {
	r32, g32, b32, a := c.RGBA() // premultiplied, 16-bit
	w := 0xFFFF - a
	return uint8((r32 + w) >> 8), uint8((g32 + w) >> 8), uint8((b32 + w) >> 8)
}
