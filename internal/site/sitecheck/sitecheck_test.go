package sitecheck

import (
	"errors"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/eval"
)

func result(fmrErrors int, tightened bool) *Result {
	p := Point{Photos: 1, Shipped: 0.5757, FMR: eval.NewRate(fmrErrors, 1000), FNMR: eval.NewRate(1, 100), Supported: false, Own: 0.51}
	p.Exceeds = p.FMR.Value > 1e-3
	p.Threshold, p.FMRAt, p.FNMRAt = p.Shipped, p.FMR, p.FNMR
	if tightened {
		p.Threshold, p.FMRAt, p.FNMRAt = p.Own, eval.NewRate(1, 1000), eval.NewRate(5, 100)
	}
	return &Result{ModelID: strings.Repeat("a", 32), TargetFMR: 1e-3, Points: []Point{p}}
}

// TestCalibrationRefuses: an FMR above the target at the written threshold
// is a refusal, never a file; tightened, the stricter threshold is
// written with the counts measured at it.
func TestCalibrationRefuses(t *testing.T) {
	if _, err := result(2, false).Calibration("s"); !errors.Is(err, ErrFMRExceeded) {
		t.Fatalf("2/1000 at target 1e-3: %v", err)
	}
	c, err := result(1, false).Calibration("s")
	if err != nil || c.Points[0].Threshold != 0.5757 || c.Points[0].Supported {
		t.Fatalf("1/1000: %v %+v", err, c)
	}
	c, err = result(2, true).Calibration("s")
	if err != nil || c.Points[0].Threshold != 0.51 || c.Points[0].FNMR.Errors != 5 {
		t.Fatalf("tightened: %v %+v", err, c)
	}
	if s := Summary(result(2, false)); !strings.Contains(s, "EXCEEDS the target (the site's own threshold would be 0.5100)") || !strings.Contains(s, "cannot support FMR 0.001 (needs 3000)") {
		t.Errorf("summary:\n%s", s)
	}
}
