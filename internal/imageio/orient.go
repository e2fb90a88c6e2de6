package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
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
// modified.
func Orient(img image.Image, o int) *image.RGBA {
	src := Flatten(img)
	if o < 2 || o > 8 {
		return src
	}
	defer Wipe(src)
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
			}
			si := sy*src.Stride + sx*4
			di := y*dst.Stride + x*4
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
