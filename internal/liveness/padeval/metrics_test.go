package padeval

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/eval"
)

func TestOperatingPoints(t *testing.T) {
	s := Scores{
		Live:   []float64{0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99},
		Attack: map[string][]float64{"print": {0.0, 0.05, 0.2, 0.55, 0.65}, "screen": {0.3, 0.4}},
	}
	// BPCER 10 %: one of ten live scores may fall below → threshold 0.5.
	if th := ForBPCER(s.Live, 0.1); th != 0.5 {
		t.Errorf("ForBPCER(0.1) = %v, want 0.5", th)
	}
	o := s.At(0.5)
	if o.BPCER.Errors != 1 || o.BPCER.Trials != 10 {
		t.Errorf("BPCER at 0.5: %v", o.BPCER)
	}
	if a := o.APCER["print"]; a.Errors != 2 || a.Trials != 5 {
		t.Errorf("print APCER at 0.5: %v", a)
	}
	if a := o.APCER["screen"]; a.Errors != 0 || a.Trials != 2 {
		t.Errorf("screen APCER at 0.5: %v", a)
	}
	if k, a := o.WorstAPCER(); k != "print" || a.Errors != 2 {
		t.Errorf("worst APCER %s %v", k, a)
	}
	// APCER 0: every attack must fall below: just above 0.65.
	th := ForAPCER(s.Attack, 0)
	if !(th > 0.65 && th < 0.650001) {
		t.Errorf("ForAPCER(0) = %v", th)
	}
	if o := s.At(th); o.APCER["print"].Errors != 0 || o.BPCER.Errors != 3 {
		t.Errorf("at %v: %+v", th, o)
	}
	// APCER 20 %: one of five prints may pass (and none of the 2
	// screens): just above 0.55.
	if th := ForAPCER(s.Attack, 0.2); !(th > 0.55 && th < 0.550001) {
		t.Errorf("ForAPCER(0.2) = %v", th)
	}
	// Perfectly separated scores have EER 0.
	if e := (Scores{Live: []float64{0.9, 0.8}, Attack: map[string][]float64{"p": {0.1, 0.2}}}).EER(); e != 0 {
		t.Errorf("EER of separated scores %v", e)
	}
}

func TestCrossValidate(t *testing.T) {
	// Group b's live scores are low: a threshold chosen on group a alone
	// (BPCER 0) refuses them, which in-sample selection would hide.
	ss := []sample{
		{live: true, group: "a", score: 0.9}, {live: true, group: "a", score: 0.8},
		{live: true, group: "b", score: 0.3}, {live: true, group: "b", score: 0.35},
		{attack: "print", group: "a", score: 0.1}, {attack: "print", group: "b", score: 0.5},
	}
	cv := crossValidate(ss, 0)
	if cv.Groups != 2 {
		t.Fatalf("groups %d", cv.Groups)
	}
	// Fold b: threshold 0.8 (from a) refuses both b lives, rejects b's print.
	// Fold a: threshold 0.3 (from b) accepts a's lives, rejects a's print.
	if cv.BPCER.Errors != 2 || cv.BPCER.Trials != 4 {
		t.Errorf("CV BPCER %v, want 2/4", cv.BPCER)
	}
	if a := cv.APCER["print"]; a.Errors != 0 || a.Trials != 2 {
		t.Errorf("CV APCER %v, want 0/2", a)
	}
	if cv.ThresholdMin != 0.3 || cv.ThresholdMax != 0.8 {
		t.Errorf("thresholds %v..%v", cv.ThresholdMin, cv.ThresholdMax)
	}
	if !math.IsNaN(ForBPCER(nil, 0.05)) {
		t.Error("threshold from no live scores")
	}
}

func TestBest(t *testing.T) {
	rate := func(e, n int) eval.Rate { return eval.NewRate(e, n) }
	mk := func(name string, models int, cvA, trB int) Scorer {
		return Scorer{Name: name, Models: make([]string, models),
			CV:       &CV{APCER: map[string]eval.Rate{"print": rate(cvA, 100)}, BPCER: rate(5, 100)},
			Transfer: &Operating{BPCER: rate(trB, 700)}}
	}
	r := &Report{Scorers: []Scorer{mk("leaky", 1, 3, 10), mk("fused", 3, 0, 50), mk("single", 1, 0, 50), mk("transfers", 2, 0, 40)}}
	if b := r.Best(); b.Name != "transfers" {
		t.Errorf("best %q, want the one whose threshold transfers best among those with the lowest APCER", b.Name)
	}
	r.Scorers = r.Scorers[:3]
	if b := r.Best(); b.Name != "single" {
		t.Errorf("best %q, want the single network on a tie", b.Name)
	}
}

// TestNotScoredClass: a labels file whose bona fide images, or attack
// images, were all lost to failures to acquire is refused, naming the
// first failure (before: every threshold was NaN and report.json failed
// with "json: unsupported value: NaN").
func TestNotScoredClass(t *testing.T) {
	rows := []Row{{File: "a.jpg", Live: true}, {File: "b.jpg", Live: false, Attack: "print"}}
	fails := []Failure{{File: "a.jpg", Live: true, Error: "facerec: no face"}}
	err := checkClasses("labels.csv", rows, []scored{{row: rows[1]}}, fails)
	if !errors.Is(err, ErrNotScored) || !strings.Contains(err.Error(), "none of the 1 bona fide (live) images of labels.csv was acquired; first: a.jpg: facerec: no face") {
		t.Errorf("no live image scored: %v", err)
	}
	fails = []Failure{{File: "b.jpg", Live: false, Error: "open b.jpg: no such file"}}
	if err := checkClasses("labels.csv", rows, []scored{{row: rows[0]}}, fails); !errors.Is(err, ErrNotScored) || !strings.Contains(err.Error(), "attack (spoof) images") {
		t.Errorf("no attack image scored: %v", err)
	}
	if err := checkClasses("labels.csv", rows[:1], []scored{{row: rows[0]}}, nil); err != nil {
		t.Errorf("live only, scored: %v", err)
	}
	if err := checkClasses("labels.csv", rows[1:], []scored{{row: rows[1]}}, nil); !errors.Is(err, ErrNotScored) {
		t.Errorf("no live row: %v", err)
	}
}

// TestReportUndefinedIsNull: undefined metrics (NaN: an EER or a
// threshold the data leave undefined) are written as null, not refused by
// encoding/json ("json: unsupported value: NaN" before).
func TestReportUndefinedIsNull(t *testing.T) {
	live := []float64{0.2, 0.6, 0.9}
	s := Scores{Live: live, Attack: map[string][]float64{}}
	sc := Scorer{Name: "x", Scores: s, AtTarget: s.At(ForBPCER(live, 0.05)), AtAPCER5: s.At(math.NaN()), EER: math.NaN(),
		CV: &CV{ThresholdMin: math.NaN(), ThresholdMax: math.Inf(1)}}
	dir := t.TempDir()
	r := &Report{Labels: "l.csv", Live: 3, Attack: map[string]int{}, Scorers: []Scorer{sc}, MsPerModel: map[string]float64{"m": 1}}
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Scorers []struct {
			EER      *float64 `json:"eer"`
			AtAPCER5 struct {
				Threshold *float64 `json:"threshold"`
			} `json:"at_apcer_5pc"`
			AtTarget struct {
				Threshold *float64 `json:"threshold"`
			} `json:"at_target_bpcer"`
			CV struct {
				ThresholdMin *float64 `json:"threshold_min"`
			} `json:"cv"`
		} `json:"scorers"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	got := v.Scorers[0]
	if got.EER != nil || got.AtTarget.Threshold == nil || *got.AtTarget.Threshold != sc.AtTarget.Threshold || got.CV.ThresholdMin != nil {
		t.Errorf("report.json:\n%s", b)
	}
	if got.AtAPCER5.Threshold != nil {
		t.Errorf("undefined threshold written as %v", *got.AtAPCER5.Threshold)
	}
}
