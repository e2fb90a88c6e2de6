package embed

import (
	"encoding/binary"
	"image"
	"testing"
)

// FuzzAlign feeds arbitrary landmark coordinates (dlib's output is not
// trusted to be sane: points far outside the frame, coincident points,
// extreme values) to Align: it must return a 112×112 crop or ErrLandmarks,
// never panic.
func FuzzAlign(f *testing.F) {
	seed := make([]byte, 68*8)
	for i := range 68 {
		binary.LittleEndian.PutUint32(seed[8*i:], uint32(40+i%17*3))
		binary.LittleEndian.PutUint32(seed[8*i+4:], uint32(30+i/17*9))
	}
	f.Add(seed)
	f.Add(make([]byte, 68*8))
	big := make([]byte, 68*8)
	for i := range big {
		big[i] = 0x7f
	}
	f.Add(big)
	img := image.NewRGBA(image.Rect(-5, -5, 60, 50))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 68*8 {
			return
		}
		lm := make([]image.Point, 68)
		for i := range lm {
			lm[i] = image.Pt(int(int32(binary.LittleEndian.Uint32(b[8*i:]))), int(int32(binary.LittleEndian.Uint32(b[8*i+4:]))))
		}
		crop, err := Align(img, lm)
		if err != nil {
			if crop != nil {
				t.Fatal("crop with an error")
			}
			return
		}
		if crop.Bounds() != image.Rect(0, 0, CropSize, CropSize) {
			t.Fatalf("crop bounds %v", crop.Bounds())
		}
	})
}
