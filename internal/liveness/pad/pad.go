package pad

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"

	"github.com/oneface/oneface/internal/onnx"
)

// Model names one presentation-attack detection network.
type Model uint8

// The networks. Files and pins are in ../shared/models/antispoof/README.md.
const (
	// MiniFASNetV2 is Silent-Face's 2.7_80x80_MiniFASNetV2 (Apache-2.0):
	// crop scale 2.7, 80×80, BGR 0..255, class 1 = live.
	MiniFASNetV2 Model = iota + 1
	// MiniFASNetV1SE is Silent-Face's 4_0_0_80x80_MiniFASNetV1SE
	// (Apache-2.0): crop scale 4.0, 80×80, BGR 0..255, class 1 = live.
	MiniFASNetV1SE
	// FRLiveness is fr_liveness.onnx of the npm package
	// faceplugin-face-recognition-js@0.0.1 (MIT declared, training data
	// not stated): crop scale 2.7, 128×128, 0..255, class 0 = live. Its
	// publisher's code implies RGB; fed BGR it separates spoof-dev far
	// better, so it is fed BGR (docs/liveness.md).
	FRLiveness
)

// spec is what running one network needs.
type spec struct {
	name, file, sha256 string
	scale              float64 // crop scale around the face box
	size               int     // input side, pixels
	live               int     // index of the live class in the softmax
	rgb                bool    // channel order of the input (false: BGR)
}

var specs = [...]spec{
	MiniFASNetV2:   {"MiniFASNetV2", "2.7_80x80_MiniFASNetV2.onnx", "5b8464081434b434373905430306195f703067b4b26028422bd7a9834286ae64", 2.7, 80, 1, false},
	MiniFASNetV1SE: {"MiniFASNetV1SE", "4_0_0_80x80_MiniFASNetV1SE.onnx", "81de910f63ce24763ed822cd8de7f37a3c53f68bb1a983ad18d8870e07eb75b5", 4.0, 80, 1, false},
	FRLiveness:     {"fr_liveness", "fr_liveness.onnx", "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d", 2.7, 128, 0, false},
}

func (m Model) valid() bool { return m >= MiniFASNetV2 && m <= FRLiveness }

// String is the model's stable name.
func (m Model) String() string {
	if m.valid() {
		return specs[m].name
	}
	return fmt.Sprintf("model(%d)", uint8(m))
}

// File is the model's file name in the model folder.
func (m Model) File() string { return specs[m].file }

// SHA256 is the pinned SHA-256 of [Model.File] (lowercase hex, from
// models.sha256), as [Open] checks it.
func (m Model) SHA256() string { return specs[m].sha256 }

// Errors.
var (
	// ErrBox means the face box is empty or does not overlap the frame.
	ErrBox = errors.New("pad: face box empty or outside the frame")
	// ErrOutput means a network returned an output of the wrong shape.
	ErrOutput = errors.New("pad: unexpected network output")
)

// Options configure [Open]. The zero value selects the defaults.
type Options struct {
	// Models to run and fuse (default [DefaultModels]).
	Models []Model
	// Widen scales the face box about its centre before the networks'
	// own crop scale is applied (default [DefaultWiden]).
	Widen float64
}

// Detector scores face crops with one or more networks. It is safe for
// concurrent use (each network serialises its own calls).
type Detector struct {
	models []Model
	nets   []*onnx.Net
	widen  float64
}

// Open loads the networks from dir, each checked against its pinned
// SHA-256 (errors match [onnx.ErrModel]; without cgo [onnx.ErrUnavailable]).
func Open(dir string, o Options) (*Detector, error) {
	ms := o.Models
	if len(ms) == 0 {
		ms = DefaultModels
	}
	d := &Detector{widen: o.Widen}
	if d.widen == 0 {
		d.widen = DefaultWiden
	}
	if !(d.widen >= 0.5 && d.widen <= 3) {
		return nil, fmt.Errorf("pad: box widening %v outside 0.5..3", o.Widen)
	}
	for _, m := range ms {
		if !m.valid() {
			d.Close()
			return nil, fmt.Errorf("pad: unknown model %d", m)
		}
		n, err := onnx.Load(filepath.Join(dir, specs[m].file), specs[m].sha256)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("pad: %s: %w", m, err)
		}
		d.models = append(d.models, m)
		d.nets = append(d.nets, n)
	}
	return d, nil
}

// Models returns the networks the detector runs, in the order of
// [Score].PerModel.
func (d *Detector) Models() []Model { return append([]Model(nil), d.models...) }

// Close releases the networks. It is idempotent.
func (d *Detector) Close() error {
	for _, n := range d.nets {
		n.Close()
	}
	return nil
}

// Score is the outcome of [Detector.Score].
type Score struct {
	// Live is the fused score: the mean over the networks of their
	// probability of the live class, 0..1. Higher is more live.
	Live float64
	// PerModel is each network's probability of the live class.
	PerModel []float64
}

// Score runs every network on the crop of img around box (the face
// engine's detector box, in img's coordinates) and returns the live
// probabilities. The decision is the caller's: compare Live with a
// threshold chosen for a stated BPCER ([Calibration]).
func (d *Detector) Score(ctx context.Context, img image.Image, box image.Rectangle) (Score, error) {
	src := toRGBA(img)
	s := Score{PerModel: make([]float64, len(d.models))}
	for i, m := range d.models {
		p, err := d.run(ctx, i, src, box.Sub(img.Bounds().Min))
		if err != nil {
			return Score{}, err
		}
		s.PerModel[i] = p[specs[m].live]
		s.Live += s.PerModel[i] / float64(len(d.models))
	}
	return s, nil
}

func (d *Detector) run(ctx context.Context, i int, src *image.RGBA, box image.Rectangle) ([]float64, error) {
	sp := specs[d.models[i]]
	bgr, err := Crop(src, box, d.models[i], d.widen)
	if err != nil {
		return nil, err
	}
	out, err := d.nets[i].Run(ctx, tensor(bgr, sp.size, sp.rgb), []int{1, 3, sp.size, sp.size})
	if err != nil {
		return nil, fmt.Errorf("pad: %s: %w", d.models[i], err)
	}
	if len(out) != 3 {
		return nil, fmt.Errorf("%w: %s gave %d values, want 3", ErrOutput, d.models[i], len(out))
	}
	return softmax(out), nil
}

// Crop returns the input crop of model m around box in img, widened by
// widen: size×size pixels as B, G, R bytes, row-major, pixel interleaved.
// It is what the network sees (before the channel order and layout of its
// tensor), and what the golden vectors hash.
func Crop(img image.Image, box image.Rectangle, m Model, widen float64) ([]byte, error) {
	if !m.valid() {
		return nil, fmt.Errorf("pad: unknown model %d", m)
	}
	src := toRGBA(img)
	box = widenBox(box.Sub(img.Bounds().Min), widen)
	if box.Dx() < 2 || box.Dy() < 2 || !box.Overlaps(src.Rect) || src.Rect.Dx() < 2 || src.Rect.Dy() < 2 {
		return nil, fmt.Errorf("%w: box %v, frame %v", ErrBox, box, src.Rect)
	}
	sp := specs[m]
	x0, y0, x1, y1 := cropBox(box, src.Rect.Dx(), src.Rect.Dy(), sp.scale)
	// The box may lie partly outside the frame; the region is clamped.
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, src.Rect.Dx()-1), min(y1, src.Rect.Dy()-1)
	if x1 <= x0 || y1 <= y0 {
		return nil, fmt.Errorf("%w: box %v, frame %v", ErrBox, box, src.Rect)
	}
	return cropResize(src, x0, y0, x1, y1, sp.size), nil
}

// softmax in float64.
func softmax(z []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	out := make([]float64, len(z))
	var sum float64
	for i, v := range z {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Probabilities runs model m alone on a crop made by [Crop] and returns its
// softmax over the 3 classes (for golden tests and evaluation).
func (d *Detector) Probabilities(ctx context.Context, m Model, crop []byte) ([]float64, error) {
	for i, dm := range d.models {
		if dm != m {
			continue
		}
		sp := specs[m]
		if len(crop) != sp.size*sp.size*3 {
			return nil, fmt.Errorf("pad: %s crop of %d bytes, want %d", m, len(crop), sp.size*sp.size*3)
		}
		out, err := d.nets[i].Run(ctx, tensor(crop, sp.size, sp.rgb), []int{1, 3, sp.size, sp.size})
		if err != nil {
			return nil, fmt.Errorf("pad: %s: %w", m, err)
		}
		if len(out) != 3 {
			return nil, fmt.Errorf("%w: %s gave %d values, want 3", ErrOutput, m, len(out))
		}
		return softmax(out), nil
	}
	return nil, fmt.Errorf("pad: %s not loaded", m)
}

// LiveClass is the index of the live class in m's softmax.
func (m Model) LiveClass() int { return specs[m].live }

// Calibration is a PAD threshold with the measurement it rests on: the
// networks and box widening it applies to, and the counts behind it.
type Calibration struct {
	Models      []Model
	Widen       float64
	Threshold   float64 // accept as bona fide when Score.Live ≥ Threshold
	TargetBPCER float64 // the stated BPCER it was chosen for
	Dataset     string
	// In-sample counts at the threshold, and the session-disjoint
	// cross-validated counts (leave one capture session out).
	Live, Attacks                int
	BPCERErrors, APCERErrors     int
	CVBPCERErrors, CVAPCERErrors int
	CVSessions                   int
	// TransferBPCERErrors of TransferLive: live photos from other cameras
	// (LFW dev) refused at the unchanged threshold.
	TransferBPCERErrors, TransferLive int
	// Floor is the lowest threshold a site calibration may set: just
	// above (by 1e-4) the highest attack score of Dataset, so the attacks
	// measured here stay refused as at Threshold.
	Floor float64
}

// Shipped is the threshold chosen on spoof-dev (NUAA webcam, printed-photo
// attacks) for a BPCER of 5 % by `oneface eval-pad -labels
// spoof-dev/labels.csv -widen 1,1.25,1.5 -transfer lfw-live.csv`
// (docs/liveness.md): every configuration let no print through under
// cross-validation (0/154), and MiniFASNetV1SE's threshold transferred to
// other cameras best (LFW dev lives refused: 58/768, against 102–322/768
// for the others). It holds for that camera and that attack only: a site
// must calibrate with its own camera.
var Shipped = Calibration{
	Models: []Model{MiniFASNetV1SE}, Widen: 1.5, Threshold: 0.3276, TargetBPCER: 0.05,
	Dataset: "spoof-dev (NUAA train split: 151 live, 154 print, 18 sessions)",
	Live:    151, Attacks: 154, BPCERErrors: 7, APCERErrors: 0,
	CVBPCERErrors: 10, CVAPCERErrors: 0, CVSessions: 18,
	TransferBPCERErrors: 58, TransferLive: 768,
	Floor: 0.0257,
}

// ErrCalibration means a calibration does not apply to the detector (other
// networks or another box widening).
var ErrCalibration = errors.New("pad: calibration made for other networks or crop")

// Accept reports whether s counts as bona fide under c, for a score made by
// d. It refuses (false, ErrCalibration) when c was made for other networks
// or another box widening than d's: a threshold is only meaningful for
// the scorer it was measured on.
func (c Calibration) Accept(d *Detector, s Score) (bool, error) {
	if d.widen != c.Widen || len(d.models) != len(c.Models) {
		return false, ErrCalibration
	}
	for i, m := range d.models {
		if c.Models[i] != m {
			return false, ErrCalibration
		}
	}
	return s.Live >= c.Threshold, nil
}

// DefaultModels and DefaultWiden are [Shipped]'s configuration.
var DefaultModels = []Model{MiniFASNetV1SE}

// DefaultWiden: see [DefaultModels].
const DefaultWiden = 1.5
