package liveness

import (
	"crypto/rand"
	"errors"
	"image"
	"testing"
	"time"

	"github.com/oneface/oneface/internal/facerec"
)

// sameFaceThreshold is the Euclidean distance between dlib descriptors
// below which the test's SameFace counts two frames as one person: dlib's
// customary 0.6, not a calibrated threshold (the verifier passes its own).
const sameFaceThreshold = 0.6

// seq builds a sequence answering ch from real faces: frame i has the
// landmarks lms[i] (a real frame's, or a real frame's with synthetic
// eyelid motion) and the descriptor of the real frame descs[i] came from,
// captured 200 ms apart starting 1 s after the challenge was issued.
type built struct {
	lm   []image.Point
	desc facerec.Descriptor
}

func live(f face) built                         { return built{f.lm, f.desc} }
func blinked(f face, closed float64) built      { return built{closeEyes(f.lm, closed), f.desc} }
func squashed(f face, sx, sy, sh float64) built { return built{squash(f.lm, sx, sy, sh), f.desc} }

func answer(ch Challenge, frames ...built) Sequence {
	s := Sequence{Nonce: ch.Nonce, Compared: 0}
	for i, b := range frames {
		s.Frames = append(s.Frames, Frame{Time: ch.IssuedAt.Add(time.Second + time.Duration(i)*200*time.Millisecond), Landmarks: b.lm})
	}
	s.SameFace = func(i, j int) (bool, error) {
		return facerec.Euclidean(&frames[i].desc, &frames[j].desc) < sameFaceThreshold, nil
	}
	return s
}

func challenge(t testing.TB, steps ...Action) Challenge {
	t.Helper()
	c, err := NewChallenge(rand.Reader, []byte("request nonce"), t0, ChallengeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Steps = steps
	return c
}

// check runs Check at a time after the whole sequence.
func check(t testing.TB, ch Challenge, s Sequence) Result {
	t.Helper()
	r, err := Check(ch, s, ch.IssuedAt.Add(10*time.Second), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func expect(t *testing.T, name string, r Result, want Reason) {
	t.Helper()
	if r.Reason != want {
		t.Errorf("%s: reason %q (%s), want %q", name, r.Reason, r.Detail, want)
	} else {
		t.Logf("%s: %q %s %v", name, r.Reason, r.Detail, r.Steps)
	}
}

// liveSession returns four real frames of one spoof-dev live session
// (subject 0001, session 01: eyes open throughout).
func liveSession(t testing.TB) []face {
	t.Helper()
	var out []face
	for _, r := range sessions(t, "live")["0001/01"][:4] {
		out = append(out, spoofFace(t, r.File))
	}
	return out
}

func TestCheckBlink(t *testing.T) {
	s := liveSession(t)
	ch := challenge(t, Blink)
	expect(t, "blink performed", check(t, ch, answer(ch, live(s[0]), live(s[1]), blinked(s[1], 0.6), blinked(s[1], 0.9), blinked(s[2], 0.5), live(s[2]), live(s[3]))), "")
	expect(t, "no blink: four real open-eyed frames", check(t, ch, answer(ch, live(s[0]), live(s[1]), live(s[2]), live(s[3]))), ReasonNotPerformed)
	expect(t, "half blink (lids 30% closed)", check(t, ch, answer(ch, live(s[0]), blinked(s[1], 0.3), live(s[2]))), ReasonNotPerformed)
	expect(t, "eyes closed, never reopened", check(t, ch, answer(ch, live(s[0]), live(s[1]), blinked(s[1], 0.9), blinked(s[2], 0.9))), ReasonNotPerformed)
	expect(t, "static photo repeated", check(t, ch, answer(ch, live(s[0]), live(s[0]), live(s[0]), live(s[0]), live(s[0]))), ReasonStatic)

	// A print tilted back and forth: every landmark's vertical distances
	// shrink together. The eye aspect ratio alone falls to half, which an
	// EAR-threshold blink detector takes for a blink; the closure
	// against a flat picture does not move.
	tilt := []built{live(s[0]), squashed(s[0], 1, 0.8, 0), squashed(s[0], 1, 0.45, 0), squashed(s[0], 1, 0.8, 0), live(s[0])}
	if e0, e := EAR(tilt[0].lm), EAR(tilt[2].lm); e > 0.5*e0 {
		t.Fatalf("tilted print: EAR %.3f → %.3f, the attack needs it to halve", e0, e)
	}
	r := check(t, ch, answer(ch, tilt...))
	if r.Met() {
		t.Errorf("a tilted print passed a blink challenge: %+v", r)
	}
	t.Logf("tilted print: %q %s", r.Reason, r.Detail)
}

func TestCheckTurn(t *testing.T) {
	for _, c := range lfwTurns[:2] {
		f, tr := lfwFace(t, c.frontal), lfwFace(t, c.turned)
		other := TurnLeft
		if c.dir == TurnLeft {
			other = TurnRight
		}
		ch := challenge(t, c.dir)
		expect(t, c.turned+" turn performed", check(t, ch, answer(ch, live(f), live(f), live(tr))), "")
		ch = challenge(t, other)
		expect(t, c.turned+" turned the other way", check(t, ch, answer(ch, live(f), live(f), live(tr))), ReasonNotPerformed)
		// A frontal print turned about its vertical axis and sheared: the
		// face narrows but the nose stays where a flat picture keeps it.
		for _, a := range []Action{TurnLeft, TurnRight} {
			ch = challenge(t, a)
			r := check(t, ch, answer(ch, live(f), squashed(f, 0.8, 1, 0.2), squashed(f, 0.6, 1, 0.45), squashed(f, 0.6, 1, -0.45)))
			if r.Met() {
				t.Errorf("%s: a turned print passed %s: %+v", c.frontal, a, r)
			}
		}
		// Turned the other way (the mirrored photo), then the asked way,
		// with no frontal frame between: a turn must start frontal.
		mir := analyse(t, "mirror/"+c.turned, mirror(lfwImage(t, c.turned)))
		ch = challenge(t, c.dir)
		expect(t, c.turned+" no frontal start", check(t, ch, answer(ch, live(mir), live(mir), live(tr))), ReasonNotPerformed)
	}
}

func TestCheckTwoSteps(t *testing.T) {
	c := lfwTurns[0]
	f, tr := lfwFace(t, c.frontal), lfwFace(t, c.turned)
	frames := []built{live(f), blinked(f, 0.9), live(f), live(tr)}
	ch := challenge(t, Blink, c.dir)
	expect(t, "blink then turn", check(t, ch, answer(ch, frames...)), "")
	ch = challenge(t, c.dir, Blink)
	expect(t, "turn then blink, performed the other way round", check(t, ch, answer(ch, frames...)), ReasonNotPerformed)
}

// TestCheckMixedFaces mixes two LFW people. (Two spoof-dev subjects would
// not do with dlib's descriptor: on spoof-dev the largest distance within
// one session, 0.409, exceeds the smallest between subjects, 0.373, so the
// verifier's SameFace must use its own, calibrated embedding.)
func TestCheckMixedFaces(t *testing.T) {
	a := lfwFace(t, lfwTurns[0].frontal)
	b := lfwFace(t, lfwTurns[1].frontal)
	if d := facerec.Euclidean(&a.desc, &b.desc); d < sameFaceThreshold {
		t.Fatalf("%s and %s at distance %.3f: not a mixed pair", a.name, b.name, d)
	}
	ch := challenge(t, Blink)
	seq := answer(ch, live(a), blinked(a, 0.9), live(a), live(b))
	expect(t, "another person in the last frame", check(t, ch, seq), ReasonMixedFaces)
	seq = answer(ch, live(a), blinked(a, 0.9), live(a), live(a))
	expect(t, "one person", check(t, ch, seq), "")
	seq = answer(ch, live(b), live(a), blinked(a, 0.9), live(a), live(a))
	seq.Compared = 0
	expect(t, "another person compared", check(t, ch, seq), ReasonMixedFaces)
}

func TestCheckRefusals(t *testing.T) {
	s := liveSession(t)
	ch := challenge(t, Blink)
	good := func() Sequence {
		return answer(ch, live(s[0]), live(s[1]), blinked(s[1], 0.9), live(s[2]), live(s[3]))
	}
	expect(t, "the good sequence", check(t, ch, good()), "")

	q := good()
	q.Nonce = []byte("another request")
	expect(t, "answered under another nonce", check(t, ch, q), ReasonReplayed)

	q = good()
	q.Frames[2].Time, q.Frames[3].Time = q.Frames[3].Time, q.Frames[2].Time
	expect(t, "two frames swapped", check(t, ch, q), ReasonOutOfOrder)

	q = good()
	q.Frames[3].Time = q.Frames[2].Time
	expect(t, "two frames at one instant", check(t, ch, q), ReasonOutOfOrder)

	q = good()
	q.Frames[1].Time = time.Time{}
	expect(t, "a frame without capture time", check(t, ch, q), ReasonOutOfOrder)

	q = good()
	for i := range q.Frames {
		q.Frames[i].Time = ch.IssuedAt.Add(time.Second + time.Duration(i)*5*time.Millisecond)
	}
	expect(t, "200 frames per second", check(t, ch, q), ReasonTooFast)

	q = good()
	for i := range q.Frames {
		q.Frames[i].Time = ch.IssuedAt.Add(time.Second + time.Duration(i)*20*time.Millisecond)
	}
	expect(t, "a blink in 80 ms in all", check(t, ch, q), ReasonTooFast)

	q = good()
	q.Frames[0].Time = ch.IssuedAt.Add(-time.Millisecond)
	expect(t, "first frame before the challenge", check(t, ch, q), ReasonStale)

	q = good()
	q.Frames[4].Time = ch.Expires
	expect(t, "last frame at expiry", check(t, ch, q), ReasonExpired)

	q = good()
	r, err := Check(ch, q, q.Frames[3].Time, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "last frame after the check", r, ReasonOutOfOrder)

	for _, idx := range []int{-1, 5} {
		q = good()
		q.Compared = idx
		expect(t, "compared frame outside the sequence", check(t, ch, q), ReasonComparedFrame)
	}

	q = good()
	q.Frames = q.Frames[:2]
	expect(t, "two frames", check(t, ch, q), ReasonTooFewFrames)

	// Errors: no decision.
	q = good()
	q.Frames[1].Landmarks = q.Frames[1].Landmarks[:5]
	if _, err := Check(ch, q, t0.Add(time.Minute), Limits{}); !errors.Is(err, ErrInput) {
		t.Errorf("5 landmarks: %v, want ErrInput", err)
	}
	q = good()
	q.SameFace = nil
	if _, err := Check(ch, q, t0.Add(time.Minute), Limits{}); !errors.Is(err, ErrInput) {
		t.Errorf("no SameFace: %v, want ErrInput", err)
	}
	q = good()
	boom := errors.New("embedding failed")
	q.SameFace = func(i, j int) (bool, error) { return false, boom }
	if _, err := Check(ch, q, t0.Add(time.Minute), Limits{}); !errors.Is(err, boom) {
		t.Errorf("SameFace error: %v, want it wrapped", err)
	}
	q = good()
	for len(q.Frames) <= 150 {
		q.Frames = append(q.Frames, q.Frames[0])
	}
	if _, err := Check(ch, q, t0.Add(time.Minute), Limits{}); !errors.Is(err, ErrInput) {
		t.Errorf("151 frames: %v, want ErrInput", err)
	}
	if _, err := Check(Challenge{Nonce: ch.Nonce}, good(), t0.Add(time.Minute), Limits{}); !errors.Is(err, ErrInput) {
		t.Errorf("challenge without steps: %v, want ErrInput", err)
	}
}

// TestCheckPrintSessions presents every printed-photo session of spoof-dev
// (NUAA prints moved, tilted and bent by hand in front of a webcam, 8–9
// frames each) to every one-step challenge: none may pass. The live
// sessions, whose subjects were asked to look at the camera and not asked
// to blink or turn, are run too and reported.
func TestCheckPrintSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("analyses every spoof-dev session")
	}
	for _, label := range []string{"spoof", "live"} {
		met := 0
		n := 0
		for key, rows := range sessions(t, label) {
			var frames []built
			for _, r := range rows {
				frames = append(frames, live(spoofFace(t, r.File)))
			}
			for _, a := range []Action{Blink, TurnLeft, TurnRight} {
				ch := challenge(t, a)
				r := check(t, ch, answer(ch, frames...))
				n++
				if r.Met() {
					met++
					if label == "spoof" {
						t.Errorf("print session %s passed %s: %+v", key, a, r.Steps)
					}
				}
			}
		}
		t.Logf("%s sessions: %d of %d session×challenge presentations met the challenge", label, met, n)
	}
}
