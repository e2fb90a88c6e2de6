package embed

import (
	"math"
	"testing"
)

func TestMeanAndCosine(t *testing.T) {
	var a, b Embedding
	a[0], b[1] = 1, 1
	if d := CosineDistance(&a, &b); math.Abs(d-1) > 1e-12 {
		t.Fatalf("orthogonal: %g", d)
	}
	m, ok := Mean([]Embedding{a, b})
	if !ok {
		t.Fatal("no mean")
	}
	want := float32(1 / math.Sqrt2)
	if math.Abs(float64(m[0]-want)) > 1e-7 || math.Abs(float64(m[1]-want)) > 1e-7 {
		t.Fatalf("mean %v %v, want %v", m[0], m[1], want)
	}
	if d := CosineDistance(&m, &a); math.Abs(d-(1-1/math.Sqrt2)) > 1e-7 {
		t.Fatalf("distance to the mean %g", d)
	}
	if one, ok := Mean([]Embedding{a}); !ok || one != a {
		t.Fatal("mean of one is not itself")
	}
	neg := a
	neg[0] = -1
	if _, ok := Mean([]Embedding{a, neg}); ok {
		t.Fatal("zero mean accepted")
	}
	if _, ok := Mean(nil); ok {
		t.Fatal("mean of none accepted")
	}
}
