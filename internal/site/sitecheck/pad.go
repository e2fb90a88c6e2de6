package sitecheck

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/site"
)

// Bounds on the attack captures folder.
const (
	MaxAttackTypes      = 8
	MaxFramesPerAttack  = 2_000
	minBPCERForSupport  = 3 // live captures ≥ minBPCERForSupport/target: the rule of three
	thresholdResolution = 1e4
)

// PADConfig is the presentation-attack detection part of a site check.
//
// The site's live captures are every acquired frame of the captures
// folder (Config.Dir: the consenting people at the site's camera); its
// attack captures, optional, are AttackDir/<type>/<frame> or
// AttackDir/<type>/<folder>/<frame> (type: 1–32 of a–z 0–9 _ -, e.g.
// print, screen; folder: a person or a session), made at the same camera. Each frame
// is scored as the verifier scores the compared frame: the face nearest
// the centre, the detector's crop and networks.
//
// The threshold is chosen for TargetBPCER on the live scores (the
// highest 4-decimal threshold whose BPCER does not exceed it). Above the
// shipped threshold it is kept: stricter for attacks, the stated BPCER on
// this camera. Below it, it would let more attacks through than the
// shipped threshold, so it is raised to just above the highest attack
// score under the shipped threshold (never below the shipped
// calibration's Floor), and only with the evidence site.LoweringEvidence
// asks for: live captures that support the stated BPCER, and at least
// site.MinAttackCaptures captures of printed photos and of every attack
// type measured; without it the shipped threshold is kept. Never looser
// than shipped for an attack the site has not measured. The BPCER at the
// result may then exceed the target; the result says so.
type PADConfig struct {
	Detector    *pad.Detector   // opened with Shipped's networks and widening
	Shipped     pad.Calibration // the shipped threshold (pad.Shipped)
	Engine      *facerec.Engine // for the attack frames (the live ones come with the comparison analysis)
	TargetBPCER float64         // the stated BPCER, 0 < b < 1 (e.g. 0.05)
	AttackDir   string          // "" : no attack captures
}

// PADResult is the PAD part of a site check. Rates are ISO/IEC 30107-3's:
// BPCER over the live captures, APCER per attack type, each with counts
// and a 95 % interval.
type PADResult struct {
	Models       []string
	Widen        float64
	TargetBPCER  float64
	Shipped      float64
	Own          float64 // the threshold for TargetBPCER on the live scores alone
	Threshold    float64 // what the site calibration uses (see PADConfig)
	BPCER        eval.Rate
	ShippedBPCER eval.Rate
	Supported    bool // live captures ≥ 3/TargetBPCER
	Attacks      []AttackResult
	// AttackFTA counts attack frames without a face: the verifier refuses
	// them before liveness, so they are in no APCER.
	AttackFTA eval.Rate
	// NotLowered says why the threshold stayed at the shipped one when
	// the stated BPCER asked for a lower one (site.LoweringEvidence).
	NotLowered string
}

// AttackResult is one attack type's APCER at the site threshold and at
// the shipped one.
type AttackResult struct {
	Type                string
	APCER, ShippedAPCER eval.Rate
}

// MeetsTarget reports whether the BPCER at the chosen threshold is within
// the stated target.
func (r *PADResult) MeetsTarget() bool { return r.BPCER.Value <= r.TargetBPCER }

// padScores collects live scores through calibgen.Analyser.Face.
type padScores struct {
	cfg  *PADConfig
	live []float64
}

func (p *padScores) face(ctx context.Context, img image.Image, f *facerec.Face) error {
	s, err := p.cfg.Detector.Score(ctx, img, f.Box)
	if err != nil {
		return fmt.Errorf("sitecheck: presentation-attack detection: %w", err)
	}
	p.live = append(p.live, s.Live)
	return nil
}

// checkPAD scores the attack captures and chooses the threshold.
func checkPAD(ctx context.Context, cfg *PADConfig, live []float64) (*PADResult, error) {
	if len(live) == 0 {
		return nil, fmt.Errorf("sitecheck: no live capture to set a PAD threshold with")
	}
	attacks, fta, frames, err := scoreAttacks(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return choosePAD(cfg, live, attacks, eval.NewRate(fta, frames)), nil
}

// choosePAD applies PADConfig's rule to the scores.
func choosePAD(cfg *PADConfig, live []float64, attacks map[string][]float64, fta eval.Rate) *PADResult {
	shipped := cfg.Shipped.Threshold
	r := &PADResult{Widen: cfg.Shipped.Widen, TargetBPCER: cfg.TargetBPCER, Shipped: shipped, AttackFTA: fta,
		Supported: float64(len(live)) >= minBPCERForSupport/cfg.TargetBPCER}
	for _, m := range cfg.Shipped.Models {
		r.Models = append(r.Models, m.String())
	}
	// The ⌊b·n⌋-th smallest live score refuses at most ⌊b·n⌋ captures;
	// flooring to 4 decimals refuses no more.
	s := slices.Sorted(slices.Values(live))
	own := s[min(int(math.Floor(cfg.TargetBPCER*float64(len(s)))), len(s)-1)]
	r.Own = max(math.Floor(own*thresholdResolution)/thresholdResolution, 1/thresholdResolution)
	r.Threshold = r.Own
	if r.Threshold < shipped {
		floor := shipped // without the evidence: never below shipped
		trials := map[string]int{}
		for k, vs := range attacks {
			trials[k] = len(vs)
		}
		if err := site.LoweringEvidence(r.Supported, trials); err != nil {
			r.NotLowered = err.Error()
		} else {
			floor = max(cfg.Shipped.Floor, 1/thresholdResolution) // the shipped measurement's attacks stay refused
			for _, vs := range attacks {
				for _, v := range vs {
					if v < shipped {
						floor = max(floor, above(v))
					}
				}
			}
		}
		r.Threshold = max(r.Threshold, min(floor, shipped))
	}
	r.Threshold = min(r.Threshold, 1)
	r.BPCER, r.ShippedBPCER = refused(live, r.Threshold), refused(live, shipped)
	types := make([]string, 0, len(attacks))
	for k := range attacks {
		types = append(types, k)
	}
	sort.Strings(types)
	for _, k := range types {
		r.Attacks = append(r.Attacks, AttackResult{Type: k, APCER: accepted(attacks[k], r.Threshold), ShippedAPCER: accepted(attacks[k], shipped)})
	}
	return r
}

// above is the smallest 4-decimal threshold strictly above v.
func above(v float64) float64 {
	t := (math.Floor(v*thresholdResolution) + 1) / thresholdResolution
	for t <= v {
		t += 1 / thresholdResolution
	}
	return t
}

func refused(live []float64, t float64) eval.Rate {
	n := 0
	for _, v := range live {
		if !(v >= t) {
			n++
		}
	}
	return eval.NewRate(n, len(live))
}

func accepted(attack []float64, t float64) eval.Rate {
	n := 0
	for _, v := range attack {
		if v >= t {
			n++
		}
	}
	return eval.NewRate(n, len(attack))
}

// scoreAttacks scores AttackDir/<type>/<frame>.
func scoreAttacks(ctx context.Context, cfg *PADConfig) (map[string][]float64, int, int, error) {
	out := map[string][]float64{}
	if cfg.AttackDir == "" {
		return out, 0, 0, nil
	}
	ents, err := os.ReadDir(cfg.AttackDir)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("sitecheck: attack captures: %v", err)
	}
	fta, frames := 0, 0
	for _, e := range ents {
		if err := refuseLink(cfg.AttackDir, e); err != nil {
			return nil, 0, 0, err
		}
		if !e.IsDir() {
			continue
		}
		typ := e.Name()
		if !site.ValidAttackType(typ) {
			return nil, 0, 0, fmt.Errorf("sitecheck: %s: an attack type folder is named with 1–32 of a–z 0–9 _ -", filepath.Join(cfg.AttackDir, typ))
		}
		if len(out) >= MaxAttackTypes {
			return nil, 0, 0, fmt.Errorf("sitecheck: %s: more than %d attack types", cfg.AttackDir, MaxAttackTypes)
		}
		paths, err := attackFrames(filepath.Join(cfg.AttackDir, typ))
		if err != nil {
			return nil, 0, 0, err
		}
		scores := []float64{}
		for _, p := range paths {
			if err := ctx.Err(); err != nil {
				return nil, 0, 0, err
			}
			frames++
			v, ok, err := scoreFile(ctx, cfg, p)
			if err != nil {
				return nil, 0, 0, err
			}
			if !ok {
				fta++
				continue
			}
			scores = append(scores, v)
		}
		if len(scores) > 0 {
			out[typ] = scores
		}
	}
	return out, fta, frames, nil
}

// attackFrames lists the frames of one attack type's folder and of its
// subfolders (one level: a person or a session each), at most
// MaxFramesPerAttack in all.
func attackFrames(dir string) ([]string, error) {
	var paths []string
	add := func(d string) error {
		names, err := frameNames(d, MaxFramesPerAttack)
		if err != nil {
			return err
		}
		for _, n := range names {
			paths = append(paths, filepath.Join(d, n))
		}
		if len(paths) > MaxFramesPerAttack {
			return fmt.Errorf("sitecheck: %s: more than %d frames", dir, MaxFramesPerAttack)
		}
		return nil
	}
	if err := add(dir); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sitecheck: %v", err)
	}
	for _, e := range ents {
		if err := refuseLink(dir, e); err != nil {
			return nil, err
		}
		if e.IsDir() {
			if err := add(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return paths, nil
}

// scoreFile decodes one frame as the verifier does, takes the face nearest
// the centre and scores it; ok is false when no face is acquired.
func scoreFile(ctx context.Context, cfg *PADConfig, path string) (float64, bool, error) {
	b, err := readFrame(path)
	if err != nil {
		return 0, false, err
	}
	img, _, err := imageio.Decode(b, imageio.Limits{})
	if err != nil {
		return 0, false, nil
	}
	defer imageio.Wipe(img)
	a, err := cfg.Engine.Analyze(ctx, facerec.Image(img))
	if err != nil {
		return 0, false, nil
	}
	f, err := a.Central()
	if err != nil {
		return 0, false, nil
	}
	s, err := cfg.Detector.Score(ctx, img, f.Box)
	if err != nil {
		return 0, false, fmt.Errorf("sitecheck: %s: presentation-attack detection: %w", path, err)
	}
	return s.Live, true, nil
}

// refuseLink refuses a folder entry that is a symbolic link, by name. A
// linked folder or frame is not followed (it may point anywhere, the live
// captures included), and skipping it silently would measure other
// captures than the operator put there.
func refuseLink(dir string, e os.DirEntry) error {
	if e.Type()&os.ModeSymlink != 0 {
		return fmt.Errorf("sitecheck: %s: a symbolic link, not followed", filepath.Join(dir, e.Name()))
	}
	return nil
}

// frameNames lists the JPEG and PNG regular files of dir, sorted. A
// symbolic link in dir is an error (see refuseLink).
func frameNames(dir string, limit int) ([]string, error) {
	fs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sitecheck: %v", err)
	}
	var names []string
	for _, f := range fs {
		if err := refuseLink(dir, f); err != nil {
			return nil, err
		}
		ext := strings.ToLower(filepath.Ext(f.Name()))
		if f.Type().IsRegular() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
			names = append(names, f.Name())
		}
	}
	sort.Strings(names)
	if len(names) > limit {
		return nil, fmt.Errorf("sitecheck: %s: more than %d frames", dir, limit)
	}
	return names, nil
}

// readFrame reads a regular file of at most MaxFrameBytes, not through a
// symbolic link.
func readFrame(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > MaxFrameBytes {
		return nil, fmt.Errorf("sitecheck: %s: not a regular file of at most %d bytes", path, MaxFrameBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sitecheck: %v", err)
	}
	if len(b) > MaxFrameBytes {
		return nil, fmt.Errorf("sitecheck: %s: larger than %d bytes", path, MaxFrameBytes)
	}
	return b, nil
}

// padCalibration is the site calibration's PAD part for r.
func (r *PADResult) padCalibration() *site.PAD {
	p := &site.PAD{Models: r.Models, Widen: r.Widen, TargetBPCER: r.TargetBPCER, Threshold: r.Threshold, Shipped: r.Shipped,
		BPCER: calib.Rate{Errors: r.BPCER.Errors, Trials: r.BPCER.Trials}, Supported: r.Supported}
	for _, a := range r.Attacks {
		p.Attacks = append(p.Attacks, site.PADAttack{Type: a.Type, APCER: calib.Rate{Errors: a.APCER.Errors, Trials: a.APCER.Trials},
			ShippedAPCER: calib.Rate{Errors: a.ShippedAPCER.Errors, Trials: a.ShippedAPCER.Trials}})
	}
	return p
}

// padSummary is the PAD part of [Summary].
func padSummary(b *strings.Builder, r *PADResult) {
	fmt.Fprintf(b, "presentation-attack detection: %s, box ×%v, stated BPCER %g\n", strings.Join(r.Models, "+"), r.Widen, r.TargetBPCER)
	fmt.Fprintf(b, "  shipped threshold %.4f: BPCER %s\n", r.Shipped, r.ShippedBPCER)
	for _, a := range r.Attacks {
		fmt.Fprintf(b, "    APCER %s: %s\n", a.Type, a.ShippedAPCER)
	}
	fmt.Fprintf(b, "  site threshold %.4f (for the stated BPCER alone: %.4f): BPCER %s\n", r.Threshold, r.Own, r.BPCER)
	for _, a := range r.Attacks {
		fmt.Fprintf(b, "    APCER %s: %s\n", a.Type, a.APCER)
	}
	if r.AttackFTA.Trials > 0 {
		fmt.Fprintf(b, "  attack frames without a face (refused before liveness): %s\n", r.AttackFTA)
	}
	switch {
	case r.Own < r.Threshold && r.NotLowered != "":
		fmt.Fprintf(b, "  NOT MET: the stated BPCER needs %.4f, below the shipped threshold, which is kept: %s (going lower needs %.0f live captures, and at least %d captures of printed photos and of each other attack type, with -attacks)\n",
			r.Own, r.NotLowered, math.Ceil(minBPCERForSupport/r.TargetBPCER), site.MinAttackCaptures)
	case r.Own < r.Threshold:
		fmt.Fprintf(b, "  NOT MET: the stated BPCER needs %.4f, which would accept site attacks the shipped threshold refuses\n", r.Own)
	}
	if r.Threshold < r.Shipped {
		types := make([]string, len(r.Attacks))
		for i, a := range r.Attacks {
			types[i] = a.Type
		}
		fmt.Fprintf(b, "  LOWERED below the shipped threshold on the evidence of the %s captures only: attack types not measured here (phone or tablet screens, masks, other prints) may pass more often than at the shipped threshold\n", strings.Join(types, ", "))
	}
	for _, a := range r.Attacks {
		if a.APCER.Errors > 0 {
			fmt.Fprintf(b, "  WARNING: %d of %d %s attacks pass the passive check on this camera: it does not stop them here\n", a.APCER.Errors, a.APCER.Trials, a.Type)
		}
	}
	if !r.Supported {
		fmt.Fprintf(b, "  %d live captures cannot support a BPCER of %g (needs %.0f)\n", r.BPCER.Trials, r.TargetBPCER, math.Ceil(minBPCERForSupport/r.TargetBPCER))
	}
}
