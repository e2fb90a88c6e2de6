package pad_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/liveness/padeval"
	"github.com/oneface/oneface/internal/testenv"
)

func padDir() string {
	if d := os.Getenv("ONEFACE_PAD_MODELS"); d != "" {
		return d
	}
	if d := filepath.Join(testenv.ModelDir(), "antispoof"); fileExists(filepath.Join(d, pad.FRLiveness.File())) {
		return d
	}
	return filepath.Join(testenv.FacesDir(), "..", "models", "antispoof")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestShippedReproduces re-measures the shipped threshold on spoof-dev with
// the default detector and checks that the threshold and every count of
// [pad.Shipped] come out again, and that no print passes.
func TestShippedReproduces(t *testing.T) {
	if testing.Short() {
		t.Skip("scores all of spoof-dev")
	}
	e, err := facerec.Open(testenv.ModelDir(), facerec.Options{PoolSize: 1})
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	defer e.Close()
	d, err := pad.Open(padDir(), pad.Options{})
	if err != nil {
		testenv.Missing(t, "PAD networks", err)
	}
	defer d.Close()
	labels := filepath.Join(testenv.FacesDir(), "spoof-dev", "labels.csv")
	if !fileExists(labels) {
		testenv.Missing(t, "spoof-dev set", os.ErrNotExist)
	}
	s := pad.Shipped
	rep, err := padeval.Run(context.Background(), e, d, padeval.Config{Labels: labels, Widen: []float64{s.Widen}, TargetBPCER: s.TargetBPCER})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scorers) != 1 {
		t.Fatalf("%d scorers, want the default detector's one", len(rep.Scorers))
	}
	sc := rep.Scorers[0]
	at := sc.AtTarget
	if math.Abs(at.Threshold-s.Threshold) > 1e-4 {
		t.Errorf("threshold %.6f, shipped %.4f", at.Threshold, s.Threshold)
	}
	got := []int{rep.Live, rep.Attack["print"], at.BPCER.Errors, at.APCER["print"].Errors, sc.CV.BPCER.Errors, sc.CV.APCER["print"].Errors, sc.CV.Groups}
	want := []int{s.Live, s.Attacks, s.BPCERErrors, s.APCERErrors, s.CVBPCERErrors, s.CVAPCERErrors, s.CVSessions}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("counts (live, attacks, BPCER, APCER, CV BPCER, CV APCER, sessions) = %v, shipped %v", got, want)
			break
		}
	}
	// The floor: the smallest 4-decimal threshold above every print's score.
	hi := math.Inf(-1)
	for _, v := range sc.Scores.Attack["print"] {
		hi = math.Max(hi, v)
	}
	if floor := math.Floor(hi*1e4+1) / 1e4; math.Abs(floor-s.Floor) > 1e-9 {
		t.Errorf("floor: highest print score %.6f gives %.4f, shipped %.4f", hi, floor, s.Floor)
	}
	if ok, err := s.Accept(d, pad.Score{Live: s.Threshold}); !ok || err != nil {
		t.Errorf("a score at the threshold: %v, %v", ok, err)
	}
	other, err := pad.Open(padDir(), pad.Options{Models: []pad.Model{pad.MiniFASNetV2}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := s.Accept(other, pad.Score{Live: 1}); !errors.Is(err, pad.ErrCalibration) {
		t.Errorf("shipped calibration applied to MiniFASNetV2: %v, want ErrCalibration", err)
	}
}
