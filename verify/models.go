package verify

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/site"
)

// Model names a face comparison model. Both run on dlib's HOG detector
// and 68-point landmarks; they differ in the vector compared:
//
//   - [ModelArcFace] (the default): a margin-trained (ArcFace-class) 512-D
//     embedding of the face aligned to the standard 5-point 112×112
//     template (internal/embed, network fr_feature.onnx), compared by
//     cosine distance 1 − a·b; templates are stored as int8 with a
//     per-vector scale (516 bytes).
//   - [ModelDlib]: dlib's 128-D ResNet descriptor, compared by Euclidean
//     distance; templates in half precision (256 bytes). Its weights are
//     public domain; its false-match rate moves with population and
//     camera far more (docs/accuracy.md), so its calibrated thresholds
//     refuse more genuine users.
//
// A reference names the model ID it was made with; a verifier compares it
// only under that model, at that model's calibrated threshold.
type Model string

// Models.
const (
	ModelArcFace Model = "arcface"
	ModelDlib    Model = "dlib"
)

// ParseModel parses "arcface" or "dlib".
func ParseModel(s string) (Model, error) {
	switch m := Model(s); m {
	case ModelArcFace, ModelDlib:
		return m, nil
	}
	return "", fmt.Errorf("verify: unknown model %q (%s or %s)", s, ModelArcFace, ModelDlib)
}

// distance compares a template with a live vector under m's metric,
// accumulated in float64: Euclidean for dlib, cosine distance 1 − a·b for
// the embedding (the template read back from int8 is not exactly unit
// length; the calibration's int8 measurement used the same formula).
// Vectors of different or unexpected lengths are +Inf: never a match.
func distance(m Model, t, live []float32) float64 {
	if len(t) != len(live) {
		return math.Inf(1)
	}
	switch {
	case m == ModelDlib && len(t) == facerec.DescriptorSize:
		var s float64
		for i := range t {
			d := float64(t[i]) - float64(live[i])
			s += d * d
		}
		return math.Sqrt(s)
	case m == ModelArcFace && len(t) == embed.Size:
		return embed.CosineDistance((*embed.Embedding)(t), (*embed.Embedding)(live))
	}
	return math.Inf(1)
}

// template averages the enrolment vectors of one person under m: the
// arithmetic mean for dlib's descriptor, the unit-length mean direction
// (embed.Mean) for the embedding, as internal/calib calibrated them.
func template(m Model, vecs [][]float32) ([]float32, error) {
	if len(vecs) == 0 {
		return nil, fmt.Errorf("verify: no enrolment vectors")
	}
	if m == ModelArcFace {
		es := make([]embed.Embedding, len(vecs))
		defer func() {
			for i := range es {
				clear(es[i][:])
			}
		}()
		for i, v := range vecs {
			if len(v) != embed.Size {
				return nil, fmt.Errorf("verify: embedding of %d values", len(v))
			}
			copy(es[i][:], v)
		}
		mean, ok := embed.Mean(es)
		if !ok {
			return nil, fmt.Errorf("verify: the enrolment embeddings cancel out")
		}
		out := make([]float32, embed.Size)
		copy(out, mean[:])
		clear(mean[:])
		return out, nil
	}
	mean := make([]float32, len(vecs[0]))
	for k := range mean {
		var s float64
		for i := range vecs {
			s += float64(vecs[i][k])
		}
		mean[k] = float32(s / float64(len(vecs)))
	}
	return mean, nil
}

// vector returns the vector model m compares for face f, found in frame
// fr: a copy of dlib's descriptor, or the embedding of the face aligned
// on its landmarks. An encoded frame is decoded again here, exactly as
// the engine decoded it (same limits, EXIF orientation applied), so the
// landmarks refer to the same pixels. The caller owns (and wipes) the
// result.
func (e *Engine) vector(ctx context.Context, m Model, fr Frame, f *facerec.Face) ([]float32, error) {
	switch {
	case m == ModelDlib:
		return append([]float32(nil), f.Descriptor[:]...), nil
	case m == ModelArcFace && e.em != nil:
	default:
		return nil, fmt.Errorf("verify: the engine does not run model %s", m)
	}
	img := fr.Image
	if img == nil {
		dec, _, err := imageio.Decode(fr.Encoded, imageio.Limits{})
		if err != nil {
			return nil, fmt.Errorf("verify: frame decoded by the engine but not again: %w", err)
		}
		defer imageio.Wipe(dec)
		img = dec
	}
	emb, err := e.em.Embed(ctx, img, f.Landmarks)
	if err != nil {
		return nil, err
	}
	out := make([]float32, embed.Size)
	copy(out, emb[:])
	clear(emb[:])
	return out, nil
}

// enrolSpread is IssuerConfig.MaxSpread with its per-model default.
func enrolSpread(e *Engine, set float64) (float64, error) {
	switch {
	case set != 0:
		return set, nil
	case e.Model() == ModelDlib:
		return defaultMaxSpread, nil
	}
	p, err := calib.Lookup(e.ModelID().String(), 1, 1e-2)
	if err != nil {
		return 0, fmt.Errorf("verify: enrolment consistency bound: %w", err)
	}
	return p.Threshold, nil
}

// setModels fills the verifier's models and thresholds: every model of
// Policy.Models (default: the engine's own) must run on the engine, be
// accepted by the opener and be calibrated for the target FMR (never
// clamped to a neighbouring target); a site calibration then replaces
// its model's thresholds by its own, never looser ones.
func (v *Verifier) setModels(c VerifierConfig, p Policy) error {
	v.models = map[ModelID]Model{}
	v.thresholds = map[ModelID]map[int]float64{}
	if c.Engine == nil { // tests: a fake analysis yields dlib descriptors
		v.model = *c.model
		v.models[v.model] = ModelDlib
	} else {
		ms := p.Models
		if len(ms) == 0 {
			ms = []Model{c.Engine.Model()}
		}
		for i, m := range ms {
			id, ok := c.Engine.ModelIDFor(m)
			if !ok {
				return fmt.Errorf("%w: the engine does not run model %q (EngineOptions.Model)", ErrPolicy, m)
			}
			v.models[id] = m
			if i == 0 || id == c.Engine.ModelID() {
				v.model = id
			}
		}
	}
	tab := c.calib
	if tab == nil {
		var err error
		if tab, err = calib.Load(); err != nil {
			return err
		}
	}
	for id, m := range v.models {
		if !c.Opener.accepts(id) {
			return fmt.Errorf("%w: the opener does not accept model %s (%s): set OpenerConfig.ModelID or ModelIDs", ErrPolicy, m, id)
		}
		th := map[int]float64{}
		for photos := 1; photos <= maxEnrollPhotos; photos++ {
			e, err := tab.Lookup(id.String(), photos, p.TargetFMR)
			switch {
			case err == nil && e.TargetFMR != p.TargetFMR:
				// Never clamp: a target between calibrated points would
				// silently run at another false-match rate.
				return fmt.Errorf("%w: FMR %g is not a calibrated target for model %s %s (%s)", ErrPolicy, p.TargetFMR, m, id, calibratedTargets(tab, id.String(), photos))
			case err == nil:
				th[photos] = e.Threshold
			case errors.Is(err, calib.ErrUnsupported):
				return fmt.Errorf("%w: %v (%s)", ErrPolicy, err, calibratedTargets(tab, id.String(), photos))
			}
		}
		if _, ok := th[1]; !ok {
			return fmt.Errorf("%w: model %s %s is not calibrated", ErrPolicy, m, id)
		}
		v.thresholds[id] = th
	}
	if len(c.SiteCalibration) == 0 {
		if c.SiteKey != "" {
			// A key without a file is a configuration that lost its file
			// (an empty read, a missing mount): never run on the shipped
			// thresholds in its place.
			return fmt.Errorf("%w: SiteKey is set but SiteCalibration is empty", ErrPolicy)
		}
		return nil
	}
	o, err := site.Load(c.SiteCalibration, c.SiteKey)
	if err != nil {
		return fmt.Errorf("%w: site calibration: %w", ErrPolicy, err)
	}
	if c.Site != "" && o.Site != c.Site {
		return fmt.Errorf("%w: the site calibration is for site %q, this kiosk is at %q", ErrPolicy, o.Site, c.Site)
	}
	id, err := ParseModelID(o.ModelID)
	if err != nil {
		return fmt.Errorf("%w: site calibration: %w", ErrPolicy, err)
	}
	// A site calibration measured one model on the site's population; a
	// verifier that also compared under another would make claims the
	// site never checked.
	if _, ok := v.models[id]; !ok || len(v.models) != 1 {
		return fmt.Errorf("%w: the site calibration is for model %s; Policy.Models must be exactly that model", ErrPolicy, id)
	}
	if o.TargetFMR != p.TargetFMR {
		return fmt.Errorf("%w: the site calibration is for FMR %g, the policy's target is %g", ErrPolicy, o.TargetFMR, p.TargetFMR)
	}
	th := map[int]float64{}
	for photos, t := range o.Thresholds {
		shipped, ok := v.thresholds[id][photos]
		if !ok || t > shipped { // site.Load checked this against the same table; fail closed anyway
			return fmt.Errorf("%w: site threshold %v for %d photos is not within the shipped %v", ErrPolicy, t, photos, shipped)
		}
		th[photos] = t
	}
	// Enrolment counts the site did not measure are not used: their
	// references are refused as uncalibrated.
	v.thresholds[id] = th
	v.siteHash = o.Hash[:]
	return v.lv.applySite(o.PAD)
}

// operatingPoint is the model and threshold a reference is compared at,
// or the refusal when this verifier does not compare under its model
// (Policy.Models) or has no threshold for its enrolment count.
func (v *Verifier) operatingPoint(r *Reference) (Model, float64, *FrameReason) {
	m, ok := v.models[r.ModelID()]
	if !ok {
		return "", 0, &FrameReason{ReasonReferenceModel, false, -1}
	}
	t, ok := v.thresholds[r.ModelID()][r.EnrollQuality().Photos]
	if !ok {
		return "", 0, &FrameReason{ReasonReferenceUncalibrated, false, -1}
	}
	return m, t, nil
}

// liveVector is the vector the comparison under m uses for the chosen
// live face: its dlib descriptor itself, or (a fresh buffer the caller
// wipes) its embedding.
func (v *Verifier) liveVector(ctx context.Context, m Model, fr Frame, f *facerec.Face) ([]float32, bool, error) {
	if m == ModelDlib {
		return f.Descriptor[:], false, nil
	}
	if v.c.vector != nil {
		vec, err := v.c.vector(ctx, m, fr, f)
		return vec, true, err
	}
	if v.c.Engine == nil {
		return nil, false, fmt.Errorf("verify: no engine for model %s", m)
	}
	vec, err := v.c.Engine.vector(ctx, m, fr, f)
	return vec, true, err
}
