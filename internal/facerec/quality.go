package facerec

import (
	"image"
	"math"
)

// Quality holds capture-quality measures of one face, computed from the
// pixels of its box in the upright frame. They are measures, not verdicts:
// the verifier's policy sets the limits.
type Quality struct {
	// Sharpness is the variance of the Laplacian of the face's luma
	// (higher is sharper; blur and motion lower it).
	Sharpness float64
	// Brightness is the mean luma of the face box, 0..255.
	Brightness float64
	// Yaw is the nose tip's horizontal offset from the midpoint of the eyes,
	// in eye distances (0 frontal; ±0.5 about 30° turned). NaN without the
	// 68-point landmarks.
	Yaw float64
}

// maxQualitySide bounds the work: large boxes are sampled with a stride.
const maxQualitySide = 160

func measureQuality(img image.Image, box image.Rectangle, landmarks []image.Point) Quality {
	q := Quality{Yaw: math.NaN()}
	r := box.Intersect(img.Bounds())
	if r.Dx() < 3 || r.Dy() < 3 {
		return q
	}
	step := max(1, max(r.Dx(), r.Dy())/maxQualitySide)
	w, h := (r.Dx()+step-1)/step, (r.Dy()+step-1)/step
	luma := make([]float64, w*h)
	var sum float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			cr, cg, cb, _ := img.At(r.Min.X+x*step, r.Min.Y+y*step).RGBA()
			l := (0.299*float64(cr) + 0.587*float64(cg) + 0.114*float64(cb)) / 257
			luma[y*w+x] = l
			sum += l
		}
	}
	q.Brightness = sum / float64(len(luma))
	var lsum, lsq float64
	n := 0
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			lap := luma[i-w] + luma[i+w] + luma[i-1] + luma[i+1] - 4*luma[i]
			lsum += lap
			lsq += lap * lap
			n++
		}
	}
	if n > 0 {
		mean := lsum / float64(n)
		q.Sharpness = lsq/float64(n) - mean*mean
	}
	clear(luma)
	if len(landmarks) == 68 {
		le, re, nose := landmarks[36], landmarks[45], landmarks[30]
		dx, dy := float64(re.X-le.X), float64(re.Y-le.Y)
		if d := math.Hypot(dx, dy); d > 0 {
			midX := float64(le.X+re.X) / 2
			q.Yaw = (float64(nose.X) - midX) / d
		}
	}
	return q
}
