// Package calib holds oneface's calibration table: for each face model,
// the Euclidean thresholds that meet target false-match rates, with the
// counts they rest on. Verification policies take their threshold from
// here; a target stricter than the table supports is an error, never a
// guess.
//
// The table is generated from the LFW dev set (../shared/faces/lfw-dev)
// by `go generate ./internal/calib` (`make calibrate`; the generator is
// package calibgen, so this package links nothing but the standard
// library) and committed; calibgen's TestRegenerate checks that it
// regenerates bit-identically. Comparisons use every pair of dev
// images of different people (impostors) and of the same person
// (genuine), in both LFW variants; for each target the lower (stricter)
// of the two variants' thresholds is kept. Such pairs are not
// independent — the same 435 people recur across hundreds of thousands of
// comparisons — so the confidence they suggest is optimistic, and LFW's
// news photos of public figures say little about other populations
// (NIST IR 8280 documents demographic differentials). Re-measure on your
// own data with `oneface eval`.
package calib

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

//go:generate go run gen_calibration.go

//go:embed calibration.json
var tableJSON []byte

// Rate is a measured error rate with the counts behind it: Errors out of
// Trials comparisons, Value = Errors/Trials, and its 95 % confidence
// interval [Lo, Hi] (exact Clopper-Pearson, or the rule of three when
// there is no error), all as fractions in [0, 1]. The generator computes
// it with internal/eval; this copy keeps the runtime free of eval's
// dependencies.
type Rate struct {
	Errors int     `json:"errors"`
	Trials int     `json:"trials"`
	Value  float64 `json:"value"`
	Lo     float64 `json:"ci95_lo"`
	Hi     float64 `json:"ci95_hi"`
}

// Basis is the evidence behind a threshold on one dataset variant.
type Basis struct {
	Variant  string `json:"variant"`
	Impostor Rate   `json:"fmr_at_threshold"`  // impostor comparisons and false matches at the chosen threshold
	Genuine  Rate   `json:"fnmr_at_threshold"` // genuine comparisons and false non-matches at the chosen threshold
}

// Entry is one calibrated operating point.
type Entry struct {
	Photos    int     `json:"enrolment_photos"` // template = mean of this many photos
	TargetFMR float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"` // match iff Euclidean distance < threshold
	Basis     []Basis `json:"basis"`
}

// Model is the calibration of one model ID.
type Model struct {
	ModelID string  `json:"model_id"`
	Metric  string  `json:"metric"`
	Source  string  `json:"source"`
	Notes   string  `json:"notes"`
	Entries []Entry `json:"entries"`
}

// Table is the whole file.
type Table struct {
	Models []Model `json:"models"`
}

// Errors.
var (
	ErrNoCalibration = errors.New("calib: no calibration for this model")
	ErrUnsupported   = errors.New("calib: the calibration does not support that false-match rate")
)

// Load parses the embedded table.
func Load() (*Table, error) {
	var t Table
	if err := json.Unmarshal(tableJSON, &t); err != nil {
		return nil, fmt.Errorf("calib: embedded table: %v", err)
	}
	return &t, nil
}

// Lookup returns the operating point for a model, a number of enrolment
// photos and a target FMR: among the entries calibrated for exactly that
// number of photos (a mean of more photos sits closer to everyone,
// impostors included, so another count's threshold would not hold), the
// one with the largest calibrated target that is ≤ target. A target
// stricter than every calibrated one is [ErrUnsupported].
func (t *Table) Lookup(modelID string, photos int, target float64) (Entry, error) {
	var m *Model
	for i := range t.Models {
		if t.Models[i].ModelID == modelID {
			m = &t.Models[i]
		}
	}
	if m == nil {
		return Entry{}, fmt.Errorf("%w: %s", ErrNoCalibration, modelID)
	}
	found := false
	for _, e := range m.Entries {
		found = found || e.Photos == photos
	}
	if !found {
		return Entry{}, fmt.Errorf("%w: no entry for %d enrolment photos", ErrNoCalibration, photos)
	}
	var cands []Entry
	for _, e := range m.Entries {
		if e.Photos == photos && e.TargetFMR <= target {
			cands = append(cands, e)
		}
	}
	if len(cands) == 0 {
		return Entry{}, fmt.Errorf("%w: FMR %g is stricter than any calibrated target for model %s", ErrUnsupported, target, modelID)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].TargetFMR > cands[j].TargetFMR })
	return cands[0], nil
}
