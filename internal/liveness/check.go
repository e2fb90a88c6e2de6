package liveness

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"time"
)

// Frame is what the checker needs of one captured frame: when it was
// captured and the subject's 68 landmarks in it (from
// [facerec.Face.Landmarks]). The frames of a sequence must come from one
// camera, un-mirrored.
type Frame struct {
	Time      time.Time
	Landmarks []image.Point
}

// Sequence is a kiosk's answer to a [Challenge].
type Sequence struct {
	// Nonce is the request nonce the frames were sent under.
	Nonce []byte
	// Frames in capture order, [Limits].MinFrames..MaxFrames of them.
	Frames []Frame
	// Compared is the index in Frames of the frame whose face is compared
	// with the reference. It must be one of the sequence's frames, so a
	// live performance cannot vouch for a photo compared beside it.
	Compared int
	// SameFace reports whether frames i and j show the same person, by the
	// verifier's own embedding distance and comparison threshold. It is
	// called for every frame against Frames[Compared]. Required.
	SameFace func(i, j int) (bool, error)
}

// Reason is a stable, machine-readable refusal code, fit for audit
// entries and retry logic. The empty Reason means the challenge was met.
type Reason string

// Refusal reasons. The strings are stable: stored in audit entries.
const (
	// ReasonReplayed: the answer was sent under another nonce than the
	// challenge's, or (from [Pending]) the nonce was already answered.
	ReasonReplayed Reason = "challenge_replayed"
	// ReasonStale: a frame was captured before the challenge was issued,
	// so it cannot answer it (a pre-recorded sequence).
	ReasonStale Reason = "frames_before_challenge"
	// ReasonExpired: a frame was captured after the challenge expired.
	ReasonExpired Reason = "challenge_expired"
	// ReasonTooFewFrames: fewer frames than [Limits].MinFrames.
	ReasonTooFewFrames Reason = "too_few_frames"
	// ReasonOutOfOrder: capture times not strictly increasing, missing,
	// or later than the check.
	ReasonOutOfOrder Reason = "frames_out_of_order"
	// ReasonTooFast: frames closer than [Limits].MinInterval, or the whole
	// sequence shorter than [Limits].MinStepDuration per step: faster than
	// a camera or a person.
	ReasonTooFast Reason = "frames_too_fast"
	// ReasonComparedFrame: the compared frame is not one of the sequence.
	ReasonComparedFrame Reason = "compared_frame_not_in_sequence"
	// ReasonMixedFaces: some frame does not show the same person as the
	// compared frame.
	ReasonMixedFaces Reason = "mixed_faces"
	// ReasonStatic: across the whole sequence the landmarks moved only as a
	// flat picture would (repeated frame, or a print or screen moved,
	// tilted or turned): no blink, no head turn.
	ReasonStatic Reason = "static_face"
	// ReasonNotPerformed: the face moved, but the challenge's actions were
	// not seen in the asked order.
	ReasonNotPerformed Reason = "challenge_not_performed"
)

// Limits are the checker's thresholds. The zero value of a field selects
// its default; the defaults and the measurements behind them are in
// docs/liveness.md.
type Limits struct {
	MinFrames int // default 3
	MaxFrames int // default 150 (inputs beyond it are an error)
	// MinInterval between consecutive capture times (default 15 ms, i.e.
	// at most ≈66 frames per second).
	MinInterval time.Duration
	// MinStepDuration: the sequence must last at least this long per
	// challenge step (default 300 ms; a blink takes 100–400 ms).
	MinStepDuration time.Duration
	// OpenRatio: eyes count as open when EAR ≥ OpenRatio × the sequence's
	// open-eye level, its 90th-percentile EAR (default 0.85).
	OpenRatio float64
	// MinOpenEAR: an open-eye level below it cannot show a blink (default
	// 0.15).
	MinOpenEAR float64
	// ClosedRatio: a frame shows the eyes closed when its EAR is at most
	// ClosedRatio × the EAR a flat picture of the preceding open frame
	// would show there (the open frame's landmarks mapped by the affine map
	// fitted on every point but the eyes). Default 0.5; moving, tilting and
	// bending the spoof-dev prints never went below 0.685.
	ClosedRatio float64
	// FrontalYaw: a turn starts from a frame with |Yaw| ≤ FrontalYaw
	// (default 0.12).
	FrontalYaw float64
	// TurnYaw: a turn is seen when Yaw reaches ±TurnYaw in the asked
	// direction (default 0.25, about 15°) ...
	TurnYaw float64
	// TurnBeyondFlat: ... and exceeds by at least TurnBeyondFlat the Yaw a
	// flat picture of the frontal frame would show there (the frontal
	// frame's landmarks mapped by the affine map fitted on every point but
	// the nose). Default 0.2; the spoof-dev prints never exceeded 0.12.
	TurnBeyondFlat float64
	// StaticResidual: when no frame differs from the first by more than an
	// affine map with this RMS residual (in eye distances), the sequence is
	// [ReasonStatic]. Default 0.005; the smallest residual between two
	// frames of a spoof-dev session, live or print, was 0.006, and a
	// repeated frame gives 0.
	StaticResidual float64
}

func (l Limits) withDefaults() Limits {
	d := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	if l.MinFrames == 0 {
		l.MinFrames = 3
	}
	if l.MaxFrames == 0 {
		l.MaxFrames = 150
	}
	if l.MinInterval == 0 {
		l.MinInterval = 15 * time.Millisecond
	}
	if l.MinStepDuration == 0 {
		l.MinStepDuration = 300 * time.Millisecond
	}
	d(&l.OpenRatio, 0.85)
	d(&l.MinOpenEAR, 0.15)
	d(&l.ClosedRatio, 0.5)
	d(&l.FrontalYaw, 0.12)
	d(&l.TurnYaw, 0.25)
	d(&l.TurnBeyondFlat, 0.2)
	d(&l.StaticResidual, 0.005)
	return l
}

// Errors of [Check]: no decision could be made. Callers refuse.
var (
	// ErrInput means the sequence is malformed: too many frames, a frame
	// without 68 landmarks, no SameFace function, or a challenge without
	// steps.
	ErrInput = errors.New("liveness: malformed sequence")
)

// Step is where one challenge action was seen.
type Step struct {
	Action Action
	// From and At index the frames: the open-eye (or frontal) frame before
	// the action, and the closed-eye (or most turned) frame.
	From, At int
	// Measure is the blink's closure (EAR at the closed frame over a flat
	// picture's) or the turn's Yaw beyond a flat picture's, in the asked
	// direction.
	Measure float64
}

// Result is the outcome of [Check].
type Result struct {
	// Reason is empty when the challenge was met.
	Reason Reason
	// Detail explains a refusal for logs (not for the person in front of
	// the camera).
	Detail string
	// Steps are the actions seen, in order (complete only when met).
	Steps []Step
	// EAR and Yaw are the measures per frame (for diagnostics).
	EAR, Yaw []float64
}

// Met reports whether the challenge was met.
func (r Result) Met() bool { return r.Reason == "" }

func refuse(r Reason, format string, a ...any) Result {
	return Result{Reason: r, Detail: fmt.Sprintf(format, a...)}
}

// Check decides whether seq answers ch, checked at now. It refuses, with
// the first failing reason in this order: nonce ([ReasonReplayed]), frame
// count, capture times (out of order, too fast, before the challenge,
// after its expiry, after now), the compared frame, the same person in
// every frame, any non-flat motion at all ([ReasonStatic]), then each
// action in order ([ReasonNotPerformed]).
//
// Check does not know whether the nonce was answered before: the caller
// spends it (its consent-nonce state, or [Pending.Take]) before calling,
// and refuses with [ReasonReplayed] when it was. An error means no decision
// was made ([ErrInput], or SameFace's error); the caller refuses.
func Check(ch Challenge, seq Sequence, now time.Time, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	fs := seq.Frames
	switch {
	case len(ch.Steps) == 0 || len(ch.Steps) > MaxSteps:
		return Result{}, fmt.Errorf("%w: challenge has %d steps", ErrInput, len(ch.Steps))
	case seq.SameFace == nil:
		return Result{}, fmt.Errorf("%w: no SameFace function", ErrInput)
	case len(fs) > lim.MaxFrames:
		return Result{}, fmt.Errorf("%w: %d frames, limit %d", ErrInput, len(fs), lim.MaxFrames)
	}
	for i, f := range fs {
		if len(f.Landmarks) != LandmarkCount {
			return Result{}, fmt.Errorf("%w: frame %d has %d landmarks, want %d", ErrInput, i, len(f.Landmarks), LandmarkCount)
		}
	}
	if !sameNonce(ch.Nonce, seq.Nonce) {
		return refuse(ReasonReplayed, "frames sent under another nonce than the challenge's"), nil
	}
	if len(fs) < lim.MinFrames {
		return refuse(ReasonTooFewFrames, "%d frames, need %d", len(fs), lim.MinFrames), nil
	}
	if r, bad := checkTimes(ch, fs, now, lim); bad {
		return r, nil
	}
	if seq.Compared < 0 || seq.Compared >= len(fs) {
		return refuse(ReasonComparedFrame, "compared frame %d, sequence has %d", seq.Compared, len(fs)), nil
	}
	for i := range fs {
		if i == seq.Compared {
			continue
		}
		same, err := seq.SameFace(seq.Compared, i)
		if err != nil {
			return Result{}, fmt.Errorf("liveness: comparing frame %d with frame %d: %w", i, seq.Compared, err)
		}
		if !same {
			return refuse(ReasonMixedFaces, "frame %d shows another person than compared frame %d", i, seq.Compared), nil
		}
	}

	ls := make([][]vec, len(fs))
	res := Result{EAR: make([]float64, len(fs)), Yaw: make([]float64, len(fs))}
	for i, f := range fs {
		ls[i] = vecs(f.Landmarks)
		res.EAR[i], res.Yaw[i] = ear(ls[i]), yaw(ls[i])
	}
	maxFlat := 0.0
	for i := 1; i < len(fs); i++ {
		if r := flatResidual(ls[0], ls[i]); r > maxFlat || math.IsNaN(r) {
			maxFlat = r
		}
	}
	if !(maxFlat >= lim.StaticResidual) { // NaN refuses too
		res.Reason, res.Detail = ReasonStatic, fmt.Sprintf("largest non-affine change %.4f eye distances, need %.4f", maxFlat, lim.StaticResidual)
		return res, nil
	}
	open := openLevel(res.EAR)
	cursor := 0
	for n, a := range ch.Steps {
		var st Step
		var ok bool
		switch a {
		case Blink:
			st, ok = findBlink(ls, res.EAR, open, cursor, lim)
		case TurnLeft, TurnRight:
			st, ok = findTurn(ls, res.Yaw, a, cursor, lim)
		default:
			return Result{}, fmt.Errorf("%w: unknown action %d", ErrInput, a)
		}
		if !ok {
			res.Reason = ReasonNotPerformed
			res.Detail = fmt.Sprintf("step %d (%s) not seen after frame %d (open-eye EAR %.3f, yaw range %.3f..%.3f)",
				n+1, a, cursor, open, slices.Min(res.Yaw[cursor:]), slices.Max(res.Yaw[cursor:]))
			return res, nil
		}
		res.Steps = append(res.Steps, st)
		cursor = st.At
	}
	return res, nil
}

func checkTimes(ch Challenge, fs []Frame, now time.Time, lim Limits) (Result, bool) {
	for i, f := range fs {
		switch {
		case f.Time.IsZero():
			return refuse(ReasonOutOfOrder, "frame %d has no capture time", i), true
		case i > 0 && !f.Time.After(fs[i-1].Time):
			return refuse(ReasonOutOfOrder, "frame %d captured at or before frame %d", i, i-1), true
		case i > 0 && f.Time.Sub(fs[i-1].Time) < lim.MinInterval:
			return refuse(ReasonTooFast, "frames %d and %d %v apart, minimum %v", i-1, i, f.Time.Sub(fs[i-1].Time), lim.MinInterval), true
		case f.Time.Before(ch.IssuedAt):
			return refuse(ReasonStale, "frame %d captured %v before the challenge was issued", i, ch.IssuedAt.Sub(f.Time)), true
		case !f.Time.Before(ch.Expires):
			return refuse(ReasonExpired, "frame %d captured after the challenge expired", i), true
		case f.Time.After(now):
			return refuse(ReasonOutOfOrder, "frame %d captured %v in the future", i, f.Time.Sub(now)), true
		}
	}
	if d, need := fs[len(fs)-1].Time.Sub(fs[0].Time), time.Duration(len(ch.Steps))*lim.MinStepDuration; d < need {
		return refuse(ReasonTooFast, "sequence lasts %v, need %v for %d steps", d, need, len(ch.Steps)), true
	}
	return Result{}, false
}

// openLevel is the sequence's open-eye EAR: its 90th percentile.
func openLevel(ear []float64) float64 {
	s := slices.Clone(ear)
	slices.Sort(s)
	return s[int(0.9*float64(len(s)-1))]
}

// findBlink finds, from frame c on, an open frame i, a later frame j
// whose eyes are closed relative to a flat picture of frame i (closure ≤
// ClosedRatio), and a later open frame k. The step has From = i, At = k.
func findBlink(ls [][]vec, ear []float64, open float64, c int, lim Limits) (Step, bool) {
	if !(open >= lim.MinOpenEAR) {
		return Step{}, false
	}
	isOpen := func(i int) bool { return ear[i] >= lim.OpenRatio*open }
	last := -1 // latest open frame seen
	for j := c; j < len(ls); j++ {
		if isOpen(j) {
			last = j
			continue
		}
		if last < 0 {
			continue
		}
		r := closure(ls[last], ls[j])
		if !(r <= lim.ClosedRatio) {
			continue
		}
		for k := j + 1; k < len(ls); k++ {
			if isOpen(k) {
				return Step{Action: Blink, From: last, At: k, Measure: r}, true
			}
		}
		return Step{}, false
	}
	return Step{}, false
}

// findTurn finds, from frame c on, a frontal frame f and a later frame k
// turned past TurnYaw in the asked direction, and past TurnBeyondFlat
// relative to a flat picture of frame f. The step has From = f, At = k.
func findTurn(ls [][]vec, yaw []float64, a Action, c int, lim Limits) (Step, bool) {
	dir := 1.0 // TurnLeft: the subject's left, +x in an un-mirrored frame
	if a == TurnRight {
		dir = -1
	}
	front := -1 // latest frontal frame seen
	for k := c; k < len(ls); k++ {
		if math.Abs(yaw[k]) <= lim.FrontalYaw {
			front = k
			continue
		}
		if front < 0 || !(dir*yaw[k] >= lim.TurnYaw) {
			continue
		}
		if t := dir * turnBeyondFlat(ls[front], ls[k]); t >= lim.TurnBeyondFlat {
			return Step{Action: a, From: front, At: k, Measure: t}, true
		}
	}
	return Step{}, false
}
