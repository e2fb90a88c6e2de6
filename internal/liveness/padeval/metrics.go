package padeval

import (
	"math"
	"slices"
	"sort"

	"github.com/oneface/oneface/internal/eval"
)

// Scores are the live scores (higher is more live) of one scorer, split by
// truth. A presentation is accepted as bona fide when score ≥ threshold.
type Scores struct {
	Live   []float64            `json:"live"`
	Attack map[string][]float64 `json:"attack"` // by attack type
}

// Operating is an operating point: a threshold and the ISO/IEC 30107-3
// error rates there, each with its counts and 95 % Clopper-Pearson interval.
type Operating struct {
	Threshold float64              `json:"threshold"`
	BPCER     eval.Rate            `json:"bpcer"`
	APCER     map[string]eval.Rate `json:"apcer"` // per attack type
}

// WorstAPCER is the largest APCER over the attack types (ISO/IEC 30107-3's
// APCER of the system is reported per PAI species; the worst one rules).
func (o Operating) WorstAPCER() (string, eval.Rate) {
	var name string
	var worst eval.Rate
	first := true
	for _, k := range sortedKeys(o.APCER) {
		r := o.APCER[k]
		if first || r.Value > worst.Value {
			name, worst, first = k, r, false
		}
	}
	return name, worst
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// At returns the error rates at threshold t.
func (s Scores) At(t float64) Operating {
	o := Operating{Threshold: t, APCER: map[string]eval.Rate{}}
	rej := 0
	for _, v := range s.Live {
		if !(v >= t) {
			rej++
		}
	}
	o.BPCER = eval.NewRate(rej, len(s.Live))
	for k, vs := range s.Attack {
		acc := 0
		for _, v := range vs {
			if v >= t {
				acc++
			}
		}
		o.APCER[k] = eval.NewRate(acc, len(vs))
	}
	return o
}

// ForBPCER returns the highest threshold whose BPCER on the live scores is
// at most target: the ⌊target·n⌋-th smallest live score (0-based), so at
// most that many live scores fall below it.
func ForBPCER(live []float64, target float64) float64 {
	if len(live) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(live))
	k := int(math.Floor(target * float64(len(s))))
	return s[min(k, len(s)-1)]
}

// ForAPCER returns the lowest threshold at which every attack type's
// APCER is at most target.
func ForAPCER(attack map[string][]float64, target float64) float64 {
	t := math.Inf(-1)
	for _, vs := range attack {
		if len(vs) == 0 {
			continue
		}
		s := slices.Sorted(slices.Values(vs))
		slices.Reverse(s)
		k := int(math.Floor(target * float64(len(s))))
		if k >= len(s) {
			continue
		}
		// Accept at most k attacks: the threshold must exceed the (k+1)-th highest.
		t = math.Max(t, math.Nextafter(s[k], math.Inf(1)))
	}
	return t
}

// EER is the equal error rate between BPCER and the worst attack type's
// APCER, over every candidate threshold, as their mean where they are
// closest.
func (s Scores) EER() float64 {
	cands := slices.Clone(s.Live)
	for _, vs := range s.Attack {
		cands = append(cands, vs...)
	}
	cands = append(cands, math.Inf(1))
	slices.Sort(cands)
	best, eer := math.Inf(1), math.NaN()
	for _, t := range slices.Compact(cands) {
		o := s.At(t)
		_, a := o.WorstAPCER()
		if d := math.Abs(a.Value - o.BPCER.Value); d < best {
			best, eer = d, (a.Value+o.BPCER.Value)/2
		}
	}
	return eer
}

// CV is a cross-validated operating point: for each capture group, the
// threshold is chosen for the target BPCER on all other groups and applied
// to this group's presentations; the counts are pooled.
type CV struct {
	Groups      int                  `json:"groups"`
	TargetBPCER float64              `json:"target_bpcer"`
	BPCER       eval.Rate            `json:"bpcer"`
	APCER       map[string]eval.Rate `json:"apcer"`
	// Thresholds range over the folds.
	ThresholdMin float64 `json:"threshold_min"`
	ThresholdMax float64 `json:"threshold_max"`
}

// sample is one scored presentation.
type sample struct {
	live   bool
	attack string
	group  string
	score  float64
}

// crossValidate runs leave-one-group-out over the samples' groups.
func crossValidate(ss []sample, target float64) CV {
	groups := map[string]bool{}
	for _, s := range ss {
		groups[s.group] = true
	}
	cv := CV{Groups: len(groups), TargetBPCER: target, APCER: map[string]eval.Rate{}, ThresholdMin: math.Inf(1), ThresholdMax: math.Inf(-1)}
	liveErr, liveN := 0, 0
	accErr, accN := map[string]int{}, map[string]int{}
	for _, g := range sortedKeys(groups) {
		var train []float64
		for _, s := range ss {
			if s.group != g && s.live {
				train = append(train, s.score)
			}
		}
		if len(train) == 0 {
			continue
		}
		t := ForBPCER(train, target)
		cv.ThresholdMin, cv.ThresholdMax = math.Min(cv.ThresholdMin, t), math.Max(cv.ThresholdMax, t)
		for _, s := range ss {
			if s.group != g {
				continue
			}
			if s.live {
				liveN++
				if !(s.score >= t) {
					liveErr++
				}
			} else {
				accN[s.attack]++
				if s.score >= t {
					accErr[s.attack]++
				}
			}
		}
	}
	cv.BPCER = eval.NewRate(liveErr, liveN)
	for k, n := range accN {
		cv.APCER[k] = eval.NewRate(accErr[k], n)
	}
	return cv
}
