// Package eval measures 1:1 verification error rates in the vocabulary of
// ISO/IEC 19795-1 and derives thresholds from target false-match rates.
//
// Scores are Euclidean distances: a comparison is a match when its
// distance is strictly below the threshold. Every rate carries the counts
// it rests on and a 95 % confidence interval: exact (Clopper-Pearson) when
// there are errors, the rule of three ([0, 3/n]) when there are none. A
// false-match rate is only claimed when the impostor count can support it
// at that confidence, that is when n ≥ 3/FMR.
package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Rate is an error rate with the counts behind it: Errors of Trials
// comparisons, Value = Errors/Trials and its 95 % confidence interval
// [Lo, Hi], as fractions. With no trials the rate is undefined: Value is
// NaN (null in JSON, "n/a" in text) and the interval is [0, 1].
type Rate struct {
	Errors int     `json:"errors"`
	Trials int     `json:"trials"`
	Value  float64 `json:"value"`
	Lo     float64 `json:"ci95_lo"`
	Hi     float64 `json:"ci95_hi"`
}

// NewRate computes a rate and its 95 % confidence interval.
func NewRate(errs, trials int) Rate {
	r := Rate{Errors: errs, Trials: trials}
	if trials == 0 {
		r.Value, r.Lo, r.Hi = math.NaN(), 0, 1
		return r
	}
	r.Value = float64(errs) / float64(trials)
	switch {
	case errs == 0: // rule of three
		r.Lo, r.Hi = 0, math.Min(1, 3/float64(trials))
	case errs == trials:
		r.Lo, r.Hi = distuv.Beta{Alpha: float64(errs), Beta: 1}.Quantile(0.025), 1
	default: // Clopper-Pearson
		r.Lo = distuv.Beta{Alpha: float64(errs), Beta: float64(trials - errs + 1)}.Quantile(0.025)
		r.Hi = distuv.Beta{Alpha: float64(errs + 1), Beta: float64(trials - errs)}.Quantile(0.975)
	}
	return r
}

func (r Rate) String() string {
	if r.Trials == 0 {
		return "n/a (no trials)"
	}
	return fmt.Sprintf("%.4g%% (%d/%d, 95%% CI %.3g–%.3g%%)", 100*r.Value, r.Errors, r.Trials, 100*r.Lo, 100*r.Hi)
}

// Scores are the distances of genuine (same person) and impostor
// (different people) comparisons.
type Scores struct {
	Genuine  []float64
	Impostor []float64
}

func (s *Scores) sorted() (g, i []float64) {
	g, i = slices.Clone(s.Genuine), slices.Clone(s.Impostor)
	sort.Float64s(g)
	sort.Float64s(i)
	return g, i
}

// countBelow is the number of sorted values strictly below t.
func countBelow(sorted []float64, t float64) int { return sort.SearchFloat64s(sorted, t) }

// FMR is the false-match rate at threshold t: impostors with distance < t.
func (s *Scores) FMR(t float64) Rate {
	_, imp := s.sorted()
	return NewRate(countBelow(imp, t), len(imp))
}

// FNMR is the false-non-match rate at threshold t: genuine comparisons
// with distance ≥ t.
func (s *Scores) FNMR(t float64) Rate {
	gen, _ := s.sorted()
	return NewRate(len(gen)-countBelow(gen, t), len(gen))
}

// ErrUnsupported means the impostor count cannot support the target FMR.
var ErrUnsupported = errors.New("eval: too few impostor comparisons for that false-match rate")

// Supports reports whether n impostor comparisons can support a claim of
// FMR ≤ target at 95 % confidence (rule of three: n ≥ 3/target).
func Supports(n int, target float64) bool { return target > 0 && float64(n) >= 3/target }

// Operating is a threshold chosen for a target false-match rate.
type Operating struct {
	TargetFMR float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"`
	FMR       Rate    `json:"fmr"`
	FNMR      Rate    `json:"fnmr"`
}

// AtFMR returns the largest threshold whose measured FMR does not exceed
// target — the k-th smallest impostor distance, k = ⌊target·n⌋, so that
// at most k impostors fall strictly below it — with the rates there. It
// refuses targets the impostor count cannot support.
func (s *Scores) AtFMR(target float64) (Operating, error) {
	gen, imp := s.sorted()
	if !Supports(len(imp), target) {
		return Operating{}, fmt.Errorf("%w: FMR %g needs at least %.0f impostor comparisons, have %d", ErrUnsupported, target, math.Ceil(3/target), len(imp))
	}
	k := int(math.Floor(target * float64(len(imp))))
	t := imp[k]
	return Operating{
		TargetFMR: target,
		Threshold: t,
		FMR:       NewRate(countBelow(imp, t), len(imp)),
		FNMR:      NewRate(len(gen)-countBelow(gen, t), len(gen)),
	}, nil
}

// EER is the equal error rate: over every candidate threshold, the point
// where FMR and FNMR are closest, reported as their mean. Both are NaN
// (undefined) when either class has no comparison.
func (s *Scores) EER() (eer, threshold float64) {
	gen, imp := s.sorted()
	if len(gen) == 0 || len(imp) == 0 {
		return math.NaN(), math.NaN()
	}
	cands := append(slices.Clone(gen), imp...)
	cands = append(cands, math.Inf(1))
	sort.Float64s(cands)
	best := math.Inf(1)
	for _, t := range slices.Compact(cands) {
		fmr := float64(countBelow(imp, t)) / float64(len(imp))
		fnmr := float64(len(gen)-countBelow(gen, t)) / float64(len(gen))
		if d := math.Abs(fmr - fnmr); d < best {
			best, eer, threshold = d, (fmr+fnmr)/2, t
		}
	}
	return eer, threshold
}

// AUC is the area under the ROC curve: the probability that a genuine
// distance is below an impostor distance, ties counting one half. NaN
// (undefined) when either class has no comparison.
func (s *Scores) AUC() float64 {
	gen, imp := s.sorted()
	if len(gen) == 0 || len(imp) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, g := range gen {
		below := countBelow(imp, g)                                               // impostors < g
		notAbove := sort.Search(len(imp), func(i int) bool { return imp[i] > g }) // impostors ≤ g
		sum += float64(len(imp)-notAbove) + 0.5*float64(notAbove-below)
	}
	return sum / (float64(len(gen)) * float64(len(imp)))
}

// Pair is one labelled comparison of a pair protocol.
type Pair struct {
	Distance float64
	Same     bool
	Fold     int // 0-based fold, for the k-fold protocol
}

// BestAccuracy is the accuracy at the threshold that maximises it over
// the pairs (optimistic: chosen on the data it is measured on).
func BestAccuracy(pairs []Pair) (acc, threshold float64) {
	if len(pairs) == 0 {
		return math.NaN(), math.NaN()
	}
	ds := make([]float64, 0, len(pairs)+1)
	for _, p := range pairs {
		ds = append(ds, p.Distance)
	}
	ds = append(ds, math.Inf(1))
	sort.Float64s(ds)
	best := -1
	for _, t := range slices.Compact(ds) {
		right := 0
		for _, p := range pairs {
			if (p.Distance < t) == p.Same {
				right++
			}
		}
		if right > best {
			best, threshold = right, t
		}
	}
	return float64(best) / float64(len(pairs)), threshold
}

// KFold runs the LFW protocol: for each fold, the threshold that is best
// on the other folds is applied to it. It returns each fold's accuracy.
func KFold(pairs []Pair, k int) []float64 {
	var accs []float64
	for f := range k {
		var train, test []Pair
		for _, p := range pairs {
			if p.Fold == f {
				test = append(test, p)
			} else {
				train = append(train, p)
			}
		}
		if len(test) == 0 || len(train) == 0 {
			continue
		}
		_, t := BestAccuracy(train)
		right := 0
		for _, p := range test {
			if (p.Distance < t) == p.Same {
				right++
			}
		}
		accs = append(accs, float64(right)/float64(len(test)))
	}
	return accs
}

// MeanStd returns the mean and sample standard deviation.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			std += (x - mean) * (x - mean)
		}
		std = math.Sqrt(std / float64(len(xs)-1))
	}
	return mean, std
}

// Combinations lists up to limit k-combinations of 0..n-1 in
// lexicographic order (the first ones: a template of k photos uses the
// first photos in file order).
func Combinations(n, k, limit int) [][]int {
	var out [][]int
	c := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if len(out) >= limit {
			return
		}
		if depth == k {
			out = append(out, slices.Clone(c))
			return
		}
		for i := start; i < n; i++ {
			c[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
	return out
}
