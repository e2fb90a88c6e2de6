package pad

import (
	"image"
	"image/draw"
	"math"
)

// cropBox is Silent-Face's crop region around a face box (x, y, w, h) in
// a frame of size W×H, as its test code computes it: the box scaled by
// min(scale, (H−1)/h, (W−1)/w) about its centre, shifted (not shrunk) to
// stay inside the frame, corners truncated to integers, both corners
// inclusive.
func cropBox(box image.Rectangle, W, H int, scale float64) (x0, y0, x1, y1 int) {
	bw, bh := float64(box.Dx()), float64(box.Dy())
	scale = math.Min(scale, math.Min(float64(H-1)/bh, float64(W-1)/bw))
	nw, nh := bw*scale, bh*scale
	cx, cy := float64(box.Min.X)+bw/2, float64(box.Min.Y)+bh/2
	lx, ly, rx, ry := cx-nw/2, cy-nh/2, cx+nw/2, cy+nh/2
	if lx < 0 {
		rx -= lx
		lx = 0
	}
	if ly < 0 {
		ry -= ly
		ly = 0
	}
	if rx > float64(W-1) {
		lx -= rx - float64(W-1)
		rx = float64(W - 1)
	}
	if ry > float64(H-1) {
		ly -= ry - float64(H-1)
		ry = float64(H - 1)
	}
	return int(lx), int(ly), int(rx), int(ry)
}

// widenBox scales a face box by k about its centre (k = 1: unchanged).
// dlib's HOG box is tighter than the RetinaFace box Silent-Face was trained
// with; widening it is one of the crops measured in docs/liveness.md.
func widenBox(b image.Rectangle, k float64) image.Rectangle {
	if k == 1 {
		return b
	}
	cx, cy := float64(b.Min.X+b.Max.X)/2, float64(b.Min.Y+b.Max.Y)/2
	w, h := float64(b.Dx())*k, float64(b.Dy())*k
	return image.Rect(int(math.Round(cx-w/2)), int(math.Round(cy-h/2)), int(math.Round(cx+w/2)), int(math.Round(cy+h/2)))
}

// toRGBA returns img as an *image.RGBA with its origin at (0,0), copying
// only when needed.
func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	r := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(r, r.Rect, img, b.Min, draw.Src)
	return r
}

// cropResize cuts the inclusive region (x0,y0)–(x1,y1) out of src and
// resizes it to size×size with bilinear interpolation on pixel centres
// (OpenCV's INTER_LINEAR geometry, computed in floating point and rounded
// to 8 bits). It returns the pixels as B, G, R bytes, row-major, pixel
// interleaved (size·size·3 bytes) — the layout of an OpenCV image, which
// the golden-vector hashes are taken over.
func cropResize(src *image.RGBA, x0, y0, x1, y1, size int) []byte {
	w, h := x1-x0+1, y1-y0+1
	out := make([]byte, size*size*3)
	sx, sy := float64(w)/float64(size), float64(h)/float64(size)
	type tap struct {
		i0, i1 int
		a      float64
	}
	taps := func(n int, s float64, lim int) []tap {
		ts := make([]tap, n)
		for d := range n {
			f := (float64(d)+0.5)*s - 0.5
			i := int(math.Floor(f))
			a := f - float64(i)
			if i < 0 {
				i, a = 0, 0
			}
			if i >= lim-1 {
				i, a = lim-1, 0
			}
			ts[d] = tap{i, min(i+1, lim-1), a}
		}
		return ts
	}
	tx, ty := taps(size, sx, w), taps(size, sy, h)
	at := func(x, y, c int) float64 {
		return float64(src.Pix[(y0+y)*src.Stride+(x0+x)*4+c])
	}
	for dy, vy := range ty {
		for dx, vx := range tx {
			for c := range 3 {
				top := at(vx.i0, vy.i0, c)*(1-vx.a) + at(vx.i1, vy.i0, c)*vx.a
				bot := at(vx.i0, vy.i1, c)*(1-vx.a) + at(vx.i1, vy.i1, c)*vx.a
				v := math.Round(top*(1-vy.a) + bot*vy.a)
				out[(dy*size+dx)*3+(2-c)] = byte(min(255, max(0, v))) // RGBA → BGR
			}
		}
	}
	return out
}

// tensor turns size·size BGR bytes into a 1×3×size×size float32 tensor in
// the channel order asked (BGR as stored, or RGB), values 0..255.
func tensor(bgr []byte, size int, rgb bool) []float32 {
	n := size * size
	t := make([]float32, 3*n)
	for p := range n {
		for c := range 3 {
			ch := c
			if rgb {
				ch = 2 - c
			}
			t[ch*n+p] = float32(bgr[p*3+c])
		}
	}
	return t
}
