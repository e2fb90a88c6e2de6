package eval

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
)

// Demographic differentials, in the vocabulary of ISO/IEC 19795-10: the
// pairs file may carry a fourth column, cohort, naming the group a
// comparison belongs to (typically the declared group both subjects share:
// impostor comparisons across groups say little about a group's FMR). The
// report gives each cohort's FMR and FNMR at one threshold, the max/min
// ratio of each across cohorts (the FMR and FNMR differentials) with a
// conservative interval, and false matches per identity pair, since a
// cohort's false matches often come from a few look-alike pairs.
//
// Cohorts come from the data's own labels, never from a face: oneface does
// not infer age, sex or ancestry from images. Thresholds stay per
// deployment, never per cohort or per person.

// Cohort is one cohort's rates at the report's threshold.
type Cohort struct {
	Name       string `json:"name"`
	FMR        Rate   `json:"fmr"`
	FNMR       Rate   `json:"fnmr"`
	Identities int    `json:"identities"` // distinct identities in its scored comparisons
	// ImpostorIdentityPairs is the number of distinct unordered identity
	// pairs among its impostor comparisons; FalseMatchPairs of them had at
	// least one false match.
	ImpostorIdentityPairs int            `json:"impostor_identity_pairs"`
	FalseMatchPairs       int            `json:"identity_pairs_with_false_matches"`
	Worst                 []IdentityPair `json:"worst_identity_pairs"` // up to 5, most false matches first
}

// IdentityPair is the false matches among the impostor comparisons of two
// identities.
type IdentityPair struct {
	A            string `json:"a"`
	B            string `json:"b"`
	FalseMatches int    `json:"false_matches"`
	Comparisons  int    `json:"comparisons"`
}

// Ratio is the differential of one rate across cohorts: the highest
// cohort value over the lowest, with a conservative 95 % interval built
// from the two cohorts' intervals [Lo_max/Hi_min, Hi_max/Lo_min] (joint
// coverage at least 90 %). Infinite bounds (a lowest cohort with no
// error) are null in JSON and "∞" in text; with no cohort defined the
// ratio is NaN.
type Ratio struct {
	Max   string  `json:"max_cohort"`
	Min   string  `json:"min_cohort"`
	Value float64 `json:"value"`
	Lo    float64 `json:"ci_lo"`
	Hi    float64 `json:"ci_hi"`
}

// CohortReport is the differential part of a report.
type CohortReport struct {
	Threshold  float64  `json:"threshold"`
	Cohorts    []Cohort `json:"cohorts"`
	FMRRatio   Ratio    `json:"fmr_max_min_ratio"`
	FNMRRatio  Ratio    `json:"fnmr_max_min_ratio"`
	Unlabelled int      `json:"pairs_without_cohort"`
}

// scoredPair is a scored comparison with its cohort and identities.
type scoredPair struct {
	a, b, cohort string
	same         bool
	dist         float64
}

// identity is the identity of an image path: its folder's name, the
// convention of -all-pairs (<person>/<image>).
func identity(path string) string { return filepath.Base(filepath.Dir(filepath.ToSlash(path))) }

// Cohorts computes the differential report at threshold t. It returns the
// zero report when no pair has a cohort.
func cohorts(pairs []scoredPair, t float64) CohortReport {
	type acc struct {
		s     Scores
		ids   map[string]bool
		pairs map[[2]string]*IdentityPair
	}
	by := map[string]*acc{}
	r := CohortReport{Threshold: t}
	for _, p := range pairs {
		if p.cohort == "" {
			r.Unlabelled++
			continue
		}
		c := by[p.cohort]
		if c == nil {
			c = &acc{ids: map[string]bool{}, pairs: map[[2]string]*IdentityPair{}}
			by[p.cohort] = c
		}
		ia, ib := identity(p.a), identity(p.b)
		c.ids[ia], c.ids[ib] = true, true
		if p.same {
			c.s.Genuine = append(c.s.Genuine, p.dist)
			continue
		}
		c.s.Impostor = append(c.s.Impostor, p.dist)
		k := [2]string{min(ia, ib), max(ia, ib)}
		ip := c.pairs[k]
		if ip == nil {
			ip = &IdentityPair{A: k[0], B: k[1]}
			c.pairs[k] = ip
		}
		ip.Comparisons++
		if p.dist < t {
			ip.FalseMatches++
		}
	}
	if len(by) == 0 {
		return CohortReport{}
	}
	for name, c := range by {
		co := Cohort{Name: name, FMR: c.s.FMR(t), FNMR: c.s.FNMR(t), Identities: len(c.ids), ImpostorIdentityPairs: len(c.pairs)}
		for _, ip := range c.pairs {
			if ip.FalseMatches > 0 {
				co.FalseMatchPairs++
				co.Worst = append(co.Worst, *ip)
			}
		}
		sort.Slice(co.Worst, func(i, j int) bool {
			a, b := co.Worst[i], co.Worst[j]
			if a.FalseMatches != b.FalseMatches {
				return a.FalseMatches > b.FalseMatches
			}
			return a.A+"\x00"+a.B < b.A+"\x00"+b.B
		})
		co.Worst = co.Worst[:min(len(co.Worst), 5)]
		r.Cohorts = append(r.Cohorts, co)
	}
	sort.Slice(r.Cohorts, func(i, j int) bool { return r.Cohorts[i].Name < r.Cohorts[j].Name })
	r.FMRRatio = ratio(r.Cohorts, func(c Cohort) Rate { return c.FMR })
	r.FNMRRatio = ratio(r.Cohorts, func(c Cohort) Rate { return c.FNMR })
	return r
}

// ratio is the max/min differential over the cohorts with a defined rate.
func ratio(cs []Cohort, rate func(Cohort) Rate) Ratio {
	var hi, lo *Cohort
	for i := range cs {
		r := rate(cs[i])
		if r.Trials == 0 {
			continue
		}
		if hi == nil || r.Value > rate(*hi).Value {
			hi = &cs[i]
		}
		if lo == nil || r.Value < rate(*lo).Value {
			lo = &cs[i]
		}
	}
	if hi == nil {
		return Ratio{Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	a, b := rate(*hi), rate(*lo)
	return Ratio{Max: hi.Name, Min: lo.Name, Value: div(a.Value, b.Value), Lo: div(a.Lo, b.Hi), Hi: div(a.Hi, b.Lo)}
}

// div is x/y with 0/0 = 1 (no difference between two error-free cohorts)
// and x/0 = +Inf.
func div(x, y float64) float64 {
	switch {
	case y == 0 && x == 0:
		return 1
	case y == 0:
		return math.Inf(1)
	}
	return x / y
}

func (r Ratio) String() string {
	f := func(x float64) string {
		if math.IsInf(x, 1) {
			return "∞"
		}
		return fmt.Sprintf("%.3g", x)
	}
	if math.IsNaN(r.Value) {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s / %s; 95%% CI %s–%s)", f(r.Value), r.Max, r.Min, f(r.Lo), f(r.Hi))
}

// cohortSummary is the text block of the differential report.
func cohortSummary(r CohortReport) string {
	if len(r.Cohorts) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  demographic differentials at distance < %.4f (ISO/IEC 19795-10; cohorts from the pairs file, never inferred from faces):\n", r.Threshold)
	for _, c := range r.Cohorts {
		fmt.Fprintf(&b, "    cohort %-12s FMR %s, FNMR %s; %d identities, false matches in %d of %d impostor identity pairs\n",
			c.Name, c.FMR, c.FNMR, c.Identities, c.FalseMatchPairs, c.ImpostorIdentityPairs)
		for _, w := range c.Worst {
			fmt.Fprintf(&b, "      %s × %s: %d false matches of %d comparisons\n", w.A, w.B, w.FalseMatches, w.Comparisons)
		}
	}
	fmt.Fprintf(&b, "    FMR differential (max/min)  %s\n", r.FMRRatio)
	fmt.Fprintf(&b, "    FNMR differential (max/min) %s\n", r.FNMRRatio)
	if r.Unlabelled > 0 {
		fmt.Fprintf(&b, "    %d scored pairs without a cohort\n", r.Unlabelled)
	}
	return b.String()
}
