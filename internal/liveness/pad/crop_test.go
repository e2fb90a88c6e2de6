package pad

import (
	"errors"
	"image"
	"image/color"
	"testing"
)

func TestCropBox(t *testing.T) {
	for _, c := range []struct {
		box            image.Rectangle
		W, H           int
		scale          float64
		x0, y0, x1, y1 int
	}{
		// Centred, no clamp: 20×20 box scaled 2 → 40×40 about (50,50).
		{image.Rect(40, 40, 60, 60), 200, 200, 2, 30, 30, 70, 70},
		// Near the left/top edge: shifted in, not shrunk.
		{image.Rect(0, 0, 20, 20), 200, 200, 2, 0, 0, 40, 40},
		// Near the right/bottom edge.
		{image.Rect(180, 180, 200, 200), 200, 200, 2, 159, 159, 199, 199},
		// Scale bounded by the frame height: (H−1)/h = 99/50.
		{image.Rect(75, 25, 125, 75), 200, 100, 4, 50, 0, 149, 99},
	} {
		x0, y0, x1, y1 := cropBox(c.box, c.W, c.H, c.scale)
		if x0 != c.x0 || y0 != c.y0 || x1 != c.x1 || y1 != c.y1 {
			t.Errorf("cropBox(%v, %d×%d, %v) = (%d,%d)-(%d,%d), want (%d,%d)-(%d,%d)", c.box, c.W, c.H, c.scale, x0, y0, x1, y1, c.x0, c.y0, c.x1, c.y1)
		}
	}
}

func TestCropRefusesBadBoxes(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	for _, b := range []image.Rectangle{{}, image.Rect(10, 10, 11, 50), image.Rect(200, 200, 260, 260), image.Rect(-90, -90, -10, -10)} {
		if _, err := Crop(img, b, MiniFASNetV2, 1); !errors.Is(err, ErrBox) {
			t.Errorf("box %v: %v, want ErrBox", b, err)
		}
	}
	if _, err := Crop(img, image.Rect(10, 10, 50, 50), Model(9), 1); err == nil {
		t.Error("unknown model accepted")
	}
}

func TestCropResize(t *testing.T) {
	// A uniform colour stays that colour, in B, G, R order; an image with a
	// non-zero origin crops the same as its copy at the origin.
	img := image.NewRGBA(image.Rect(5, 7, 205, 167))
	for y := 7; y < 167; y++ {
		for x := 5; x < 205; x++ {
			img.Set(x, y, color.RGBA{200, 100, 50, 255})
		}
	}
	c, err := Crop(img, image.Rect(80, 60, 130, 110), FRLiveness, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 128*128*3 {
		t.Fatalf("%d bytes", len(c))
	}
	for i := 0; i < len(c); i += 3 {
		if c[i] != 50 || c[i+1] != 100 || c[i+2] != 200 {
			t.Fatalf("pixel %d = %v, want B,G,R = 50,100,200", i/3, c[i:i+3])
		}
	}
	tn := tensor(c, 128, false)
	if tn[0] != 50 || tn[128*128] != 100 || tn[2*128*128] != 200 {
		t.Fatalf("BGR tensor planes %v %v %v", tn[0], tn[128*128], tn[2*128*128])
	}
	tn = tensor(c, 128, true)
	if tn[0] != 200 || tn[2*128*128] != 50 {
		t.Fatalf("RGB tensor planes %v %v", tn[0], tn[2*128*128])
	}
}
