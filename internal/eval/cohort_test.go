package eval

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCohortsByHand(t *testing.T) {
	p := func(a, b, c string, same bool, d float64) scoredPair { return scoredPair{a, b, c, same, d} }
	pairs := []scoredPair{
		// Cohort x: 2 genuine (1 false non-match), 4 impostor (2 false
		// matches, both from the identity pair A×B).
		p("A/1.jpg", "A/2.jpg", "x", true, 0.3),
		p("B/1.jpg", "B/2.jpg", "x", true, 0.7),
		p("A/1.jpg", "B/1.jpg", "x", false, 0.4),
		p("B/2.jpg", "A/2.jpg", "x", false, 0.45),
		p("A/1.jpg", "C/1.jpg", "x", false, 0.9),
		p("B/1.jpg", "C/1.jpg", "x", false, 0.8),
		// Cohort y: 1 genuine, 2 impostor, no error.
		p("D/1.jpg", "D/2.jpg", "y", true, 0.2),
		p("D/1.jpg", "E/1.jpg", "y", false, 0.9),
		p("D/2.jpg", "E/1.jpg", "y", false, 0.95),
		p("F/1.jpg", "G/1.jpg", "", false, 0.1),
	}
	r := cohorts(pairs, 0.5)
	if len(r.Cohorts) != 2 || r.Unlabelled != 1 {
		t.Fatalf("%+v", r)
	}
	x, y := r.Cohorts[0], r.Cohorts[1]
	if x.Name != "x" || x.FMR.Errors != 2 || x.FMR.Trials != 4 || x.FNMR.Errors != 1 || x.FNMR.Trials != 2 || x.Identities != 3 {
		t.Errorf("x: %+v", x)
	}
	if x.ImpostorIdentityPairs != 3 || x.FalseMatchPairs != 1 || len(x.Worst) != 1 || x.Worst[0] != (IdentityPair{"A", "B", 2, 2}) {
		t.Errorf("x identity pairs: %+v", x)
	}
	if y.FMR.Errors != 0 || y.FMR.Trials != 2 || y.FalseMatchPairs != 0 {
		t.Errorf("y: %+v", y)
	}
	// FMR: x 0.5, y 0 → ratio ∞; the interval's low end is x.Lo / y.Hi.
	if r.FMRRatio.Max != "x" || r.FMRRatio.Min != "y" || !math.IsInf(r.FMRRatio.Value, 1) || math.Abs(r.FMRRatio.Lo-x.FMR.Lo/y.FMR.Hi) > 1e-12 || !math.IsInf(r.FMRRatio.Hi, 1) {
		t.Errorf("FMR ratio %+v", r.FMRRatio)
	}
	if s := cohortSummary(r); !strings.Contains(s, "A × B: 2 false matches of 2 comparisons") || !strings.Contains(s, "FMR differential (max/min)  ∞ (x / y") {
		t.Errorf("summary:\n%s", s)
	}
	if r := cohorts(pairs[9:], 0.5); len(r.Cohorts) != 0 || r.Unlabelled != 0 {
		t.Errorf("no cohort: %+v", r)
	}
}

// TestReadPairsCohort: a fourth column is the cohort; a header may name it.
func TestReadPairsCohort(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.csv")
	if err := os.WriteFile(f, []byte("a,b,same,cohort\nA/1.jpg,A/2.jpg,1,g1\nA/1.jpg,B/1.jpg,0, g2 \nA/1.jpg,B/2.jpg,0\nx,y,1,g,extra\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pairs, errs, err := readPairs(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 || pairs[0].cohort != "g1" || pairs[1].cohort != "g2" || pairs[2].cohort != "" || len(errs) != 1 {
		t.Fatalf("%+v %v", pairs, errs)
	}
}
