package calib

import (
	"errors"
	"testing"
)

func TestLookup(t *testing.T) {
	tab := &Table{Models: []Model{{ModelID: "m1", Entries: []Entry{
		{Photos: 1, TargetFMR: 1e-2, Threshold: 0.61},
		{Photos: 1, TargetFMR: 1e-3, Threshold: 0.54},
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
		e, err := tab.Lookup("m1", c.photos, c.target)
		if !errors.Is(err, c.err) || (err == nil && e.Threshold != c.want) {
			t.Errorf("Lookup(%d photos, %g): %v, %v; want %v, %v", c.photos, c.target, e.Threshold, err, c.want, c.err)
		}
	}
	if _, err := tab.Lookup("other", 1, 1e-3); !errors.Is(err, ErrNoCalibration) {
		t.Errorf("unknown model: %v", err)
	}
}

func TestEmbeddedTable(t *testing.T) {
	tab, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Models) == 0 {
		t.Fatal("no model calibrated")
	}
	for _, m := range tab.Models {
		prev := map[int]float64{}
		for _, e := range m.Entries {
			for _, b := range e.Basis {
				if b.Impostor.Value > e.TargetFMR || float64(b.Impostor.Trials) < 3/e.TargetFMR {
					t.Errorf("%s: %d photos, FMR %g: %s measures %v on %d comparisons", m.ModelID, e.Photos, e.TargetFMR, b.Variant, b.Impostor.Value, b.Impostor.Trials)
				}
			}
			// Stricter targets, lower thresholds.
			if p, ok := prev[e.Photos]; ok && e.Threshold >= p {
				t.Errorf("%d photos: threshold %v for FMR %g not below %v", e.Photos, e.Threshold, e.TargetFMR, p)
			}
			prev[e.Photos] = e.Threshold
		}
	}
}
