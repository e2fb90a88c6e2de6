package verify

import (
	"math"
	"testing"
)

// TestDistanceByModel: each model compares with its own metric, and a
// template whose length does not fit the model (a signed reference whose
// model ID and template disagree, or a 128-D probe against a 512-D
// template) is never a match: +Inf, not NaN and not a panic.
func TestDistanceByModel(t *testing.T) {
	unit := func(n, hot int) []float32 {
		v := make([]float32, n)
		v[hot] = 1
		return v
	}
	for _, c := range []struct {
		m    Model
		a, b []float32
		want float64
	}{
		{ModelArcFace, unit(512, 0), unit(512, 0), 0},
		{ModelArcFace, unit(512, 0), unit(512, 1), 1},               // orthogonal: cosine distance 1
		{ModelDlib, unit(128, 0), unit(128, 1), math.Sqrt2},         // Euclidean
		{ModelArcFace, unit(128, 0), unit(128, 0), math.Inf(1)},     // 128-D under the embedding
		{ModelDlib, unit(512, 0), unit(512, 0), math.Inf(1)},        // 512-D under dlib
		{ModelArcFace, unit(512, 0), unit(128, 0), math.Inf(1)},     // lengths differ
		{Model("facenet"), unit(512, 0), unit(512, 0), math.Inf(1)}, // unknown model
	} {
		if got := distance(c.m, c.a, c.b); math.Abs(got-c.want) > 1e-12 && !(math.IsInf(got, 1) && math.IsInf(c.want, 1)) {
			t.Errorf("%s, %d vs %d values: %v, want %v", c.m, len(c.a), len(c.b), got, c.want)
		}
	}
}
