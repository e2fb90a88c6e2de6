package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Format names an image format: one of the three Decode accepts, or, from
// [Sniff], one it recognises and refuses.
type Format string

// Formats Decode accepts.
const (
	JPEG Format = "JPEG"
	PNG  Format = "PNG"
	WebP Format = "WebP"
)

// maxSniffSegments bounds the JPEG marker walk looking for the frame
// header; maxBrands bounds the ISO BMFF compatible brands read.
const (
	maxSniffSegments = 256
	maxBrands        = 64
)

// Sniff names the format of b from its signature: [JPEG], [PNG] or
// [WebP]; or, with an error wrapping [ErrUnsupported], the name of an image
// format (or JPEG coding) it recognises but Decode does not take ("HEIC":
// "unsupported format: HEIC, re-save as JPEG or PNG"); or "" and
// [ErrUnsupported] when b does not start like any image it knows. For
// JPEG it also reads the frame header and refuses the codings the decoder
// does not implement. It reads at most the first bytes and the JPEG
// segment headers before the frame header.
func Sniff(b []byte) (Format, error) {
	name := ""
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		if c := jpegCoding(b); c != "" {
			return Format(c), unsupported(c)
		}
		return JPEG, nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		if webpAnimated(b) {
			return "animated WebP", unsupported("animated WebP")
		}
		return WebP, nil
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		name = "GIF"
	case isBMP(b):
		name = "BMP"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")),
		bytes.HasPrefix(b, []byte("II+\x00")), bytes.HasPrefix(b, []byte("MM\x00+")):
		name = "TIFF"
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		name = bmffName(b)
	case bytes.HasPrefix(b, []byte{0xFF, 0x0A}),
		bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cJXL \r\n\x87\n")):
		name = "JPEG XL"
	case bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  \r\n\x87\n")),
		bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51}):
		name = "JPEG 2000"
	case bytes.HasPrefix(b, []byte("8BPS")):
		name = "Photoshop PSD"
	case bytes.HasPrefix(b, []byte("%PDF-")):
		name = "PDF"
	case bytes.HasPrefix(b, []byte{0, 0, 1, 0}) && len(b) >= 6 && b[4]|b[5] != 0:
		name = "ICO"
	default:
		return "", fmt.Errorf("%w: not a known image signature (% x), re-save as JPEG or PNG", ErrUnsupported, b[:min(len(b), 8)])
	}
	return Format(name), unsupported(name)
}

func unsupported(name string) error {
	return fmt.Errorf("%w: %s, re-save as JPEG or PNG", ErrUnsupported, name)
}

// jpegCoding walks the JPEG segments up to the frame header and names a
// coding image/jpeg does not implement, or returns "" (supported, or no
// frame header found: the decoder then reports what is wrong).
func jpegCoding(b []byte) string {
	i := 2
	for seg := 0; seg < maxSniffSegments && i+4 <= len(b); seg++ {
		if b[i] != 0xFF {
			return ""
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			i += 2
			continue
		case m == 0xD9 || m == 0xDA: // EOI or SOS before any frame header
			return ""
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		switch m {
		case 0xC0, 0xC1, 0xC2: // baseline, extended, progressive (Huffman)
			if i+4 < len(b) && b[i+4] != 8 {
				return fmt.Sprintf("%d-bit JPEG", b[i+4])
			}
			return ""
		case 0xC3:
			return "lossless JPEG"
		case 0xC5, 0xC6, 0xC7:
			return "hierarchical JPEG"
		case 0xC9, 0xCA:
			return "arithmetic-coded JPEG"
		case 0xCB:
			return "lossless arithmetic-coded JPEG"
		case 0xCD, 0xCE, 0xCF:
			return "hierarchical arithmetic-coded JPEG"
		case 0xF7:
			return "JPEG-LS"
		}
		if n < 2 {
			return ""
		}
		i += 2 + n
	}
	return ""
}

// webpAnimated reports whether a WebP's VP8X header sets the animation
// flag.
func webpAnimated(b []byte) bool {
	return len(b) >= 21 && string(b[12:16]) == "VP8X" && b[20]&0x02 != 0
}

// isBMP matches "BM" followed by a plausible DIB header size, so that text
// starting with "BM" is not taken for a bitmap.
func isBMP(b []byte) bool {
	if len(b) < 18 || b[0] != 'B' || b[1] != 'M' {
		return false
	}
	switch binary.LittleEndian.Uint32(b[14:]) {
	case 12, 16, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// bmffName names an ISO base media file (HEIC, AVIF, video...) from its
// ftyp brands.
func bmffName(b []byte) string {
	size := int(binary.BigEndian.Uint32(b))
	brands := []string{string(b[8:12])}
	for i := 16; i+4 <= min(size, len(b)) && len(brands) < maxBrands; i += 4 {
		brands = append(brands, string(b[i:i+4]))
	}
	has := func(names ...string) bool {
		for _, br := range brands {
			for _, n := range names {
				if br == n {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("avif", "avis"):
		return "AVIF"
	case has("heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"):
		return "HEIC"
	case has("mif1", "msf1"):
		return "HEIF"
	case has("jxl "):
		return "JPEG XL"
	case has("crx "):
		return "Canon RAW (CR3)"
	}
	return fmt.Sprintf("ISO media file (brand %q, a video or HEIF variant)", brands[0])
}
