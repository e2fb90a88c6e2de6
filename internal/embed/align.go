package embed

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// CropSize is the side of the aligned face crop, in pixels.
const CropSize = 112

// Template holds the five reference points of the standard ArcFace
// 112×112 alignment, in crop pixel coordinates: left eye centre, right eye
// centre, nose tip, left mouth corner, right mouth corner ("left" as seen
// in the image). The values are InsightFace's arcface_dst, also the
// REFERENCE_FACIAL_POINTS of the publisher's lib/fr_feature.js.
var Template = [5][2]float64{
	{38.2946, 51.6963},
	{73.5318, 51.5014},
	{56.0252, 71.7366},
	{41.5493, 92.3655},
	{70.7299, 92.2041},
}

// FivePoints reduces dlib's 68 landmarks (iBUG 300-W numbering, 0-based)
// to the five alignment points in the order of [Template]: the mean of
// points 36–41 (left eye in the image), the mean of 42–47 (right eye),
// point 30 (nose tip), 48 and 54 (mouth corners). Any other number of
// landmarks gives [ErrLandmarks]. Coordinates are those of the landmarks.
func FivePoints(landmarks []image.Point) ([5][2]float64, error) {
	var p [5][2]float64
	if len(landmarks) != 68 {
		return p, fmt.Errorf("%w: %d landmarks, want 68", ErrLandmarks, len(landmarks))
	}
	mean := func(from, to int) [2]float64 {
		var x, y float64
		for _, q := range landmarks[from : to+1] {
			x += float64(q.X)
			y += float64(q.Y)
		}
		n := float64(to - from + 1)
		return [2]float64{x / n, y / n}
	}
	at := func(i int) [2]float64 { return [2]float64{float64(landmarks[i].X), float64(landmarks[i].Y)} }
	p[0] = mean(36, 41)
	p[1] = mean(42, 47)
	p[2] = at(30)
	p[3] = at(48)
	p[4] = at(54)
	return p, nil
}

// Transform is a 2-D affine map: (x, y) ↦ (M[0][0]x + M[0][1]y + M[0][2],
// M[1][0]x + M[1][1]y + M[1][2]), the layout of OpenCV's 2×3 matrices.
type Transform [2][3]float64

// Apply maps one point.
func (t Transform) Apply(x, y float64) (float64, float64) {
	return t[0][0]*x + t[0][1]*y + t[0][2], t[1][0]*x + t[1][1]*y + t[1][2]
}

// Similarity returns the least-squares similarity transform (rotation,
// uniform scale, translation; no reflection, no shear) mapping src onto
// dst: the one minimising Σ‖T(srcᵢ) − dstᵢ‖². With a = s·cos θ and
// b = s·sin θ the problem is linear; on centred points the solution is
// a = Σ(x·x' + y·y')/Σ(x² + y²), b = Σ(x·y' − y·x')/Σ(x² + y²), which is
// Umeyama's closed form (what scikit-image's SimilarityTransform.estimate
// computes) whenever that form does not reflect. It reports false when the
// source points all coincide (no transform is defined).
func Similarity(src, dst [5][2]float64) (Transform, bool) {
	var sx, sy, dx, dy float64
	for i := range src {
		sx += src[i][0]
		sy += src[i][1]
		dx += dst[i][0]
		dy += dst[i][1]
	}
	n := float64(len(src))
	sx, sy, dx, dy = sx/n, sy/n, dx/n, dy/n
	var num1, num2, den float64
	for i := range src {
		x, y := src[i][0]-sx, src[i][1]-sy
		u, v := dst[i][0]-dx, dst[i][1]-dy
		num1 += x*u + y*v
		num2 += x*v - y*u
		den += x*x + y*y
	}
	if !(den > 1e-9) {
		return Transform{}, false
	}
	a, b := num1/den, num2/den
	return Transform{
		{a, -b, dx - (a*sx - b*sy)},
		{b, a, dy - (b*sx + a*sy)},
	}, true
}

// invert returns the inverse of a similarity (or any invertible affine)
// transform.
func (t Transform) invert() (Transform, bool) {
	det := t[0][0]*t[1][1] - t[0][1]*t[1][0]
	if !(math.Abs(det) > 1e-12) {
		return Transform{}, false
	}
	ia, ib := t[1][1]/det, -t[0][1]/det
	ic, id := -t[1][0]/det, t[0][0]/det
	return Transform{
		{ia, ib, -(ia*t[0][2] + ib*t[1][2])},
		{ic, id, -(ic*t[0][2] + id*t[1][2])},
	}, true
}

// Align warps the face whose 68 dlib landmarks are given (in img's
// coordinates) onto the [Template] and returns the 112×112 RGB crop (alpha
// 255), computed with [Similarity] and [Warp]. It fails with
// [ErrLandmarks] for anything but 68 landmarks or a degenerate set.
func Align(img image.Image, landmarks []image.Point) (*image.RGBA, error) {
	p, err := FivePoints(landmarks)
	if err != nil {
		return nil, err
	}
	t, ok := Similarity(p, Template)
	if !ok {
		return nil, fmt.Errorf("%w: degenerate landmarks", ErrLandmarks)
	}
	crop, ok := Warp(img, t)
	if !ok {
		return nil, fmt.Errorf("%w: degenerate landmarks", ErrLandmarks)
	}
	return crop, nil
}

// Warp returns the 112×112 crop whose pixel (u, v) is img sampled at
// t⁻¹(u, v), the convention of OpenCV's warpAffine (integer pixel
// coordinates are pixel centres, no half-pixel shift). Sampling is exact
// bilinear interpolation in float64 over the four neighbours; neighbours
// outside img's bounds count as black (OpenCV's BORDER_CONSTANT, value 0);
// results are rounded to the nearest integer. It reports false when t is
// not invertible. Only R, G and B are read; alpha is ignored.
//
// OpenCV's warpAffine with INTER_LINEAR quantises the source position to
// 1/32 pixel and the weights to 15 bits, so it differs from this function
// by a grey level or two on some pixels (measured in TestWarpMatchesOpenCV).
func Warp(img image.Image, t Transform) (*image.RGBA, bool) {
	inv, ok := t.invert()
	if !ok {
		return nil, false
	}
	src := newSampler(img)
	out := image.NewRGBA(image.Rect(0, 0, CropSize, CropSize))
	for v := 0; v < CropSize; v++ {
		for u := 0; u < CropSize; u++ {
			x, y := inv.Apply(float64(u), float64(v))
			var r, g, b float64
			if !math.IsNaN(x) && !math.IsNaN(y) && math.Abs(x) < 1e7 && math.Abs(y) < 1e7 {
				x0, y0 := math.Floor(x), math.Floor(y)
				fx, fy := x-x0, y-y0
				ix, iy := int(x0), int(y0)
				for _, n := range [4]struct {
					dx, dy int
					w      float64
				}{
					{0, 0, (1 - fx) * (1 - fy)},
					{1, 0, fx * (1 - fy)},
					{0, 1, (1 - fx) * fy},
					{1, 1, fx * fy},
				} {
					if n.w == 0 {
						continue
					}
					pr, pg, pb, in := src.rgb(ix+n.dx, iy+n.dy)
					if !in {
						continue
					}
					r += n.w * float64(pr)
					g += n.w * float64(pg)
					b += n.w * float64(pb)
				}
			}
			i := out.PixOffset(u, v)
			out.Pix[i+0] = round8(r)
			out.Pix[i+1] = round8(g)
			out.Pix[i+2] = round8(b)
			out.Pix[i+3] = 255
		}
	}
	return out, true
}

func round8(v float64) uint8 {
	v = math.Floor(v + 0.5)
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// sampler reads 8-bit R, G, B at integer coordinates, with fast paths for
// the image types Go's decoders return.
type sampler struct {
	img   image.Image
	b     image.Rectangle
	rgba  *image.RGBA
	nrgba *image.NRGBA
	ycc   *image.YCbCr
}

func newSampler(img image.Image) *sampler {
	s := &sampler{img: img, b: img.Bounds()}
	switch m := img.(type) {
	case *image.RGBA:
		s.rgba = m
	case *image.NRGBA:
		s.nrgba = m
	case *image.YCbCr:
		s.ycc = m
	}
	return s
}

func (s *sampler) rgb(x, y int) (r, g, b uint8, ok bool) {
	if !(image.Point{x, y}.In(s.b)) {
		return 0, 0, 0, false
	}
	switch {
	case s.rgba != nil:
		i := s.rgba.PixOffset(x, y)
		p := s.rgba.Pix[i : i+3 : i+3]
		return p[0], p[1], p[2], true
	case s.nrgba != nil:
		i := s.nrgba.PixOffset(x, y)
		p := s.nrgba.Pix[i : i+3 : i+3]
		return p[0], p[1], p[2], true
	case s.ycc != nil:
		yi, ci := s.ycc.YOffset(x, y), s.ycc.COffset(x, y)
		r, g, b := color.YCbCrToRGB(s.ycc.Y[yi], s.ycc.Cb[ci], s.ycc.Cr[ci])
		return r, g, b, true
	}
	c := color.RGBAModel.Convert(s.img.At(x, y)).(color.RGBA)
	return c.R, c.G, c.B, true
}
