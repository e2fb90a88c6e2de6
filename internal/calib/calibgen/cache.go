package calibgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	_ "image/jpeg" // the dev sets are JPEG
	_ "image/png"
	"math"

	"github.com/oneface/oneface/internal/facerec"
)

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }

// decodeImage decodes in Go, as internal/embed's measurements do, so the
// landmarks and the embedding refer to the same pixels.
// Images above maxPixels are refused before decoding.
func decodeImage(b []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("calibgen: %d×%d pixels, limit %d", cfg.Width, cfg.Height, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}

const maxPixels = 40 << 20

// encodeRecord is the cache record: 1 (acquired) or 0, then the 128
// descriptor and 512 embedding components as float32 little-endian.
func encodeRecord(s Sample, ok bool) []byte {
	c := make([]byte, recordSize)
	if !ok {
		return c
	}
	c[0] = 1
	for i, v := range s.Dlib {
		binary.LittleEndian.PutUint32(c[1+4*i:], math.Float32bits(v))
	}
	for i, v := range s.Arc {
		binary.LittleEndian.PutUint32(c[1+4*facerec.DescriptorSize+4*i:], math.Float32bits(v))
	}
	return c
}

func decodeRecord(c []byte) (Sample, bool) {
	var s Sample
	if c[0] == 0 {
		return s, false
	}
	for i := range s.Dlib {
		s.Dlib[i] = math.Float32frombits(binary.LittleEndian.Uint32(c[1+4*i:]))
	}
	for i := range s.Arc {
		s.Arc[i] = math.Float32frombits(binary.LittleEndian.Uint32(c[1+4*facerec.DescriptorSize+4*i:]))
	}
	return s, true
}
