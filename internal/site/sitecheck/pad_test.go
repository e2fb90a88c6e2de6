package sitecheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/site"
)

// spread returns n live scores evenly from lo to hi.
func spread(n int, lo, hi float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return s
}

// TestChoosePAD: the rule of PADConfig on scores whose answer is known.
func TestChoosePAD(t *testing.T) {
	cfg := &PADConfig{Shipped: pad.Shipped, TargetBPCER: 0.05} // shipped 0.3276
	prints := spread(20, 0.01, 0.12)                           // 20 printed photos: the evidence a lowering needs
	cases := []struct {
		name    string
		live    []float64
		attacks map[string][]float64
		want    float64
		met     bool
	}{
		// 100 lives from 0.5 to 0.99: the 6th smallest (index ⌊0.05·100⌋) is 0.52474 → stricter than shipped, kept.
		{"camera scores high: stricter", spread(100, 0.5, 0.99), nil, 0.5247, true},
		// 100 lives from 0.1 to 0.9: the stated BPCER needs 0.1404; no attack measured → shipped kept.
		{"camera scores low, no attacks: shipped", spread(100, 0.1, 0.9), nil, 0.3276, false},
		// The same with prints up to 0.12: lowered to just above the highest print.
		{"camera scores low, prints measured: lowered", spread(100, 0.1, 0.9), map[string][]float64{"print": prints}, 0.1404, true},
		// A print at 0.2 under the shipped threshold: lowered only to 0.2001.
		{"a print at 0.2 stops the lowering", spread(100, 0.1, 0.9), map[string][]float64{"print": append(spread(20, 0.01, 0.05), 0.2), "screen": spread(20, 0.01, 0.02)}, 0.2001, false},
		// Prints all near 0: lowered to the stated BPCER's 0.1404, well above the floor.
		// A screen attack above the shipped threshold is accepted either way: it does not stop the lowering.
		{"attack above shipped", spread(100, 0.1, 0.9), map[string][]float64{"print": prints, "screen": append(spread(20, 0.01, 0.02), 0.8)}, 0.1404, true},
		// Too little evidence: one print, or prints but one screen capture, or too few lives: shipped kept.
		{"one print", spread(100, 0.1, 0.9), map[string][]float64{"print": {0.01}}, 0.3276, false},
		{"one screen capture", spread(100, 0.1, 0.9), map[string][]float64{"print": prints, "screen": {0.9}}, 0.3276, false},
		{"no print", spread(100, 0.1, 0.9), map[string][]float64{"screen": spread(30, 0.01, 0.1)}, 0.3276, false},
		{"40 lives cannot support 5 %", spread(40, 0.1, 0.9), map[string][]float64{"print": prints}, 0.3276, false},
	}
	for _, c := range cases {
		r := choosePAD(cfg, c.live, c.attacks, eval.NewRate(0, 0))
		if diff := r.Threshold - c.want; diff > 1e-9 || diff < -1e-9 || r.MeetsTarget() != c.met {
			t.Errorf("%s: threshold %v (own %v), BPCER %s, met %v; want %v, met %v", c.name, r.Threshold, r.Own, r.BPCER, r.MeetsTarget(), c.want, c.met)
			continue
		}
		for _, a := range r.Attacks {
			if r.Threshold < r.Shipped && a.APCER.Errors != a.ShippedAPCER.Errors {
				t.Errorf("%s: lowered threshold admits %s attacks: %s vs shipped %s", c.name, a.Type, a.APCER, a.ShippedAPCER)
			}
		}
		// What the rule chose, the file format accepts.
		res := &Result{ModelID: strings.Repeat("a", 32), TargetFMR: 1e-3, Points: []Point{{Photos: 1, Shipped: 0.5, Threshold: 0.5,
			FMRAt: eval.NewRate(0, 5000), FNMRAt: eval.NewRate(1, 100), Supported: true}}, PAD: r}
		cal, err := res.Calibration("s")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, err := cal.Marshal(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		t.Logf("%s: threshold %.4f (own %.4f), BPCER %s", c.name, r.Threshold, r.Own, r.BPCER)
	}
	// Lives so low that the stated BPCER needs less than the shipped
	// floor: the floor holds.
	if r := choosePAD(cfg, spread(100, 0.001, 0.3), map[string][]float64{"print": spread(20, 0.001, 0.002)}, eval.NewRate(0, 0)); r.Threshold != pad.Shipped.Floor {
		t.Errorf("below the floor: threshold %v (own %v), want the floor %v", r.Threshold, r.Own, pad.Shipped.Floor)
	}
	// The summary says when the target is not met and why.
	r := choosePAD(cfg, spread(100, 0.1, 0.9), nil, eval.NewRate(0, 0))
	var b strings.Builder
	padSummary(&b, r)
	if !strings.Contains(b.String(), "NOT MET") || !strings.Contains(b.String(), "no printed-photo attack captures") {
		t.Errorf("summary:\n%s", b.String())
	}
	r = choosePAD(cfg, spread(100, 0.1, 0.9), map[string][]float64{"screen": {0.9}}, eval.NewRate(0, 0))
	b.Reset()
	padSummary(&b, r)
	if !strings.Contains(b.String(), "WARNING: 1 of 1 screen attacks pass") {
		t.Errorf("summary:\n%s", b.String())
	}
	r = choosePAD(cfg, spread(100, 0.1, 0.9), map[string][]float64{"print": prints}, eval.NewRate(0, 0))
	b.Reset()
	padSummary(&b, r)
	if !strings.Contains(b.String(), "LOWERED below the shipped threshold on the evidence of the print captures only") {
		t.Errorf("summary:\n%s", b.String())
	}
	if r = choosePAD(cfg, spread(20, 0.5, 0.9), nil, eval.NewRate(0, 0)); r.Supported {
		t.Errorf("20 live captures support BPCER 0.05")
	}
}

// TestAttackTypeNames: a folder name that could not be written as an
// attack type is refused before any frame is read.
func TestAttackTypeNames(t *testing.T) {
	for _, n := range []string{"Print", "print screen", strings.Repeat("a", 33), "phöne"} {
		if site.ValidAttackType(n) {
			t.Errorf("%q accepted", n)
		}
	}
	dir := t.TempDir()
	if err := mkdirs(dir, "Print"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := scoreAttacks(t.Context(), &PADConfig{AttackDir: dir}); err == nil || !strings.Contains(err.Error(), "attack type") {
		t.Errorf("folder Print: %v", err)
	}
}

func mkdirs(root string, names ...string) error {
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(root, n), 0o755); err != nil {
			return err
		}
	}
	return nil
}
