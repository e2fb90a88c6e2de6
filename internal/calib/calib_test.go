package calib

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tab := &Table{Models: []Model{{ModelID: "m1", Metric: "cosine", Entries: []Entry{
		{Photos: 1, TargetFMR: 1e-2, Threshold: 0.61, SetBy: "a"},
		{Photos: 1, TargetFMR: 1e-3, Threshold: 0.54, SetBy: "b", Basis: []Basis{{Population: "b", Supported: true}}},
		{Photos: 2, TargetFMR: 1e-3, Threshold: 0.52},
	}}}}
	cases := []struct {
		photos int
		target float64
		want   float64
		err    error
	}{
		{1, 1e-3, 0.54, nil},
		{1, 5e-3, 0.54, nil}, // between targets: the stricter calibrated one
		{1, 1e-2, 0.61, nil},
		{1, 1, 0.61, nil},
		{2, 1e-3, 0.52, nil},
		{1, 1e-4, 0, ErrUnsupported}, // stricter than calibrated: an error, not a guess
		{2, 1e-2, 0.52, nil},
		{3, 1e-3, 0, ErrNoCalibration}, // more photos than calibrated: their mean sits closer to impostors
	}
	for _, c := range cases {
		p, err := tab.Lookup("m1", c.photos, c.target)
		if !errors.Is(err, c.err) || (err == nil && p.Threshold != c.want) {
			t.Errorf("Lookup(%d photos, %g): %v, %v; want %v, %v", c.photos, c.target, p.Threshold, err, c.want, c.err)
		}
	}
	p, _ := tab.Lookup("m1", 1, 2e-3)
	if p.Metric != "cosine" || p.SetBy != "b" || p.TargetFMR != 1e-3 || len(p.Evidence) != 1 || p.Evidence[0].Population != "b" {
		t.Errorf("point %+v", p)
	}
	if _, err := tab.Lookup("other", 1, 1e-3); !errors.Is(err, ErrNoCalibration) {
		t.Errorf("unknown model: %v", err)
	}
}

// TestEmbeddedTable checks the committed table against its own rules:
// every entry is supported by at least one population, the threshold is
// at or below every population's own, no population measures an FMR
// above the target at it, support means n ≥ 3/target, stricter targets
// never get looser thresholds, and set_by names a population.
func TestEmbeddedTable(t *testing.T) {
	tab, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Models) < 2 || tab.Policy == "" {
		t.Fatalf("%d models calibrated, policy %q", len(tab.Models), tab.Policy)
	}
	for _, m := range tab.Models {
		if m.Metric == "" || len(m.Populations) < 3 {
			t.Errorf("%s: metric %q, %d populations", m.Name, m.Metric, len(m.Populations))
		}
		names := map[string]bool{}
		for _, p := range m.Populations {
			names[p.Name] = true
		}
		prev := map[int]float64{}
		for _, e := range m.Entries {
			supported := false
			for _, b := range e.Basis {
				if b.Impostor.Value > e.TargetFMR || e.Threshold > b.Own {
					t.Errorf("%s: %d photos, FMR %g: %s measures %v on %d comparisons (own threshold %v, shipped %v)", m.Name, e.Photos, e.TargetFMR, b.Population, b.Impostor.Value, b.Impostor.Trials, b.Own, e.Threshold)
				}
				if b.Supported != (float64(b.Impostor.Trials) >= 3/e.TargetFMR) {
					t.Errorf("%s: %d photos, FMR %g: %s support %v on %d comparisons", m.Name, e.Photos, e.TargetFMR, b.Population, b.Supported, b.Impostor.Trials)
				}
				supported = supported || b.Supported
				if !names[b.Population] {
					t.Errorf("%s: basis names unknown population %q", m.Name, b.Population)
				}
			}
			if !supported {
				t.Errorf("%s: %d photos, FMR %g: no population supports it", m.Name, e.Photos, e.TargetFMR)
			}
			first, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(e.SetBy, "stricter than FMR "), ""), ",")
			ok := names[first]
			for n := range names {
				ok = ok || strings.Contains(e.SetBy, "("+n)
			}
			if !ok {
				t.Errorf("%s: set_by %q names no population", m.Name, e.SetBy)
			}
			if p, ok := prev[e.Photos]; ok && e.Threshold > p {
				t.Errorf("%s, %d photos: threshold %v for FMR %g above %v", m.Name, e.Photos, e.Threshold, e.TargetFMR, p)
			}
			prev[e.Photos] = e.Threshold
			if math.IsNaN(e.Threshold) || e.Threshold <= 0 {
				t.Errorf("%s: threshold %v", m.Name, e.Threshold)
			}
		}
	}
}
