package liveness

import (
	"image"
	"math"
)

// LandmarkCount is the number of landmarks the checker needs: dlib's
// 68-point layout (iBUG 300-W), as [facerec.Face.Landmarks] gives it with
// the 68-point predictor.
const LandmarkCount = 68

// Indices into the 68-point layout. "Left" and "right" are the image's: the
// points are numbered by position in the frame, not by anatomy.
const (
	leftEyeFirst  = 36 // 36..41: the eye on the image's left (the subject's right)
	rightEyeFirst = 42 // 42..47
	leftEyeOuter  = 36
	rightEyeOuter = 45
	noseFirst     = 27 // 27..35: bridge and base of the nose
	noseTip       = 30
)

type vec struct{ x, y float64 }

func (a vec) sub(b vec) vec       { return vec{a.x - b.x, a.y - b.y} }
func (a vec) add(b vec) vec       { return vec{a.x + b.x, a.y + b.y} }
func (a vec) scale(s float64) vec { return vec{a.x * s, a.y * s} }
func (a vec) dot(b vec) float64   { return a.x*b.x + a.y*b.y }
func (a vec) norm() float64       { return math.Hypot(a.x, a.y) }

func vecs(ps []image.Point) []vec {
	out := make([]vec, len(ps))
	for i, p := range ps {
		out[i] = vec{float64(p.X), float64(p.Y)}
	}
	return out
}

// eyeAspect is Soukupová and Čech's eye aspect ratio of the six points
// p[0..5] of one eye: (|p1−p5| + |p2−p4|) / (2·|p0−p3|).
func eyeAspect(p []vec) float64 {
	w := p[0].sub(p[3]).norm()
	if w == 0 {
		return math.NaN()
	}
	return (p[1].sub(p[5]).norm() + p[2].sub(p[4]).norm()) / (2 * w)
}

func ear(l []vec) float64 {
	return (eyeAspect(l[leftEyeFirst:leftEyeFirst+6]) + eyeAspect(l[rightEyeFirst:rightEyeFirst+6])) / 2
}

func yaw(l []vec) float64 {
	a, b, n := l[leftEyeOuter], l[rightEyeOuter], l[noseTip]
	axis := b.sub(a)
	d2 := axis.dot(axis)
	if d2 == 0 {
		return math.NaN()
	}
	return n.sub(a.add(b).scale(0.5)).dot(axis) / d2
}

// EAR is the eye aspect ratio of a face, the mean over both eyes
// (T. Soukupová, J. Čech, "Real-Time Eye Blink Detection using Facial
// Landmarks", CVWW 2016): the eyelids' opening divided by the eye's width,
// dimensionless and invariant to scale, rotation and translation. The
// measured levels on the dev faces are in docs/liveness.md
// (TestEARDev). It is NaN unless landmarks has [LandmarkCount] points.
func EAR(landmarks []image.Point) float64 {
	if len(landmarks) != LandmarkCount {
		return math.NaN()
	}
	return ear(vecs(landmarks))
}

// Yaw is a head-turn measure from landmark geometry: the nose tip's offset
// from the midpoint of the outer eye corners, projected on the line through
// those corners, in units of the corners' distance. 0 is frontal; it is
// positive when the nose points to the image's right (+x), which in an
// un-mirrored camera frame is the subject turning to their own left.
// Projecting on the eye line makes it invariant to in-plane rotation,
// scale and translation; mirroring the frame negates it (TestYawDev). It
// is NaN unless landmarks has [LandmarkCount] points.
func Yaw(landmarks []image.Point) float64 {
	if len(landmarks) != LandmarkCount {
		return math.NaN()
	}
	return yaw(vecs(landmarks))
}

// affine is x' = m[0]·x + m[1]·y + m[2], y' = m[3]·x + m[4]·y + m[5].
type affine [6]float64

func (m affine) apply(p vec) vec {
	return vec{m[0]*p.x + m[1]*p.y + m[2], m[3]*p.x + m[4]*p.y + m[5]}
}

// fitAffine returns the affine map that takes a's points to b's with the
// least squared error, over the indices for which use is true (nil: all).
// A flat picture of a face (a print, a screen) that is moved, tilted or
// turned in front of the camera changes its landmarks by such a map, up to
// perspective and the detector's jitter.
func fitAffine(a, b []vec, use func(int) bool) (affine, bool) {
	var m [3][3]float64
	var rx, ry [3]float64
	for i := range a {
		if use != nil && !use(i) {
			continue
		}
		v := [3]float64{a[i].x, a[i].y, 1}
		for r := range 3 {
			for s := range 3 {
				m[r][s] += v[r] * v[s]
			}
			rx[r] += v[r] * b[i].x
			ry[r] += v[r] * b[i].y
		}
	}
	cx, okx := solve3(m, rx)
	cy, oky := solve3(m, ry)
	return affine{cx[0], cx[1], cx[2], cy[0], cy[1], cy[2]}, okx && oky
}

func applyAll(m affine, ps []vec) []vec {
	out := make([]vec, len(ps))
	for i, p := range ps {
		out[i] = m.apply(p)
	}
	return out
}

// flatResidual is how far b is from being a flat picture of a: the RMS
// distance between b and the best affine image of a, over all points, in
// units of b's outer-eye-corner distance. It is 0 for a repeated frame and
// stays at the detector's jitter for a picture moved rigidly. NaN for
// degenerate input.
func flatResidual(a, b []vec) float64 {
	m, ok := fitAffine(a, b, nil)
	iod := b[leftEyeOuter].sub(b[rightEyeOuter]).norm()
	if !ok || iod == 0 {
		return math.NaN()
	}
	var sum float64
	for i := range a {
		e := m.apply(a[i]).sub(b[i])
		sum += e.dot(e)
	}
	return math.Sqrt(sum/float64(len(a))) / iod
}

// closure is how much more closed the eyes are in b than a flat picture of
// a would show: EAR(b) divided by the EAR of a mapped onto b by the affine
// map fitted on every point but the eyes. Tilting or bending a print
// changes EAR, but changes the rest of the face with it, so the ratio stays
// near 1; a blink moves only the eyelids and drives it towards 0.
func closure(a, b []vec) float64 {
	m, ok := fitAffine(a, b, func(i int) bool { return i < leftEyeFirst || i >= rightEyeFirst+6 })
	if !ok {
		return math.NaN()
	}
	return ear(b) / ear(applyAll(m, a))
}

// turnBeyondFlat is how much more b is turned than a flat picture of a:
// Yaw(b) minus the Yaw of a mapped onto b by the affine map fitted on every
// point but the nose. Turning a print about a vertical axis leaves it near
// 0; a head turn moves the nose, which stands out of the face's plane.
func turnBeyondFlat(a, b []vec) float64 {
	m, ok := fitAffine(a, b, func(i int) bool { return i < noseFirst || i > noseFirst+8 })
	if !ok {
		return math.NaN()
	}
	return yaw(b) - yaw(applyAll(m, a))
}

// solve3 solves m·x = r by Cramer's rule; ok is false when m is singular.
func solve3(m [3][3]float64, r [3]float64) (x [3]float64, ok bool) {
	det := func(a [3][3]float64) float64 {
		return a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) -
			a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) +
			a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
	}
	d := det(m)
	if d == 0 || math.IsNaN(d) {
		return x, false
	}
	for k := range 3 {
		mk := m
		for i := range 3 {
			mk[i][k] = r[i]
		}
		x[k] = det(mk) / d
	}
	return x, true
}
