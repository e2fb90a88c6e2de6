package facerec

import (
	"fmt"
	"math"
)

// DominanceRatio is how much larger (in box area) than every other face a
// face must be to count as the frame's subject when bystanders are visible:
// 2.25, i.e. 1.5× wider. It must also be the face nearest the frame centre.
const DominanceRatio = 2.25

// Single returns the frame's one subject, for callers that need exactly one
// face (enrolment, verification):
//   - no face: [ErrNoFace];
//   - one face: that face;
//   - several: the largest face if it is dominant — at least
//     [DominanceRatio] times the area of every other face and the nearest
//     to the frame centre — else [ErrMultipleFaces].
func (a *Analysis) Single() (Face, error) {
	switch len(a.Faces) {
	case 0:
		return Face{}, ErrNoFace
	case 1:
		return a.Faces[0], nil
	}
	l := a.Faces[0] // largest first
	for _, o := range a.Faces[1:] {
		if float64(area(l.Box)) < DominanceRatio*float64(area(o.Box)) ||
			centreDist2(o.Box, a.Bounds) < centreDist2(l.Box, a.Bounds) {
			return Face{}, fmt.Errorf("%w: %d faces, none dominant", ErrMultipleFaces, len(a.Faces))
		}
	}
	return l, nil
}

// Central returns the face whose box centre is nearest the frame centre
// (ties: the larger). It is the documented selection rule for evaluation
// on datasets such as LFW, whose subject is centred by construction and
// whose bystanders are often larger than the subject; verification uses
// [Analysis.Single]. No face: [ErrNoFace].
func (a *Analysis) Central() (Face, error) {
	if len(a.Faces) == 0 {
		return Face{}, ErrNoFace
	}
	best := 0
	for i := 1; i < len(a.Faces); i++ {
		di, db := centreDist2(a.Faces[i].Box, a.Bounds), centreDist2(a.Faces[best].Box, a.Bounds)
		if di < db || (di == db && area(a.Faces[i].Box) > area(a.Faces[best].Box)) {
			best = i
		}
	}
	return a.Faces[best], nil
}

// Euclidean returns the Euclidean (L2) distance between two descriptors,
// accumulated in float64. This is the metric every oneface threshold
// applies to; note that go-face's ClassifyThreshold compares a *squared*
// distance instead and is never used.
func Euclidean(a, b *Descriptor) float64 {
	var sum float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d * d
	}
	return math.Sqrt(sum)
}
