package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRateIntervals(t *testing.T) {
	// Zero errors: rule of three.
	r := NewRate(0, 300)
	if r.Value != 0 || r.Lo != 0 || !near(r.Hi, 0.01) {
		t.Fatalf("0/300: %+v", r)
	}
	// Clopper-Pearson, checked against the closed forms of the edge cases
	// and a published value: 5/100 → [1.643 %, 11.28 %].
	r = NewRate(5, 100)
	if math.Abs(r.Lo-0.01643) > 1e-4 || math.Abs(r.Hi-0.11283) > 1e-4 {
		t.Fatalf("5/100: %+v", r)
	}
	// 1/n: lower bound 1-(0.975)^(1/n).
	r = NewRate(1, 10)
	if !near(r.Lo, 1-math.Pow(0.975, 0.1)) {
		t.Fatalf("1/10 lower: %v", r.Lo)
	}
	// All errors: upper bound 1, lower bound (0.025)^(1/n).
	r = NewRate(4, 4)
	if r.Hi != 1 || !near(r.Lo, math.Pow(0.025, 0.25)) || r.Value != 1 {
		t.Fatalf("4/4: %+v", r)
	}
	if r := NewRate(0, 0); !math.IsNaN(r.Value) {
		t.Fatal("no trials must not give a rate")
	}
}

func TestRatesByHand(t *testing.T) {
	s := &Scores{Genuine: []float64{0.2, 0.3, 0.5, 0.5, 0.9}, Impostor: []float64{0.4, 0.5, 0.7, 0.8}}
	cases := []struct {
		t         float64
		fmr, fnmr int
	}{
		{0.1, 0, 5},
		{0.3, 0, 4},  // 0.3 is not < 0.3: a genuine miss
		{0.5, 1, 3},  // ties at 0.5: neither side matches
		{0.51, 2, 1}, // both 0.5s match
		{1, 4, 0},
	}
	for _, c := range cases {
		if got := s.FMR(c.t); got.Errors != c.fmr || got.Trials != 4 {
			t.Errorf("FMR(%v) = %d/%d, want %d/4", c.t, got.Errors, got.Trials, c.fmr)
		}
		if got := s.FNMR(c.t); got.Errors != c.fnmr || got.Trials != 5 {
			t.Errorf("FNMR(%v) = %d/%d, want %d/5", c.t, got.Errors, got.Trials, c.fnmr)
		}
	}
	// AUC by hand: pairs (g<i)=..., ties count half.
	// g=0.2: 4 below-impostor; 0.3: 4; 0.5: 2 + 0.5 tie each; 0.9: 0.
	want := (4 + 4 + 2.5 + 2.5 + 0) / 20.0
	if got := s.AUC(); !near(got, want) {
		t.Errorf("AUC %v, want %v", got, want)
	}
	// EER by hand: |FMR-FNMR| is smallest (0.3) at t=0.7, FMR 2/4, FNMR 1/5.
	if eer, th := s.EER(); !near(eer, 0.35) || th != 0.7 {
		t.Errorf("EER %v at %v, want 0.35 at 0.7", eer, th)
	}
}

func TestEERByHand(t *testing.T) {
	// Perfect separation: EER 0. Total overlap: EER 0.5.
	s := &Scores{Genuine: []float64{0.1, 0.2}, Impostor: []float64{0.8, 0.9}}
	if eer, th := s.EER(); eer != 0 || th <= 0.2 || th > 0.8 {
		t.Fatalf("separated: EER %v at %v", eer, th)
	}
	s = &Scores{Genuine: []float64{0.5, 0.5}, Impostor: []float64{0.5, 0.5}}
	if eer, _ := s.EER(); eer != 0.5 {
		t.Fatalf("identical: EER %v", eer)
	}
	// Crossed: at t=0.7, FMR 1/2 (0.5 matches) and FNMR 1/2 (0.7 does not).
	s = &Scores{Genuine: []float64{0.1, 0.7}, Impostor: []float64{0.5, 0.9}}
	if eer, th := s.EER(); eer != 0.5 || th != 0.7 {
		t.Fatalf("crossed: EER %v at %v, want 0.5 at 0.7", eer, th)
	}
}

func TestAtFMR(t *testing.T) {
	imp := make([]float64, 3000)
	for i := range imp {
		imp[i] = 0.5 + float64(i)/10000 // 0.5000 .. 0.7999
	}
	s := &Scores{Genuine: []float64{0.3, 0.4, 0.55, 0.6}, Impostor: imp}
	op, err := s.AtFMR(1e-3)
	if err != nil {
		t.Fatal(err)
	}
	// k = 3: threshold = 4th smallest impostor (0.5003); 3 impostors below.
	if !near(op.Threshold, 0.5003) || op.FMR.Errors != 3 || op.FNMR.Errors != 2 {
		t.Fatalf("%+v", op)
	}
	if _, err := s.AtFMR(1e-4); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("3000 impostors cannot support 1e-4: %v", err)
	}
	if !Supports(300, 1e-2) || Supports(299, 1e-2) {
		t.Fatal("rule-of-three support boundary")
	}
}

// TestMonotone: as the threshold tightens, FMR never rises and FNMR never
// falls.
func TestMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := &Scores{}
	for range 500 {
		s.Genuine = append(s.Genuine, 0.4+0.15*rng.NormFloat64())
		s.Impostor = append(s.Impostor, 0.8+0.1*rng.NormFloat64())
	}
	s.Genuine = append(s.Genuine, 0.6, 0.6, 0.6) // ties
	s.Impostor = append(s.Impostor, 0.6, 0.6)
	prevFMR, prevFNMR := 2.0, -1.0
	for th := 1.5; th >= -0.1; th -= 0.001 {
		fmr, fnmr := s.FMR(th).Value, s.FNMR(th).Value
		if fmr > prevFMR || fnmr < prevFNMR {
			t.Fatalf("not monotone at %v: FMR %v→%v, FNMR %v→%v", th, prevFMR, fmr, prevFNMR, fnmr)
		}
		prevFMR, prevFNMR = fmr, fnmr
	}
	if a := s.AUC(); a < 0.9 || a > 1 {
		t.Fatalf("AUC %v", a)
	}
}

func TestAccuracyProtocols(t *testing.T) {
	pairs := []Pair{
		{0.3, true, 0}, {0.5, true, 0}, {0.7, false, 0}, {0.4, false, 0},
		{0.2, true, 1}, {0.65, true, 1}, {0.9, false, 1}, {0.8, false, 1},
	}
	acc, th := BestAccuracy(pairs)
	// Best: threshold 0.7 (or anything in (0.65, 0.7]): right = 7 of 8 (0.4 impostor wrong).
	if !near(acc, 7.0/8) || th <= 0.65 || th > 0.7 {
		t.Fatalf("best accuracy %v at %v", acc, th)
	}
	// Fold 0 is judged at fold 1's best threshold (0.8): 0.3, 0.5 right,
	// 0.7 and 0.4 wrong. Fold 1 at fold 0's (0.4): 0.2, 0.9, 0.8 right.
	accs := KFold(pairs, 2)
	if len(accs) != 2 || accs[0] != 0.5 || accs[1] != 0.75 {
		t.Fatalf("fold accuracies %v, want [0.5 0.75]", accs)
	}
	if m, s := MeanStd([]float64{1, 2, 3}); m != 2 || s != 1 {
		t.Fatalf("mean %v std %v", m, s)
	}
}

func TestCombinations(t *testing.T) {
	got := Combinations(4, 2, 20)
	if len(got) != 6 || got[0][0] != 0 || got[0][1] != 1 || got[5][0] != 2 || got[5][1] != 3 {
		t.Fatalf("%v", got)
	}
	if len(Combinations(10, 3, 20)) != 20 {
		t.Fatal("limit")
	}
}
