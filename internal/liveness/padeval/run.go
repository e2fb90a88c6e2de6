// Package padeval measures presentation-attack detection the ISO/IEC
// 30107-3 way: APCER per attack type, BPCER, BPCER at fixed APCER, each
// with counts and 95 % Clopper-Pearson intervals (internal/eval's [eval.Rate]),
// a threshold chosen for a stated BPCER and checked by session-disjoint
// cross-validation, and the time per frame. It backs `oneface eval-pad`.
package padeval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for image.Decode
	_ "image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/liveness/pad"
)

// Input limits, as the rest of oneface: 20 MiB encoded, 40 M pixels.
const (
	maxImageBytes  = 20 << 20
	maxImagePixels = 40_000_000
)

// Config is one evaluation.
type Config struct {
	Labels      string      // labels CSV (see [ParseLabels])
	Root        string      // image paths are relative to it (default: the CSV's folder)
	Widen       []float64   // box widenings to measure (default 1)
	TargetBPCER float64     // stated BPCER the threshold is chosen for (default 0.05)
	Progress    io.Writer   // progress lines (nil: none)
	Models      []pad.Model // networks (default: every network the detector runs)
	// Transfer is an optional second labels CSV from other cameras or
	// sites: each scorer's threshold chosen on Labels is applied to it
	// unchanged, to show whether the threshold transfers.
	Transfer string
}

// Scorer is one configuration: a box widening and a set of networks whose
// live probabilities are averaged.
type Scorer struct {
	Name   string   `json:"name"`
	Widen  float64  `json:"widen"`
	Models []string `json:"models"`
	Scores Scores   `json:"scores"`
	// AtTarget is the threshold chosen on all the data for TargetBPCER.
	AtTarget Operating `json:"at_target_bpcer"`
	// AtAPCER5 and AtAPCER1: BPCER at the lowest threshold holding every
	// attack type's APCER at or below 5 % and 1 %.
	AtAPCER5 Operating `json:"at_apcer_5pc"`
	AtAPCER1 Operating `json:"at_apcer_1pc"`
	EER      float64   `json:"eer"`
	// CV is the session-disjoint cross-validated operating point
	// (absent when the labels have no session column).
	CV *CV `json:"cv,omitempty"`
	// Transfer is the AtTarget threshold applied to the Transfer set.
	Transfer *Operating `json:"transfer,omitempty"`
	// MsPerFrame is the mean time of crop and inference per frame, summed
	// over the networks, on one thread.
	MsPerFrame float64 `json:"ms_per_frame"`
}

// Failure is an image that could not be scored.
type Failure struct {
	File  string `json:"file"`
	Live  bool   `json:"live"`
	Error string `json:"error"`
}

// Report is the outcome of [Run].
type Report struct {
	Labels      string         `json:"labels"`
	Live        int            `json:"live"`
	Attack      map[string]int `json:"attack"`
	Groups      int            `json:"groups"`
	TargetBPCER float64        `json:"target_bpcer"`
	Scorers     []Scorer       `json:"scorers"`
	Failures    []Failure      `json:"failures"`
	// FTA is the failure-to-acquire rate: presentations with no single
	// face (they never reach PAD; a kiosk refuses them as captures).
	FTA eval.Rate `json:"fta"`
	// TransferLabels, TransferFailures: the Transfer set, if any.
	TransferLabels   string    `json:"transfer_labels,omitempty"`
	TransferFailures []Failure `json:"transfer_failures,omitempty"`
	// MsPerModel is each network's mean crop and inference time per frame.
	MsPerModel map[string]float64 `json:"ms_per_model"`
	OpenCV     string             `json:"opencv"`
}

// Run scores every labelled image: decode (JPEG or PNG, within the
// limits), detect the single face with the engine, crop around its box at
// each widening and run each network.
func Run(ctx context.Context, e *facerec.Engine, d *pad.Detector, cfg Config) (*Report, error) {
	root := cfg.Root
	if root == "" {
		root = filepath.Dir(cfg.Labels)
	}
	widen := cfg.Widen
	if len(widen) == 0 {
		widen = []float64{1}
	}
	target := cfg.TargetBPCER
	if target == 0 {
		target = 0.05
	}
	models := cfg.Models
	if len(models) == 0 {
		models = d.Models()
	}
	rep := &Report{Labels: cfg.Labels, TargetBPCER: target, Attack: map[string]int{}, MsPerModel: map[string]float64{}}
	sc := scorer{e: e, d: d, models: models, widen: widen, progress: cfg.Progress, spent: make([]time.Duration, len(models))}
	rows, ok, fails, err := sc.scoreFile(ctx, cfg.Labels, root)
	if err != nil {
		return nil, err
	}
	rep.Failures = fails
	if err := checkClasses(cfg.Labels, rows, ok, fails); err != nil {
		return nil, err
	}
	var tOK []scored
	if cfg.Transfer != "" {
		rep.TransferLabels = cfg.Transfer
		_, tOK, rep.TransferFailures, err = sc.scoreFile(ctx, cfg.Transfer, filepath.Dir(cfg.Transfer))
		if err != nil {
			return nil, err
		}
	}
	for k, m := range models {
		if sc.runs > 0 {
			rep.MsPerModel[m.String()] = float64(sc.spent[k].Microseconds()) / 1000 / float64(sc.runs)
		}
	}
	groups := map[string]bool{}
	rep.FTA = eval.NewRate(len(rep.Failures), len(rows))
	for _, s := range ok {
		if s.row.Live {
			rep.Live++
		} else {
			rep.Attack[s.row.Attack]++
		}
		groups[s.row.Group] = true
	}
	if !groups[""] {
		rep.Groups = len(groups)
	}
	// Scorers: each network alone, the two MiniFASNets fused, all fused.
	type combo struct {
		name string
		idx  []int
	}
	var combos []combo
	for k, m := range models {
		combos = append(combos, combo{m.String(), []int{k}})
	}
	var mini []int
	for k, m := range models {
		if m == pad.MiniFASNetV2 || m == pad.MiniFASNetV1SE {
			mini = append(mini, k)
		}
	}
	if len(mini) == 2 && len(models) > 2 {
		combos = append(combos, combo{"fused MiniFASNetV2+V1SE", mini})
	}
	if len(models) > 1 {
		all := make([]int, len(models))
		for k := range all {
			all[k] = k
		}
		combos = append(combos, combo{"fused all", all})
	}
	for wi, w := range widen {
		for _, c := range combos {
			sc := Scorer{Name: fmt.Sprintf("%s, box ×%.2f", c.name, w), Widen: w, Scores: Scores{Attack: map[string][]float64{}}}
			var ss []sample
			for _, k := range c.idx {
				sc.Models = append(sc.Models, models[k].String())
				sc.MsPerFrame += rep.MsPerModel[models[k].String()]
			}
			for _, s := range ok {
				v := 0.0
				for _, k := range c.idx {
					v += s.p[wi][k] / float64(len(c.idx))
				}
				if s.row.Live {
					sc.Scores.Live = append(sc.Scores.Live, v)
				} else {
					sc.Scores.Attack[s.row.Attack] = append(sc.Scores.Attack[s.row.Attack], v)
				}
				ss = append(ss, sample{s.row.Live, s.row.Attack, s.row.Group, v})
			}
			sc.AtTarget = sc.Scores.At(ForBPCER(sc.Scores.Live, target))
			sc.AtAPCER5 = sc.Scores.At(ForAPCER(sc.Scores.Attack, 0.05))
			sc.AtAPCER1 = sc.Scores.At(ForAPCER(sc.Scores.Attack, 0.01))
			sc.EER = sc.Scores.EER()
			if rep.Groups > 1 {
				cv := crossValidate(ss, target)
				sc.CV = &cv
			}
			if cfg.Transfer != "" {
				var ts Scores
				ts.Attack = map[string][]float64{}
				for _, s := range tOK {
					v := 0.0
					for _, k := range c.idx {
						v += s.p[wi][k] / float64(len(c.idx))
					}
					if s.row.Live {
						ts.Live = append(ts.Live, v)
					} else {
						ts.Attack[s.row.Attack] = append(ts.Attack[s.row.Attack], v)
					}
				}
				o := ts.At(sc.AtTarget.Threshold)
				sc.Transfer = &o
			}
			rep.Scorers = append(rep.Scorers, sc)
		}
	}
	return rep, nil
}

// ErrNotScored: a class of the labels file (bona fide, or attacks when
// it has any) has no image that could be scored, so no threshold or rate
// of it is defined.
var ErrNotScored = errors.New("padeval: no image of a class could be scored")

// checkClasses refuses a labels file whose bona fide class, or attack
// class when it has attack rows, has no scored image, naming the first
// failure to acquire.
func checkClasses(labels string, rows []Row, ok []scored, fails []Failure) error {
	for _, live := range []bool{true, false} {
		n, scoredN := 0, 0
		for _, r := range rows {
			if r.Live == live {
				n++
			}
		}
		for _, s := range ok {
			if s.row.Live == live {
				scoredN++
			}
		}
		what := "bona fide (live)"
		if !live {
			what = "attack (spoof)"
		}
		switch {
		case scoredN > 0 || (!live && n == 0):
			continue
		case n == 0:
			return fmt.Errorf("%w: %s has no %s row", ErrNotScored, labels, what)
		}
		first := ""
		for _, f := range fails {
			if f.Live == live {
				first = fmt.Sprintf("; first: %s: %s", f.File, f.Error)
				break
			}
		}
		return fmt.Errorf("%w: none of the %d %s images of %s was acquired%s", ErrNotScored, n, what, labels, first)
	}
	return nil
}

// scored is one presentation's live probabilities, [widen][model].
type scored struct {
	row Row
	p   [][]float64
}

type scorer struct {
	e        *facerec.Engine
	d        *pad.Detector
	models   []pad.Model
	widen    []float64
	progress io.Writer
	spent    []time.Duration // per model: crop + inference
	runs     int             // frames × widenings timed
}

// scoreFile scores every image of a labels file.
func (sc *scorer) scoreFile(ctx context.Context, labels, root string) ([]Row, []scored, []Failure, error) {
	f, err := os.Open(labels)
	if err != nil {
		return nil, nil, nil, err
	}
	rows, err := ParseLabels(f)
	f.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", labels, err)
	}
	var ok []scored
	var fails []Failure
	for i, r := range rows {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		if sc.progress != nil && i%25 == 0 {
			fmt.Fprintf(sc.progress, "eval-pad: %s: %d/%d images\n", filepath.Base(labels), i, len(rows))
		}
		p := r.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		img, box, err := acquire(ctx, sc.e, p)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, nil, nil, err
			}
			fails = append(fails, Failure{r.File, r.Live, err.Error()})
			continue
		}
		s := scored{row: r}
		for _, w := range sc.widen {
			probs := make([]float64, len(sc.models))
			for k, m := range sc.models {
				t0 := time.Now()
				crop, err := pad.Crop(img, box, m, w)
				if err == nil {
					var sm []float64
					sm, err = sc.d.Probabilities(ctx, m, crop)
					if err == nil {
						probs[k] = sm[m.LiveClass()]
					}
				}
				sc.spent[k] += time.Since(t0)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("%s: %w", r.File, err)
				}
			}
			s.p = append(s.p, probs)
		}
		sc.runs += len(sc.widen)
		ok = append(ok, s)
	}
	return rows, ok, fails, nil
}

// acquire decodes the image at path within the limits and returns it with
// its single face's box.
func acquire(ctx context.Context, e *facerec.Engine, path string) (image.Image, image.Rectangle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, image.Rectangle{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImageBytes+1))
	if err != nil {
		return nil, image.Rectangle{}, err
	}
	if len(b) > maxImageBytes {
		return nil, image.Rectangle{}, fmt.Errorf("%w: more than %d bytes", facerec.ErrTooLarge, maxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || (format != "jpeg" && format != "png") {
		return nil, image.Rectangle{}, fmt.Errorf("%w: %v", facerec.ErrUnsupportedFormat, err)
	}
	if cfg.Width*cfg.Height > maxImagePixels {
		return nil, image.Rectangle{}, fmt.Errorf("%w: %d×%d pixels", facerec.ErrTooLarge, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, image.Rectangle{}, fmt.Errorf("%w: %v", facerec.ErrCorruptImage, err)
	}
	a, err := e.Analyze(ctx, facerec.Image(img))
	if err != nil {
		return nil, image.Rectangle{}, err
	}
	fc, err := a.Single()
	if err != nil {
		return nil, image.Rectangle{}, err
	}
	return img, fc.Box, nil
}

// Best returns the scorer chosen by this rule: the lowest cross-validated
// worst-type APCER (in-sample without cross-validation); then the lowest
// BPCER on the Transfer set at the unchanged threshold, when there is one
// (else the cross-validated, or in-sample, BPCER); then fewer networks;
// then less time per frame.
func (r *Report) Best() *Scorer {
	key := func(s *Scorer) (apcer, bpcer float64) {
		ap, bp := s.AtTarget.APCER, s.AtTarget.BPCER
		if s.CV != nil {
			ap, bp = s.CV.APCER, s.CV.BPCER
		}
		for _, a := range ap {
			apcer = math.Max(apcer, a.Value)
		}
		bpcer = bp.Value
		if s.Transfer != nil && s.Transfer.BPCER.Trials > 0 {
			bpcer = s.Transfer.BPCER.Value
		}
		return apcer, bpcer
	}
	var best *Scorer
	for i := range r.Scorers {
		s := &r.Scorers[i]
		if best == nil {
			best = s
			continue
		}
		sa, sb := key(s)
		ba, bb := key(best)
		switch {
		case sa != ba:
			if sa < ba {
				best = s
			}
		case sb != bb:
			if sb < bb {
				best = s
			}
		case len(s.Models) != len(best.Models):
			if len(s.Models) < len(best.Models) {
				best = s
			}
		case s.MsPerFrame < best.MsPerFrame:
			best = s
		}
	}
	return best
}

// Summary is the text the CLI prints.
func Summary(r *Report) string {
	var b strings.Builder
	var attacks []string
	for _, k := range sortedKeys(r.Attack) {
		attacks = append(attacks, fmt.Sprintf("%d %s", r.Attack[k], k))
	}
	if len(attacks) == 0 {
		attacks = []string{"none"}
	}
	fmt.Fprintf(&b, "eval-pad: %s: %d bona fide, attacks: %s; %d capture groups; failures to acquire %s\n",
		r.Labels, r.Live, strings.Join(attacks, ", "), r.Groups, r.FTA)
	fmt.Fprintf(&b, "threshold chosen for BPCER %g%%; rates with counts and 95%% Clopper-Pearson intervals\n", 100*r.TargetBPCER)
	for _, s := range r.Scorers {
		fmt.Fprintf(&b, "\n%s  (%.1f ms/frame, EER %.2f%%)\n", s.Name, s.MsPerFrame, 100*s.EER)
		fmt.Fprintf(&b, "  at threshold %.4f (BPCER target, in-sample): BPCER %s\n", s.AtTarget.Threshold, s.AtTarget.BPCER)
		for _, k := range sortedKeys(s.AtTarget.APCER) {
			fmt.Fprintf(&b, "      APCER %-8s %s\n", k, s.AtTarget.APCER[k])
		}
		fmt.Fprintf(&b, "  BPCER at APCER ≤ 5%%: %s (threshold %.4f)\n", s.AtAPCER5.BPCER, s.AtAPCER5.Threshold)
		fmt.Fprintf(&b, "  BPCER at APCER ≤ 1%%: %s (threshold %.4f)\n", s.AtAPCER1.BPCER, s.AtAPCER1.Threshold)
		if s.CV != nil {
			fmt.Fprintf(&b, "  cross-validated, leave one of %d sessions out (thresholds %.4f..%.4f): BPCER %s\n", s.CV.Groups, s.CV.ThresholdMin, s.CV.ThresholdMax, s.CV.BPCER)
			for _, k := range sortedKeys(s.CV.APCER) {
				fmt.Fprintf(&b, "      APCER %-8s %s\n", k, s.CV.APCER[k])
			}
		}
		if s.Transfer != nil {
			fmt.Fprintf(&b, "  threshold %.4f applied to %s: BPCER %s\n", s.AtTarget.Threshold, r.TransferLabels, s.Transfer.BPCER)
			for _, k := range sortedKeys(s.Transfer.APCER) {
				fmt.Fprintf(&b, "      APCER %-8s %s\n", k, s.Transfer.APCER[k])
			}
		}
		ls := slices.Sorted(slices.Values(s.Scores.Live))
		if len(ls) > 0 {
			fmt.Fprintf(&b, "  bona fide scores: 5th percentile %.3f, median %.3f\n", ls[len(ls)/20], ls[len(ls)/2])
		}
	}
	if best := r.Best(); best != nil {
		fmt.Fprintf(&b, "\nchosen (lowest cross-validated worst APCER, then lowest transfer or cross-validated BPCER, then fewer networks, then faster): %s, threshold %.4f\n", best.Name, best.AtTarget.Threshold)
	}
	var ms []string
	for _, k := range sortedKeys(r.MsPerModel) {
		ms = append(ms, fmt.Sprintf("%s %.1f", k, r.MsPerModel[k]))
	}
	fmt.Fprintf(&b, "ms per frame (crop + inference, one thread): %s\n", strings.Join(ms, ", "))
	return b.String()
}
