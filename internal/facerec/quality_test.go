package facerec

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestMeasureQuality(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 100, 100))
	checker := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for y := range 100 {
		for x := range 100 {
			flat.Set(x, y, color.Gray{60})
			v := uint8(0)
			if (x/2+y/2)%2 == 0 {
				v = 255
			}
			checker.Set(x, y, color.Gray{v})
		}
	}
	box := image.Rect(10, 10, 90, 90)
	qf, qc := measureQuality(flat, box, nil), measureQuality(checker, box, nil)
	if qf.Sharpness != 0 || math.Abs(qf.Brightness-60) > 0.5 || !math.IsNaN(qf.Yaw) {
		t.Fatalf("flat: %+v", qf)
	}
	if qc.Sharpness < 1000 || math.Abs(qc.Brightness-127.5) > 2 {
		t.Fatalf("checkerboard: %+v", qc)
	}
	// Yaw from 68 landmarks: eyes' outer corners 36 and 45, nose tip 30.
	lm := make([]image.Point, 68)
	lm[36], lm[45] = image.Pt(30, 40), image.Pt(70, 40)
	for _, c := range []struct {
		noseX int
		want  float64
	}{{50, 0}, {60, 0.25}, {30, -0.5}} {
		lm[30] = image.Pt(c.noseX, 60)
		if q := measureQuality(flat, box, lm); math.Abs(q.Yaw-c.want) > 1e-9 {
			t.Errorf("nose at %d: yaw %v, want %v", c.noseX, q.Yaw, c.want)
		}
	}
	// A box outside the frame measures nothing rather than panicking.
	if q := measureQuality(flat, image.Rect(200, 200, 300, 300), nil); q.Sharpness != 0 || q.Brightness != 0 {
		t.Fatalf("outside: %+v", q)
	}
}
