//go:build cgo

package verify

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/liveness"
	"github.com/oneface/oneface/internal/testenv"
)

// Liveness inside Verify, with the real engine and the real PAD network on
// spoof-dev (NUAA: ClientRaw live webcam frames, ImposterRaw printed
// photos of the same people) and LFW dev photos.

var sharedPADEngine = sync.OnceValues(func() (*Engine, error) {
	return OpenEngine(testenv.ModelDir(), EngineOptions{PoolSize: 1, PAD: true})
})

func padEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := sharedPADEngine()
	if err != nil {
		testenv.Missing(t, "dlib engine with the PAD network (make setup copies .models/antispoof)", err)
	}
	return e
}

// spoofFrames returns the spoof-dev files of a subject, session and label
// (live or spoof), in labels.csv order.
func spoofFrames(t testing.TB, subject, session, label string) []string {
	t.Helper()
	out := spoofFramesMaybe(t, subject, session, label)
	if len(out) == 0 {
		t.Fatalf("no %s frames of subject %s session %s", label, subject, session)
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		testenv.Missing(t, "dev faces", err)
	}
	return b
}

// kioskEngine is the engine newKiosk uses: with the PAD network for the
// passive modes.
func kioskEngine(t testing.TB, p Policy) *Engine {
	if p.Liveness == LivenessPassive || p.Liveness == LivenessBoth {
		return padEngine(t)
	}
	return realEngine(t)
}

// livenessKiosk is a kiosk whose engine has the PAD network, under mode.
func livenessKiosk(t *testing.T, mode Liveness) *kiosk {
	t.Helper()
	return newKiosk(t, nil, Policy{Liveness: mode, ExposeDistance: true})
}

// enrollFile enrols one photo file for door-main.
func (k *kiosk) enrollFile(t testing.TB, path string) *Enrollment {
	t.Helper()
	enr, err := k.issuer.Enroll(context.Background(), EnrollRequest{SubjectID: "s-" + filepath.Base(path), Photos: [][]byte{readFile(t, path)},
		Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	return enr
}

func lastEntry(t *testing.T, k *kiosk) audit.Entry {
	t.Helper()
	es, err := audit.ReadEntries(k.logDir)
	if err != nil || len(es) == 0 {
		t.Fatalf("audit log: %d entries, %v", len(es), err)
	}
	return es[len(es)-1].Entry
}

// TestPassivePADInVerify: subject 0001 of spoof-dev enrolled from a live
// frame of session 01. A live frame of session 02 matches under
// LivenessPassive; every printed photo of 0001 (ImposterRaw, both
// sessions) that passes the quality gate is refused presentation_attack —
// a refusal that is audited, not retryable, and a failed attempt. Under
// LivenessNone the same prints are compared, and match: the attack this
// stops.
func TestPassivePADInVerify(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	enr := k.enrollFile(t, spoofFrames(t, "0001", "01", "live")[0])

	live := readFile(t, spoofFrames(t, "0001", "02", "live")[0])
	dec, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, live))
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Match || dec.Liveness != LivenessPassive {
		t.Fatalf("live capture: match %v, liveness %q, reasons %v", dec.Match, dec.Liveness, dec.Reasons)
	}
	if e := lastEntry(t, k); e.Liveness != "passive" || e.Decision != audit.DecisionMatch {
		t.Fatalf("audit entry: %+v", e)
	}

	none := newKiosk(t, nil, Policy{Liveness: LivenessNone})
	noneEnr := none.enrollFile(t, spoofFrames(t, "0001", "01", "live")[0])
	prints := append(spoofFrames(t, "0001", "01", "spoof"), spoofFrames(t, "0001", "02", "spoof")...)
	var attacks, matchedWithout int
	for _, p := range prints {
		b := readFile(t, p)
		d0, err := none.verifier.Verify(context.Background(), none.request(noneEnr.Reference, b))
		if err != nil {
			t.Fatal(err)
		}
		if d0.Refused {
			continue // the quality gate, not liveness
		}
		attacks++
		if d0.Match {
			matchedWithout++
		}
		dec, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, b))
		if err != nil {
			t.Fatal(err)
		}
		if !dec.Refused || dec.Match || dec.Reasons[0] != (FrameReason{ReasonPresentationAttack, false, 0}) {
			t.Errorf("%s: refused %v, match %v, reasons %v; want presentation_attack", filepath.Base(p), dec.Refused, dec.Match, dec.Reasons)
			continue
		}
		if e := lastEntry(t, k); e.Reason != string(ReasonPresentationAttack) || e.Decision != audit.DecisionRefused || e.Liveness != "passive" {
			t.Errorf("audit entry %+v", e)
		}
		k.advance(15 * time.Minute) // past the lockout window: each print counts as a failure
	}
	t.Logf("%d prints of subject 0001 passed the quality gate; without liveness %d of them matched; with LivenessPassive all were refused presentation_attack", attacks, matchedWithout)
	if attacks < 5 || matchedWithout == 0 {
		t.Fatalf("only %d prints compared, %d matched without liveness: the test shows nothing", attacks, matchedWithout)
	}
}

// TestPresentationAttackCountsAsFailure: a presentation-attack refusal is
// a failed attempt, so MaxFailures prints lock the reference out and the
// holder's own live face is then refused locked_out: the detector cannot
// be probed without limit.
func TestPresentationAttackCountsAsFailure(t *testing.T) {
	k := newKiosk(t, nil, Policy{Liveness: LivenessPassive, MaxFailures: 2})
	enr := k.enrollFile(t, spoofFrames(t, "0001", "01", "live")[0])
	attacks := 0
	for _, p := range spoofFrames(t, "0001", "02", "spoof") {
		dec, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, readFile(t, p)))
		if err != nil {
			t.Fatal(err)
		}
		if dec.Reasons[0].Code == ReasonPresentationAttack {
			if attacks++; attacks == 2 {
				break
			}
		} else if !dec.Reasons[0].Retry { // quality-gate refusals are released and say retry
			t.Fatalf("print: %v", dec.Reasons)
		}
	}
	if attacks != 2 {
		t.Fatalf("%d presentation attacks refused", attacks)
	}
	live := readFile(t, spoofFrames(t, "0001", "02", "live")[0])
	dec, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, live))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Reasons[0].Code != ReasonLockedOut {
		t.Fatalf("after 2 presentation attacks: %v, want locked_out", dec.Reasons)
	}
}

// TestLivenessPolicy: New refuses unknown modes, and passive modes on an
// engine without the PAD network; the configuration entry records the
// mode.
func TestLivenessPolicy(t *testing.T) {
	for _, mode := range []Liveness{"blink", "NONE", "passive "} {
		k := newKiosk(t, nil, Policy{Liveness: LivenessNone})
		c := k.verifier.c
		c.Policy.Liveness = mode
		if _, err := New(c); !errors.Is(err, ErrPolicy) {
			t.Errorf("liveness %q: %v, want ErrPolicy", mode, err)
		}
	}
	k := newKiosk(t, nil, Policy{Liveness: LivenessNone}) // engine without PAD
	for _, mode := range []Liveness{LivenessPassive, LivenessBoth} {
		c := k.verifier.c
		c.Policy.Liveness = mode
		if _, err := New(c); !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "PAD") {
			t.Errorf("liveness %q without the PAD network: %v, want ErrPolicy", mode, err)
		}
	}
	c := k.verifier.c
	c.Policy.Liveness = LivenessChallenge // needs no network beyond the engine's
	if _, err := New(c); err != nil {
		t.Errorf("challenge: %v", err)
	}
	if _, err := k.verifier.Challenge(context.Background(), [16]byte{1}); !errors.Is(err, ErrNoChallenge) {
		t.Errorf("Challenge under LivenessNone: %v, want ErrNoChallenge", err)
	}
	pk := livenessKiosk(t, LivenessBoth)
	es, err := audit.ReadEntries(pk.logDir)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range es {
		if e.Entry.Kind == audit.KindConfig && e.Entry.Liveness == "both" {
			found = true
		}
	}
	if !found {
		t.Errorf("no configuration entry records liveness both: %+v", es)
	}
}

// seq is a frame sequence of files, the first captured at start and the
// next every step apart.
func seq(t testing.TB, start time.Time, step time.Duration, files ...string) []Frame {
	t.Helper()
	fs := make([]Frame, len(files))
	for i, f := range files {
		var b []byte
		if strings.HasPrefix(f, "lfw") {
			b = testenv.ReadLFW(t, f)
		} else {
			b = readFile(t, f)
		}
		fs[i] = Frame{Encoded: b, CapturedAt: start.Add(time.Duration(i) * step)}
	}
	return fs
}

// challengeKiosk is a LivenessChallenge kiosk with subject 0001 of
// spoof-dev enrolled from a live frame of session 01.
func challengeKiosk(t *testing.T, mode Liveness) (*kiosk, []byte) {
	t.Helper()
	k := newKiosk(t, nil, Policy{Liveness: mode, ExposeDistance: true})
	return k, k.enrollFile(t, spoofFrames(t, "0001", "01", "live")[0]).Reference
}

// answer asks a challenge for a fresh consent, lets the frames be
// captured (the clock moves past the last one) and verifies them.
func (k *kiosk) answer(t *testing.T, ref []byte, frames func(issued time.Time) []Frame) (*Decision, Request) {
	t.Helper()
	k.advance(16 * time.Minute) // past the lockout window: each refusal here is a failed attempt
	c := k.consent()
	ch, err := k.verifier.Challenge(context.Background(), c.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	fs := frames(ch.IssuedAt)
	k.advance(3 * time.Second)
	req := Request{Reference: ref, Frames: fs, Consent: c, Purpose: "door-main"}
	dec, err := k.verifier.Verify(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return dec, req
}

func wantRefused(t *testing.T, k *kiosk, dec *Decision, want Reason) {
	t.Helper()
	if !dec.Refused || dec.Match || dec.Reasons[0].Code != want {
		t.Fatalf("refused %v, match %v, reasons %v; want %s", dec.Refused, dec.Match, dec.Reasons, want)
	}
	if e := lastEntry(t, k); e.Reason != string(want) || e.Liveness != string(k.verifier.p.Liveness) {
		t.Fatalf("audit entry %+v, want reason %s", e, want)
	}
}

// The challenge refusals through Verify, each with its own code, on real
// frames through the real engine.
func TestChallengeRefusals(t *testing.T) {
	k, ref := challengeKiosk(t, LivenessChallenge)
	live := spoofFrames(t, "0001", "02", "live")
	other := spoofFrames(t, "0002", "01", "live")
	ms := time.Millisecond

	t.Run("static photo repeated", func(t *testing.T) {
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*ms), 400*ms, live[0], live[0], live[0], live[0])
		})
		wantRefused(t, k, dec, ReasonStaticFace)
	})
	t.Run("mixed faces", func(t *testing.T) {
		// Another person performs; the holder's picture is the frame
		// compared (the largest face).
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*ms), 300*ms, other[0], other[1], live[0], other[2])
		})
		wantRefused(t, k, dec, ReasonMixedFaces)
	})
	t.Run("out of order", func(t *testing.T) {
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			fs := seq(t, at.Add(100*ms), 300*ms, live[0], live[1], live[2], live[3])
			fs[1].CapturedAt, fs[2].CapturedAt = fs[2].CapturedAt, fs[1].CapturedAt
			return fs
		})
		wantRefused(t, k, dec, ReasonFramesOutOfOrder)
	})
	t.Run("no capture time", func(t *testing.T) {
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			fs := seq(t, at.Add(100*ms), 300*ms, live[0], live[1], live[2])
			fs[2].CapturedAt = time.Time{}
			return fs
		})
		wantRefused(t, k, dec, ReasonFramesOutOfOrder)
	})
	t.Run("too fast", func(t *testing.T) {
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*ms), 5*ms, live[0], live[1], live[2], live[3])
		})
		wantRefused(t, k, dec, ReasonFramesTooFast)
	})
	t.Run("captured before the challenge", func(t *testing.T) {
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(-2*time.Second), 300*ms, live[0], live[1], live[2], live[3])
		})
		wantRefused(t, k, dec, ReasonFramesBeforeChallenge)
	})
	t.Run("too few frames", func(t *testing.T) {
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*ms), 400*ms, live[0], live[1])
		})
		wantRefused(t, k, dec, ReasonTooFewFrames)
	})
	t.Run("not performed", func(t *testing.T) {
		// The holder, live, but not doing what was asked (spoof-dev
		// subjects were not asked to act).
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*ms), 200*ms, live[:6]...)
		})
		wantRefused(t, k, dec, ReasonChallengeNotPerformed)
		if !dec.Reasons[0].Retry {
			t.Error("challenge_not_performed should say retry")
		}
	})
	t.Run("no challenge issued", func(t *testing.T) {
		k.advance(16 * time.Minute)
		req := Request{Reference: ref, Frames: seq(t, k.clock().Add(-time.Second), 200*ms, live[:4]...), Consent: k.consent(), Purpose: "door-main"}
		dec, err := k.verifier.Verify(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, k, dec, ReasonChallengeUnknown)
	})
}

// TestChallengeReplay: a challenge is single use, across restarts too.
// Asking twice for one nonce is refused; an answer sent again is refused
// by the durable consent-nonce state before any frame is analysed, also
// by a restarted verifier; a challenge issued before a restart is unknown
// after it (pending challenges are in memory: fail closed).
func TestChallengeReplay(t *testing.T) {
	k, ref := challengeKiosk(t, LivenessChallenge)
	live := spoofFrames(t, "0001", "02", "live")
	ms := time.Millisecond
	ctx := context.Background()

	dec, req := k.answer(t, ref, func(at time.Time) []Frame { return seq(t, at.Add(100*ms), 200*ms, live[:6]...) })
	wantRefused(t, k, dec, ReasonChallengeNotPerformed)
	if _, err := k.verifier.Challenge(ctx, req.Consent.Nonce); !errors.Is(err, ErrChallengeIssued) {
		t.Errorf("second challenge for one nonce: %v, want ErrChallengeIssued", err)
	}
	n := k.countEngine()
	dec, err := k.verifier.Verify(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, k, dec, ReasonConsentReplayed)
	if n.Load() != 0 {
		t.Errorf("%d frames analysed for a replayed answer, want 0", n.Load())
	}

	// A challenge issued, then the verifier restarts (same durable state).
	c2 := k.consent()
	ch2, err := k.verifier.Challenge(ctx, c2.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	restarted, err := New(k.verifier.c)
	if err != nil {
		t.Fatal(err)
	}
	k.verifier = restarted
	n = k.countEngine()
	dec, err = k.verifier.Verify(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, k, dec, ReasonConsentReplayed)
	req2 := Request{Reference: ref, Frames: seq(t, ch2.IssuedAt.Add(100*ms), 200*ms, live[:6]...), Consent: c2, Purpose: "door-main"}
	k.advance(2 * time.Second)
	dec, err = k.verifier.Verify(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, k, dec, ReasonChallengeUnknown)
	if n.Load() != 0 {
		t.Errorf("%d frames analysed for replayed or unknown challenges, want 0", n.Load())
	}
}

// TestChallengeMetMatches: a one-step turn_left challenge answered by real
// photos of one person (LFW: Joseph Blatter frontal, frontal, turned to his
// left, as measured in internal/liveness TestYawDev) meets the challenge,
// and the compared frame — one of the sequence — matches his reference.
// The same frames under turn_right are refused challenge_not_performed.
// (There is no dev video of a real blink; blink sequences are tested on
// real landmarks in internal/liveness.)
func TestChallengeMetMatches(t *testing.T) {
	const frontal, left = "lfw/Joseph_Blatter/Joseph_Blatter_0002.jpg", "lfw/Joseph_Blatter/Joseph_Blatter_0001.jpg"
	// LFW faces are about 60 px wide: below the kiosk default of 72.
	k := newKiosk(t, nil, Policy{Liveness: LivenessChallenge, MinFacePixels: 40})
	ref := k.enroll(t, frontal).Reference
	ms := time.Millisecond
	for _, c := range []struct {
		draw byte // the random byte that draws the action: 1 turn_left, 2 turn_right
		want Reason
	}{{1, ReasonOK}, {2, ReasonChallengeNotPerformed}} {
		k.verifier.lv.pending = liveness.NewPending(bytes.NewReader([]byte{c.draw}), liveness.ChallengeOptions{Steps: 1}, 0)
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*ms), 250*ms, frontal, frontal, left)
		})
		if c.want == ReasonOK {
			if !dec.Match || dec.Liveness != LivenessChallenge {
				t.Fatalf("turn_left answered: match %v, reasons %v", dec.Match, dec.Reasons)
			}
			if e := lastEntry(t, k); e.Decision != audit.DecisionMatch || e.Liveness != "challenge" {
				t.Fatalf("audit entry %+v", e)
			}
			continue
		}
		wantRefused(t, k, dec, c.want)
	}
}

// TestBothRefusesPrintSequences: under LivenessBoth, the frames of each
// printed-photo session of subject 0001 (moved and bent by hand in front
// of the webcam), sent as the answer to a challenge, are refused before
// any comparison — by the challenge, or by the PAD network.
func TestBothRefusesPrintSequences(t *testing.T) {
	k, ref := challengeKiosk(t, LivenessBoth)
	for _, session := range []string{"01", "02"} {
		prints := spoofFrames(t, "0001", session, "spoof")
		if len(prints) > 10 {
			prints = prints[:10]
		}
		dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
			return seq(t, at.Add(100*time.Millisecond), 150*time.Millisecond, prints...)
		})
		if !dec.Refused || dec.Match || !isLivenessRefusal(dec.Reasons[0].Code) {
			t.Errorf("print session %s: refused %v, match %v, reasons %v; want a liveness refusal", session, dec.Refused, dec.Match, dec.Reasons)
		}
		t.Logf("print session %s (%d frames): %s", session, len(prints), dec.Reasons[0].Code)
	}
}

// TestPassivePADAllSubjects measures passive PAD through Verify over all
// of spoof-dev: each subject enrolled from the first frame of its first
// live session; every print of the subject, and every live frame of its
// other sessions, verified under LivenessNone and LivenessPassive. The
// shipped threshold was chosen on these frames, so the live refusals are
// in-sample (docs/liveness.md has the cross-validated numbers).
func TestPassivePADAllSubjects(t *testing.T) {
	if testing.Short() {
		t.Skip("about 300 verifications")
	}
	k := livenessKiosk(t, LivenessPassive)
	none := newKiosk(t, nil, Policy{Liveness: LivenessNone})
	var printsCompared, printsMatchedNone, printsRefused, printsMatchedPassive int
	var liveCompared, liveMatchedNone, liveRefusedPAD, liveMatchedPassive int
	for s := 1; s <= 9; s++ {
		subject := "000" + string(rune('0'+s))
		var enrolFile string
		var probes []string
		var sessions []string
		for _, sess := range []string{"01", "02"} {
			if fs := spoofFramesMaybe(t, subject, sess, "live"); len(fs) > 0 {
				sessions = append(sessions, sess)
				if enrolFile == "" {
					enrolFile = fs[0]
				} else {
					probes = append(probes, fs...)
				}
			}
		}
		if len(sessions) < 1 {
			continue
		}
		k.advance(time.Hour)
		none.advance(time.Hour)
		enrK, errK := k.issuer.Enroll(context.Background(), EnrollRequest{SubjectID: "s-" + subject, Photos: [][]byte{readFile(t, enrolFile)},
			Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}})
		enrN, errN := none.issuer.Enroll(context.Background(), EnrollRequest{SubjectID: "s-" + subject, Photos: [][]byte{readFile(t, enrolFile)},
			Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{none.d.verifier.Recipient()}})
		if errK != nil || errN != nil {
			t.Logf("subject %s: enrolment refused (%v, %v)", subject, errK, errN)
			continue
		}
		prints := append(spoofFramesMaybe(t, subject, "01", "spoof"), spoofFramesMaybe(t, subject, "02", "spoof")...)
		run := func(files []string, isPrint bool) {
			for _, f := range files {
				k.advance(16 * time.Minute) // every refusal here is a failure: stay clear of the lockout
				none.advance(16 * time.Minute)
				b := readFile(t, f)
				d0, err := none.verifier.Verify(context.Background(), none.request(enrN.Reference, b))
				if err != nil {
					t.Fatal(err)
				}
				if d0.Refused {
					continue
				}
				d1, err := k.verifier.Verify(context.Background(), k.request(enrK.Reference, b))
				if err != nil {
					t.Fatal(err)
				}
				pa := d1.Refused && d1.Reasons[0].Code == ReasonPresentationAttack
				if d1.Refused && !pa {
					t.Fatalf("%s: refused %v under passive, compared under none", f, d1.Reasons)
				}
				if isPrint {
					printsCompared++
					printsMatchedNone += b2i(d0.Match)
					printsRefused += b2i(pa)
					printsMatchedPassive += b2i(d1.Match)
				} else {
					liveCompared++
					liveMatchedNone += b2i(d0.Match)
					liveRefusedPAD += b2i(pa)
					liveMatchedPassive += b2i(d1.Match)
				}
			}
		}
		run(prints, true)
		run(probes, false)
	}
	t.Logf("prints compared (passed the quality gate): %d; matched under none: %d; under passive: refused presentation_attack %d, matched %d",
		printsCompared, printsMatchedNone, printsRefused, printsMatchedPassive)
	t.Logf("live frames of another session compared: %d; matched under none: %d; under passive: refused presentation_attack %d (in-sample), matched %d",
		liveCompared, liveMatchedNone, liveRefusedPAD, liveMatchedPassive)
	if printsMatchedPassive != 0 {
		t.Errorf("%d prints matched under LivenessPassive", printsMatchedPassive)
	}
	if printsCompared < 100 || liveCompared < 50 {
		t.Errorf("too few comparisons to mean anything: %d prints, %d live", printsCompared, liveCompared)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// spoofFramesMaybe returns the spoof-dev files of a subject, session and
// label (live or spoof), in labels.csv order; none when there are none.
func spoofFramesMaybe(t testing.TB, subject, session, label string) []string {
	t.Helper()
	dir := filepath.Join(testenv.FacesDir(), "spoof-dev")
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		testenv.Missing(t, "spoof-dev set", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs[1:] {
		if r[1] == label && r[3] == subject && r[4] == session {
			out = append(out, filepath.Join(dir, r[0]))
		}
	}
	return out
}

// TestLivenessWipesDescriptors: under LivenessBoth every frame's
// descriptors (the analysis's and the copies the challenge compared) are
// zero when Verify returns, refusal or match.
func TestLivenessWipesDescriptors(t *testing.T) {
	k, ref := challengeKiosk(t, LivenessBoth)
	var floats [][]float32
	k.verifier.c.onWipe = func(o [][]float32) { floats = append(floats, o...) }
	live := spoofFrames(t, "0001", "02", "live")[:5]
	dec, _ := k.answer(t, ref, func(at time.Time) []Frame { return seq(t, at.Add(100*time.Millisecond), 200*time.Millisecond, live...) })
	if !dec.Refused {
		t.Fatalf("%+v", dec)
	}
	if len(floats) < 2*len(live) {
		t.Fatalf("%d descriptor buffers wiped for %d frames, want ≥ %d", len(floats), len(live), 2*len(live))
	}
	for _, f := range floats {
		for _, x := range f {
			if x != 0 {
				t.Fatal("a descriptor was left after Verify returned")
			}
		}
	}
}
