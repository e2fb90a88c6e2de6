// Package sitecheck measures a deployment's own consenting captures at
// the shipped thresholds of internal/calib and turns the result into a
// site calibration (package site). It is the logic of `oneface
// calibrate-site`.
//
// The captures are a folder with one subfolder per person and several
// frames (JPEG or PNG) in each. Every frame is analysed with the real
// engine (face nearest the centre; frames without one are failures to
// acquire) and the chosen model, in memory only: nothing is cached on
// disk. For 1, 2 and 3 enrolment photos it compares templates with the
// person's other frames (genuine) and everyone else's (impostor), exactly
// as the shipped table does on LFW, and measures FMR and FNMR at the
// shipped threshold with 95 % confidence intervals.
//
// The policy is enabled only if no enrolment count's measured FMR exceeds
// the target ([ErrFMRExceeded] otherwise). With Tighten, an exceeding
// count gets the site's own, stricter threshold instead (the largest at
// which the site's FMR does not exceed the target). A site with fewer
// than 3/target impostor comparisons cannot confirm the target; its
// result says so (Supported false) and it can still refuse.
//
// With Config.PAD it also sets the presentation-attack detection
// threshold of the site's camera for a stated BPCER ([PADConfig]).
package sitecheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/calib/calibgen"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/site"
)

// Bounds on the captures folder.
const (
	MaxPeople          = 10_000
	MaxFramesPerPerson = 100
	MaxFrameBytes      = 20 << 20
)

// ErrFMRExceeded: at the shipped threshold the site's measured FMR is
// above the target, so the policy must not be enabled here.
var ErrFMRExceeded = errors.New("sitecheck: false-match rate at the shipped threshold exceeds the target on this site's captures")

// Config is one site check.
type Config struct {
	Dir       string     // one subfolder per person
	Model     string     // "arcface" or "dlib"
	TargetFMR float64    // must be a calibrated target (e.g. 1e-3)
	Tighten   bool       // on excess, use the site's own stricter threshold instead of refusing
	PAD       *PADConfig // nil: no PAD threshold measured (the shipped one applies)
}

// Point is the result for one enrolment count.
type Point struct {
	Photos    int
	Shipped   float64   // the shipped threshold
	FMR, FNMR eval.Rate // at Shipped
	Supported bool      // impostor comparisons ≥ 3/target
	Exceeds   bool      // FMR.Value > target
	Own       float64   // the site's own threshold for the target (floored to 1e-4)
	Threshold float64   // what the site calibration uses: Shipped, or Own if tightened
	FMRAt     eval.Rate // FMR at Threshold
	FNMRAt    eval.Rate // FNMR at Threshold
}

// Result is a site check's outcome.
type Result struct {
	ModelID   string
	Metric    string
	TargetFMR float64
	People    int // folders with at least one acquired frame
	Frames    int
	FTA       eval.Rate // failures to acquire among frames
	Points    []Point
	PAD       *PADResult // with Config.PAD
}

// Check analyses the captures and measures each enrolment count the data
// allow (a person needs k+1 frames to give a genuine comparison).
func Check(ctx context.Context, a *calibgen.Analyser, tab *calib.Table, cfg Config) (*Result, error) {
	var ps *padScores
	if cfg.PAD != nil {
		if cfg.PAD.Detector == nil || cfg.PAD.Engine == nil || !(cfg.PAD.TargetBPCER > 0 && cfg.PAD.TargetBPCER < 1) {
			return nil, fmt.Errorf("sitecheck: PAD check needs a detector, an engine and a stated BPCER in (0, 1)")
		}
		ps = &padScores{cfg: cfg.PAD}
		withPAD := *a
		withPAD.Cache, withPAD.Face = "", ps.face
		a = &withPAD
	}
	people, frames, failed, err := analyse(ctx, a, cfg.Dir)
	if err != nil {
		return nil, err
	}
	if len(people) < 2 {
		return nil, fmt.Errorf("sitecheck: %s: need at least 2 people with an acquired frame, have %d", cfg.Dir, len(people))
	}
	r := &Result{TargetFMR: cfg.TargetFMR, People: len(people), Frames: frames, FTA: eval.NewRate(failed, frames)}
	for k := 1; k <= 3; k++ {
		s, id, err := calibgen.Scores(a.Engine.ModelID(), cfg.Model, people, k)
		if err != nil {
			return nil, err
		}
		r.ModelID = id
		if len(s.Genuine) == 0 || len(s.Impostor) == 0 {
			continue
		}
		sp, err := tab.Lookup(id, k, cfg.TargetFMR)
		if err != nil {
			return nil, err
		}
		if sp.TargetFMR != cfg.TargetFMR {
			return nil, fmt.Errorf("%w: FMR %g is not a calibrated target (the table has %g below it)", calib.ErrUnsupported, cfg.TargetFMR, sp.TargetFMR)
		}
		r.Metric = sp.Metric
		p := Point{Photos: k, Shipped: sp.Threshold, FMR: s.FMR(sp.Threshold), FNMR: s.FNMR(sp.Threshold),
			Supported: eval.Supports(len(s.Impostor), cfg.TargetFMR)}
		p.Exceeds = p.FMR.Value > cfg.TargetFMR
		p.Own = calibgen.Floor(s.Impostor[int(math.Floor(cfg.TargetFMR*float64(len(s.Impostor))))])
		p.Threshold = p.Shipped
		if p.Exceeds && cfg.Tighten {
			p.Threshold = math.Min(p.Own, p.Shipped)
		}
		p.FMRAt, p.FNMRAt = s.FMR(p.Threshold), s.FNMR(p.Threshold)
		r.Points = append(r.Points, p)
	}
	if len(r.Points) == 0 {
		return nil, fmt.Errorf("sitecheck: %s: no person has two acquired frames", cfg.Dir)
	}
	if ps != nil {
		if r.PAD, err = checkPAD(ctx, cfg.PAD, ps.live); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Calibration returns the site calibration for r, or [ErrFMRExceeded]
// when an enrolment count's FMR at its threshold exceeds the target (not
// tightened). Enrolment counts must start at 1 and be consecutive.
func (r *Result) Calibration(siteName string) (*site.Calibration, error) {
	c := &site.Calibration{Site: siteName, ModelID: r.ModelID, TargetFMR: r.TargetFMR}
	var bad []string
	for i, p := range r.Points {
		if p.Photos != i+1 {
			break
		}
		if p.FMRAt.Value > r.TargetFMR {
			bad = append(bad, fmt.Sprintf("%d photo(s): FMR %s", p.Photos, p.FMRAt))
		}
		c.Points = append(c.Points, site.Point{Photos: p.Photos, Threshold: p.Threshold, Shipped: p.Shipped,
			FMR: calib.Rate{Errors: p.FMRAt.Errors, Trials: p.FMRAt.Trials}, FNMR: calib.Rate{Errors: p.FNMRAt.Errors, Trials: p.FNMRAt.Trials},
			Supported: p.Supported})
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w (target %g): %s", ErrFMRExceeded, r.TargetFMR, strings.Join(bad, "; "))
	}
	if r.PAD != nil {
		c.PAD = r.PAD.padCalibration()
	}
	return c, nil
}

// analyse reads dir/<person>/<frame> and returns the acquired samples by
// person, the number of frames and of failures to acquire.
func analyse(ctx context.Context, a *calibgen.Analyser, dir string) (map[string][]calibgen.Sample, int, int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("sitecheck: %v", err)
	}
	people := map[string][]calibgen.Sample{}
	frames, failed, folders := 0, 0, 0
	for _, e := range ents {
		if err := refuseLink(dir, e); err != nil {
			return nil, 0, 0, err
		}
		if !e.IsDir() {
			continue
		}
		if folders++; folders > MaxPeople {
			return nil, 0, 0, fmt.Errorf("sitecheck: %s: more than %d person folders", dir, MaxPeople)
		}
		pdir := filepath.Join(dir, e.Name())
		names, err := frameNames(pdir, MaxFramesPerPerson)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, n := range names {
			p := filepath.Join(pdir, n)
			if fi, err := os.Lstat(p); err != nil || fi.Size() > MaxFrameBytes {
				return nil, 0, 0, fmt.Errorf("sitecheck: %s: unreadable or larger than %d bytes", p, MaxFrameBytes)
			}
			frames++
			s, ok, err := a.Analyse(ctx, p)
			if err != nil {
				return nil, 0, 0, err
			}
			if !ok {
				failed++
				continue
			}
			people[e.Name()] = append(people[e.Name()], s)
		}
	}
	return people, frames, failed, nil
}

// Summary is the text report of a site check.
func Summary(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "site check: model %s (%s), target FMR %g\n", r.ModelID, r.Metric, r.TargetFMR)
	fmt.Fprintf(&b, "  %d people, %d frames, failure to acquire %s\n", r.People, r.Frames, r.FTA)
	for _, p := range r.Points {
		fmt.Fprintf(&b, "  %d photo(s) at the shipped threshold %.4f: FMR %s, FNMR %s\n", p.Photos, p.Shipped, p.FMR, p.FNMR)
		switch {
		case p.Exceeds && p.Threshold < p.Shipped:
			fmt.Fprintf(&b, "    EXCEEDS the target; tightened to the site's own %.4f: FMR %s, FNMR %s\n", p.Threshold, p.FMRAt, p.FNMRAt)
		case p.Exceeds:
			fmt.Fprintf(&b, "    EXCEEDS the target (the site's own threshold would be %.4f)\n", p.Own)
		}
		if !p.Supported {
			fmt.Fprintf(&b, "    %d impostor comparisons cannot support FMR %g (needs %.0f): the site can refuse, not confirm\n", p.FMR.Trials, r.TargetFMR, math.Ceil(3/r.TargetFMR))
		}
	}
	if r.PAD != nil {
		padSummary(&b, r.PAD)
	}
	return b.String()
}
