package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/site"
)

// Liveness modes beyond [LivenessNone]. What each check detects, the
// numbers behind it, and the attacks it does not stop (screen replay of a
// video, 3-D masks, injection into the camera feed) are in
// docs/liveness.md.
const (
	// LivenessPassive scores the compared frame with the shipped passive
	// presentation-attack detection network (pad.Shipped: MiniFASNetV1SE,
	// threshold chosen on spoof-dev for a BPCER of 5 %) and refuses it as
	// [ReasonPresentationAttack] below the threshold. Needs an [Engine]
	// opened with EngineOptions.PAD. Works on a single frame.
	LivenessPassive Liveness = "passive"
	// LivenessChallenge asks for a random challenge (blink, head turns) that
	// the kiosk gets from [Verifier.Challenge] for the consent nonce before
	// capturing, and checks the request's frames (at least 3, with capture
	// times) against it. Needs the engine's 68-point landmarks.
	LivenessChallenge Liveness = "challenge"
	// LivenessBoth is LivenessChallenge, then LivenessPassive on the
	// compared frame: the kiosk default where the camera gives frame
	// sequences.
	LivenessBoth Liveness = "both"
)

// Liveness refusal codes. Do NOT rename: they are recorded in audit logs.
// Every one is a refusal before the comparison that still counts as a
// failed attempt towards the lockout (Policy.MaxFailures), so the
// liveness checks cannot be probed without limit.
const (
	// ReasonPresentationAttack: the passive detector scored the compared
	// frame below the calibrated threshold. Reject, not retry.
	ReasonPresentationAttack Reason = "presentation_attack"
	// ReasonChallengeUnknown: no challenge is pending for the consent
	// nonce: none was issued, it expired, or the verifier restarted since
	// (pending challenges live in memory; see [Verifier.Challenge]).
	ReasonChallengeUnknown Reason = "challenge_unknown"
	// ReasonChallengeReplayed: the challenge for this nonce was answered
	// before. (A replayed request is usually refused earlier, as
	// [ReasonConsentReplayed], by the durable nonce state.)
	ReasonChallengeReplayed Reason = Reason(liveness.ReasonReplayed)
	// ReasonFramesBeforeChallenge: a frame was captured before the
	// challenge was issued (a pre-recorded sequence).
	ReasonFramesBeforeChallenge Reason = Reason(liveness.ReasonStale)
	// ReasonChallengeExpired: a frame was captured after the challenge
	// expired (15 s after issue).
	ReasonChallengeExpired Reason = Reason(liveness.ReasonExpired)
	// ReasonTooFewFrames: fewer than 3 frames answer the challenge.
	ReasonTooFewFrames Reason = Reason(liveness.ReasonTooFewFrames)
	// ReasonFramesOutOfOrder: capture times missing, not strictly
	// increasing, or in the future.
	ReasonFramesOutOfOrder Reason = Reason(liveness.ReasonOutOfOrder)
	// ReasonFramesTooFast: frames closer than 15 ms, or the whole answer
	// shorter than 300 ms per challenge step.
	ReasonFramesTooFast Reason = Reason(liveness.ReasonTooFast)
	// ReasonComparedFrame: the compared frame is not one of the sequence
	// (cannot happen through Verify, which compares a frame of the
	// sequence; kept for the audit vocabulary).
	ReasonComparedFrame Reason = Reason(liveness.ReasonComparedFrame)
	// ReasonMixedFaces: some frame shows another person than the compared
	// frame, by the verifier's comparison at its threshold.
	ReasonMixedFaces Reason = Reason(liveness.ReasonMixedFaces)
	// ReasonStaticFace: the landmarks moved only as a flat picture would
	// (a repeated frame, a print moved or tilted).
	ReasonStaticFace Reason = Reason(liveness.ReasonStatic)
	// ReasonChallengeNotPerformed: the face moved, but the asked actions
	// were not seen in order.
	ReasonChallengeNotPerformed Reason = Reason(liveness.ReasonNotPerformed)
)

// livenessRetry says which liveness refusals the person may simply try
// again (with a new consent and challenge); the others are attacks or
// broken capture and are rejected.
var livenessRetry = map[Reason]bool{
	ReasonPresentationAttack:    false,
	ReasonChallengeUnknown:      true,
	ReasonChallengeReplayed:     false,
	ReasonFramesBeforeChallenge: false,
	ReasonChallengeExpired:      true,
	ReasonTooFewFrames:          true,
	ReasonFramesOutOfOrder:      false,
	ReasonFramesTooFast:         false,
	ReasonComparedFrame:         false,
	ReasonMixedFaces:            false,
	ReasonStaticFace:            false,
	ReasonChallengeNotPerformed: true,
}

// isLivenessRefusal reports whether r is a liveness refusal: it counts as
// a failed attempt (the attempt is not released).
func isLivenessRefusal(r Reason) bool {
	_, ok := livenessRetry[r]
	return ok
}

// Action is one thing the person is asked to do in a [Challenge], by its
// stable name.
type Action string

// Challenge actions. Directions are the person's own, in an un-mirrored
// camera frame: a kiosk that mirrors its preview must send un-mirrored
// frames.
const (
	ActionBlink     Action = "blink"
	ActionTurnLeft  Action = "turn_left"
	ActionTurnRight Action = "turn_right"
)

// Challenge is what the kiosk shows the person before capturing the
// frames of a request: Steps in order, answerable from IssuedAt until
// Expires. It is bound to the consent nonce it was issued for.
type Challenge struct {
	Nonce             [16]byte
	Steps             []Action // 2 distinct actions, uniformly drawn
	IssuedAt, Expires time.Time
}

// String is the instruction in stable names, e.g. "blink, then turn_left".
func (c Challenge) String() string {
	s := make([]string, len(c.Steps))
	for i, a := range c.Steps {
		s[i] = string(a)
	}
	return strings.Join(s, ", then ")
}

// Challenge errors, for errors.Is.
var (
	// ErrNoChallenge: the policy's liveness mode asks no challenge.
	ErrNoChallenge = errors.New("verify: the liveness policy asks no challenge")
	// ErrChallengeIssued: a challenge was already issued (or answered) for
	// this nonce since the verifier started; take a new consent.
	ErrChallengeIssued = errors.New("verify: a challenge was already issued for this nonce")
	// ErrChallengesFull: too many challenges are pending (1024).
	ErrChallengesFull = errors.New("verify: too many pending challenges")
)

// Challenge issues the random challenge for the request whose consent
// carries consentNonce; the kiosk shows it, captures the frames (with
// their capture times, from the moment it was issued until it expires)
// and sends them in the [Request] with that consent.
//
// Single use: a challenge is handed to Verify once (the first Verify with
// that consent takes it, whatever its outcome) and a second Challenge for
// the same nonce gives [ErrChallengeIssued]. Pending challenges live in
// memory: after a restart a challenge issued before is unknown, and its
// answer is refused as [ReasonChallengeUnknown] (fail closed). Answers
// replayed after the first Verify, across restarts too, are refused by the
// durable consent-nonce state ([ReasonConsentReplayed]) before any frame
// is looked at, so nothing about a challenge needs to be on disk.
func (v *Verifier) Challenge(ctx context.Context, consentNonce [16]byte) (Challenge, error) {
	if err := ctx.Err(); err != nil {
		return Challenge{}, err
	}
	if v.lv.pending == nil {
		return Challenge{}, fmt.Errorf("%w (liveness %q)", ErrNoChallenge, v.p.Liveness)
	}
	c, err := v.lv.pending.Issue(consentNonce[:], v.c.Clock())
	switch {
	case errors.Is(err, liveness.ErrReplayed):
		return Challenge{}, ErrChallengeIssued
	case errors.Is(err, liveness.ErrFull):
		return Challenge{}, ErrChallengesFull
	case err != nil:
		return Challenge{}, fmt.Errorf("verify: %w", err)
	}
	out := Challenge{Nonce: consentNonce, IssuedAt: c.IssuedAt, Expires: c.Expires}
	for _, a := range c.Steps {
		out.Steps = append(out.Steps, Action(a.String()))
	}
	return out, nil
}

// livenessCheck is the verifier's liveness machinery for its policy.
type livenessCheck struct {
	pending *liveness.Pending // challenge modes
	pad     *pad.Detector     // passive modes
	padCal  pad.Calibration
	padSite bool // padCal's threshold comes from the site calibration
	limits  liveness.Limits
	// sameFace decides "the same person" between two frames of a
	// sequence; nil: the verifier's comparison at its single-photo
	// threshold ([Verifier.sameFace]). Swappable with the comparison.
	sameFace func(a, b *facerec.Face) bool
}

func (l *livenessCheck) challenge() bool { return l.pending != nil }
func (l *livenessCheck) passive() bool   { return l.pad != nil }

// newLivenessCheck checks the policy's liveness mode against what the
// engine loaded: an unknown mode, or a passive mode without the PAD
// network, is ErrPolicy.
func newLivenessCheck(c VerifierConfig, p Policy) (*livenessCheck, error) {
	l := &livenessCheck{padCal: pad.Shipped}
	switch p.Liveness {
	case LivenessNone:
		return l, nil
	case LivenessPassive, LivenessChallenge, LivenessBoth:
	default:
		return nil, fmt.Errorf("%w: liveness %q is not a mode (none, passive, challenge, both; set LivenessNone explicitly to accept photos of the holder)", ErrPolicy, p.Liveness)
	}
	if p.Liveness != LivenessPassive {
		l.pending = liveness.NewPending(rand.Reader, liveness.ChallengeOptions{}, 0)
	}
	if p.Liveness != LivenessChallenge {
		if c.Engine == nil || c.Engine.pad == nil {
			return nil, fmt.Errorf("%w: liveness %q needs the PAD network (OpenEngine with EngineOptions.PAD)", ErrPolicy, p.Liveness)
		}
		l.pad = c.Engine.pad
		if _, err := l.padCal.Accept(l.pad, pad.Score{}); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
		}
	}
	return l, nil
}

// applySite takes the PAD threshold of a site calibration when the
// policy runs the passive check: it must have been measured with the
// detector's networks and box widening, against the same shipped
// threshold, and not be below the shipped calibration's Floor
// (internal/site checked the rule on lowering it). Without the passive
// check it is not used.
func (l *livenessCheck) applySite(p *site.PAD) error {
	if p == nil || !l.passive() {
		return nil
	}
	names := make([]string, len(l.padCal.Models))
	for i, m := range l.padCal.Models {
		names[i] = m.String()
	}
	if p.Threshold < l.padCal.Floor {
		return fmt.Errorf("%w: the site calibration's PAD threshold %v is below %v, at which the shipped measurement's attacks would pass", ErrPolicy, p.Threshold, l.padCal.Floor)
	}
	if !slices.Equal(p.Models, names) || p.Widen != l.padCal.Widen || p.Shipped != l.padCal.Threshold {
		return fmt.Errorf("%w: the site calibration's PAD threshold was measured for %s, box ×%v, shipped threshold %v; this verifier runs %s, box ×%v, shipped threshold %v",
			ErrPolicy, strings.Join(p.Models, "+"), p.Widen, p.Shipped, strings.Join(names, "+"), l.padCal.Widen, l.padCal.Threshold)
	}
	c := pad.Calibration{Models: l.padCal.Models, Widen: l.padCal.Widen, Threshold: p.Threshold, TargetBPCER: p.TargetBPCER,
		Dataset: "site calibration", Live: p.BPCER.Trials, BPCERErrors: p.BPCER.Errors, Floor: l.padCal.Floor}
	for _, a := range p.Attacks {
		c.Attacks += a.APCER.Trials
		c.APCERErrors += a.APCER.Errors
	}
	if _, err := c.Accept(l.pad, pad.Score{}); err != nil {
		return fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	l.padCal, l.padSite = c, true
	return nil
}

// openPAD loads the shipped PAD configuration from modelDir/antispoof.
func (e *Engine) openPAD(modelDir string) error {
	d, err := pad.Open(filepath.Join(modelDir, "antispoof"), pad.Options{Models: pad.Shipped.Models, Widen: pad.Shipped.Widen})
	if err != nil {
		return fmt.Errorf("%w: PAD network: %w", ErrModelFiles, err)
	}
	e.pad = d
	return nil
}

// sameFaceTest is how a challenge sequence decides "the same person"
// between two frames: the comparison's model and its threshold for a
// one-photo reference at the policy's FMR.
type sameFaceTest struct {
	model     Model
	threshold float64
}

// qualityReason is the capture-quality gate of one face.
func (v *Verifier) qualityReason(f *facerec.Face) (Reason, bool) {
	q := f.Quality
	switch {
	case f.Box.Dx() < v.p.MinFacePixels:
		return ReasonFaceTooSmall, false
	case q.Sharpness < v.p.MinSharpness:
		return ReasonBlurry, false
	case q.Brightness < v.p.MinBrightness || q.Brightness > v.p.MaxBrightness:
		return ReasonExposure, false
	case !math.IsNaN(q.Yaw) && math.Abs(q.Yaw) > v.p.MaxYaw:
		return ReasonPose, false
	}
	return "", true
}

// liveFrame is step 5 of Verify: the quality gate and the policy's
// liveness checks; it returns the face to compare, or the reasons not to
// compare. Under LivenessNone it is bestFrame. Otherwise every frame is
// analysed (encoded frames are decoded here, once, so the PAD network
// sees the pixels the engine saw); the compared frame is the good frame
// with the largest face; a challenge is checked over the whole sequence
// (every frame must show one face), then the passive detector scores the
// compared frame. The PAD runs on that one frame only, so the refusal
// rate of live faces stays the calibrated per-frame BPCER, and the frame
// it vouches for is the frame compared.
func (v *Verifier) liveFrame(ctx context.Context, req Request, now time.Time, same sameFaceTest) (*facerec.Face, int, []FrameReason, error) {
	if !v.lv.challenge() && !v.lv.passive() {
		return v.bestFrame(ctx, req.Frames)
	}
	frames := req.Frames
	switch {
	case len(frames) == 0:
		return nil, -1, []FrameReason{{ReasonNoFrames, true, -1}}, nil
	case len(frames) > v.p.MaxFrames:
		return nil, -1, []FrameReason{{ReasonTooManyFrames, false, -1}}, nil
	}
	var ch liveness.Challenge
	if v.lv.challenge() {
		// Taken before the frames are looked at: any answer spends it.
		var err error
		ch, err = v.lv.pending.Take(req.Consent.Nonce[:], now)
		switch {
		case errors.Is(err, liveness.ErrReplayed):
			return nil, -1, []FrameReason{{ReasonChallengeReplayed, false, -1}}, nil
		case errors.Is(err, liveness.ErrUnknown):
			return nil, -1, []FrameReason{{ReasonChallengeUnknown, true, -1}}, nil
		case err != nil:
			return nil, -1, nil, err
		}
	}

	faces := make([]*facerec.Face, len(frames))
	imgs := make([]image.Image, len(frames))
	defer func() {
		for _, f := range faces {
			if f != nil {
				clear(f.Descriptor[:])
				if v.c.onWipe != nil {
					v.c.onWipe([][]float32{f.Descriptor[:]})
				}
			}
		}
	}()
	var reasons []FrameReason
	best := -1
	for i, fr := range frames {
		if err := ctx.Err(); err != nil {
			return nil, -1, nil, err
		}
		if (fr.Image == nil) == (fr.Encoded == nil) {
			reasons = append(reasons, FrameReason{ReasonUnreadable, false, i})
			continue
		}
		in := fr
		if fr.Image == nil {
			img, _, err := imageio.Decode(fr.Encoded, imageio.Limits{})
			if err != nil {
				reasons = append(reasons, FrameReason{ReasonUnreadable, false, i})
				continue
			}
			defer imageio.Wipe(img)
			in = Frame{Image: img, CapturedAt: fr.CapturedAt}
		}
		imgs[i] = in.Image
		f, why, err := v.oneFace(ctx, i, in)
		if err != nil {
			return nil, -1, nil, err
		}
		if why != nil {
			reasons = append(reasons, *why)
			continue
		}
		faces[i] = &f
		if r, ok := v.qualityReason(&f); !ok {
			reasons = append(reasons, FrameReason{r, true, i})
			continue
		}
		if best < 0 || f.Box.Dx() > faces[best].Box.Dx() {
			best = i
		}
	}
	if best < 0 {
		return nil, -1, reasons, nil
	}
	if v.lv.challenge() {
		for _, r := range reasons {
			if faces[r.Frame] == nil {
				// A frame of the sequence without one face: the
				// sequence cannot be checked.
				return nil, -1, reasons, nil
			}
		}
		if fr, err := v.checkChallenge(ctx, ch, req, faces, imgs, best, now, same); err != nil || fr != nil {
			return nil, -1, fr, err
		}
	}
	if v.lv.passive() {
		s, err := v.lv.pad.Score(ctx, imgs[best], faces[best].Box)
		if err != nil {
			return nil, -1, nil, fmt.Errorf("verify: presentation-attack detection: %w", err)
		}
		ok, err := v.lv.padCal.Accept(v.lv.pad, s)
		if err != nil {
			return nil, -1, nil, err
		}
		if !ok {
			v.log.Info("verify: presentation attack", "frame", best, "score", s.Live, "threshold", v.lv.padCal.Threshold)
			return nil, -1, []FrameReason{{ReasonPresentationAttack, false, best}}, nil
		}
	}
	out := *faces[best] // the caller wipes this copy; the deferred loop the original
	return &out, best, reasons, nil
}

// checkChallenge runs internal/liveness.Check over the sequence; it
// returns the refusal, or nil when the challenge was met.
func (v *Verifier) checkChallenge(ctx context.Context, ch liveness.Challenge, req Request, faces []*facerec.Face, imgs []image.Image, compared int, now time.Time, same sameFaceTest) ([]FrameReason, error) {
	// The same-person test uses the comparison's own model and its
	// one-photo threshold (dlib's descriptor cannot tell subjects apart on
	// kiosk frames: docs/liveness.md); embeddings are made once a frame
	// and wiped on return.
	vecs := make([][]float32, len(faces))
	defer func() {
		for _, vec := range vecs {
			clear(vec)
		}
	}()
	vector := func(i int) ([]float32, error) {
		if vecs[i] == nil {
			vec, fresh, err := v.liveVector(ctx, same.model, Frame{Image: imgs[i], CapturedAt: req.Frames[i].CapturedAt}, faces[i])
			if err != nil {
				return nil, err
			}
			if !fresh {
				vec = slices.Clone(vec)
			}
			vecs[i] = vec
		}
		return vecs[i], nil
	}
	seq := liveness.Sequence{Nonce: req.Consent.Nonce[:], Frames: make([]liveness.Frame, len(faces)), Compared: compared,
		SameFace: func(i, j int) (bool, error) {
			if v.lv.sameFace != nil {
				return v.lv.sameFace(faces[i], faces[j]), nil
			}
			a, err := vector(i)
			if err != nil {
				return false, err
			}
			b, err := vector(j)
			if err != nil {
				return false, err
			}
			return distance(same.model, a, b) < same.threshold, nil
		}}
	for i, f := range faces {
		seq.Frames[i] = liveness.Frame{Time: req.Frames[i].CapturedAt, Landmarks: f.Landmarks}
	}
	res, err := liveness.Check(ch, seq, now, v.lv.limits)
	if err != nil {
		return nil, fmt.Errorf("verify: challenge check: %w", err)
	}
	if res.Met() {
		return nil, nil
	}
	r := Reason(res.Reason)
	v.log.Info("verify: challenge refused", "reason", string(r), "detail", res.Detail)
	return []FrameReason{{r, livenessRetry[r], -1}}, nil
}
