//go:build cgo

package verify

// Red-team (outside attacker, round 2): the multi-frame decision. After a
// met challenge, Verify compares the mean embedding of the 3 largest good
// frames. The same-face check compares every frame with the compared
// (largest) frame only, at the one-frame threshold, and PAD scores the
// compared frame only. So an attacker shows their own live face (the
// compared frame: it passes PAD and performs the challenge) and, in two
// smaller frames, a photo of the holder — any photo they can find that
// "is the same face" as themselves at the one-frame threshold, which they
// can pick offline with the model on the kiosk's disk. Two of the three
// averaged vectors are the holder's: the mean lands near the holder and
// matches a reference the attacker's own face is far from.

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/site"
)

// Found by TestRedteam2SearchMeanMix over LFW dev (attacker's frame alone
// at cosine distance 0.6114 from the reference; the holder photo 0.5568
// from the attacker's frame, under the 0.5757 same-face threshold).
const (
	rtAttacker   = "lfw/Jim_Hardin/Jim_Hardin_0001.jpg"   // the attacker's live face (turned to their right)
	rtHolderSnap = "lfw/Paul_Bremer/Paul_Bremer_0015.jpg" // a photo of the holder the attacker found
	rtHolderRef  = "lfw/Paul_Bremer/Paul_Bremer_0017.jpg" // the holder's enrolment photo
	rtAttacker2  = "lfw/Dean_Jacek/Dean_Jacek_0001.jpg"   // a second attacker
	rtHolder2    = "lfw/Paul_Bremer/Paul_Bremer_0006.jpg" // the holder photo they found
	rtHolderRef2 = "lfw/Paul_Bremer/Paul_Bremer_0010.jpg" // the holder's enrolment photo
)

// TestRedteam2MeanMixesTwoPeople: under LivenessBoth (the kiosk default)
// and under LivenessChallenge, a one-step turn_right challenge answered
// by [holder photo, holder photo, attacker's face] — the attacker's face
// largest (compared, PAD-scored), the holder's photo in the two other
// frames. Control: the attacker's face alone does not match the holder's
// reference. Attack: the sequence matches, with Decision.Frames = 3.
func TestRedteam2MeanMixesTwoPeople(t *testing.T) {
	ctx := context.Background()
	// Control: the attacker's face alone, one frame, no liveness.
	ctl := newKiosk(t, nil, Policy{Liveness: LivenessNone, MinFacePixels: 40, ExposeDistance: true})
	for _, c := range [][2]string{{rtAttacker, rtHolderRef}, {rtAttacker2, rtHolderRef2}} {
		ref := ctl.enroll(t, c[1]).Reference
		d, err := ctl.verifier.Verify(ctx, Request{Reference: ref, Frames: []Frame{{Image: rtScaled(t, c[0], 1.3), CapturedAt: ctl.clock()}},
			Consent: ctl.consent(), Purpose: "door-main"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Match {
			t.Fatalf("control: %s alone matches %s (%.4f): not an impostor pair", c[0], c[1], d.Distance)
		}
		t.Logf("control: %s alone vs the reference %s: distance %.4f, threshold %.4f: no match", c[0], c[1], d.Distance, d.Threshold)
	}
	for _, mode := range []Liveness{LivenessBoth, LivenessChallenge} {
		k := newKiosk(t, nil, Policy{Liveness: mode, MinFacePixels: 40, ExposeDistance: true})
		for _, c := range []struct{ attacker, snap, ref string }{{rtAttacker, rtHolderSnap, rtHolderRef}, {rtAttacker2, rtHolder2, rtHolderRef2}} {
			ref := k.enroll(t, c.ref).Reference
			files := []string{c.snap, c.snap, c.attacker}
			scales := []float64{1.1, 1.1, 1.3} // the attacker's face is the largest: compared and PAD-scored
			if c.attacker == rtAttacker2 {
				files = []string{c.attacker, c.snap, c.snap}
				scales = []float64{1.3, 1.1, 1.1}
			}
			d := rtMixAnswer(t, k, ref, 2, files, scales)
			if d.Match {
				t.Errorf("BROKEN (%s): the attacker %s, with the holder's photo %s in two smaller frames, MATCHES the holder's reference %s: mean of %d frames at distance %.4f < %.4f",
					mode, c.attacker, c.snap, c.ref, d.Frames, d.Distance, d.Threshold)
			} else {
				t.Logf("held (%s): %v", mode, d.Reasons)
			}
		}
	}
}

// TestRedteam2MeanNotUnderSite: under a site calibration the same mixed
// sequence is compared as one frame (the attacker's) and does not match —
// the defence the multi-frame rule claims for site-calibrated kiosks.
func TestRedteam2MeanNotUnderSite(t *testing.T) {
	k := newKiosk(t, nil, Policy{Liveness: LivenessNone, MinFacePixels: 40})
	ref := k.enroll(t, rtHolderRef).Reference
	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	id := k.verifier.model
	shipped := k.verifier.thresholds[id][1]
	cal, err := site.Sign(&site.Calibration{Site: "door-test", ModelID: id.String(), TargetFMR: 1e-3, Points: []site.Point{{
		Photos: 1, Threshold: shipped, Shipped: shipped, FMR: calib.Rate{Trials: 5041}, FNMR: calib.Rate{Trials: 657}}}}, skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(VerifierConfig{Engine: k.engine, Opener: k.verifier.c.Opener, Audit: k.log, State: k.state, KioskKey: k.kioskKey,
		Policy: Policy{Liveness: LivenessChallenge, MinFacePixels: 40, Notices: k.verifier.p.Notices, UnsealPerMinute: 1 << 20, ExposeDistance: true},
		Clock:  k.clock, SiteCalibration: cal, SiteKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	k.verifier = v
	d := rtMixAnswer(t, k, ref, 2, []string{rtHolderSnap, rtHolderSnap, rtAttacker}, []float64{1.1, 1.1, 1.3})
	if d.Match || d.Frames > 1 {
		t.Fatalf("BROKEN: under a site calibration the mixed sequence matched or used %d frames (%.4f)", d.Frames, d.Distance)
	}
	t.Logf("held: under a site calibration: %d frame, %v, distance %.4f", d.Frames, d.Reasons, d.Distance)
}

// TestRedteam2AuditSaysFrames: a decision made on the mean of 3 frames
// (the mixed sequence above) and one made on a single frame are recorded
// alike: the verify entry says neither how many frames were compared nor
// at which threshold, so an auditor investigating a false match cannot
// tell that the mean decided it.
func TestRedteam2AuditSaysFrames(t *testing.T) {
	k := newKiosk(t, nil, Policy{Liveness: LivenessChallenge, MinFacePixels: 40, ExposeDistance: true})
	ref := k.enroll(t, rtHolderRef).Reference
	d := rtMixAnswer(t, k, ref, 2, []string{rtHolderSnap, rtHolderSnap, rtAttacker}, []float64{1.1, 1.1, 1.3})
	if d.Frames != MultiFrames {
		t.Skipf("the sequence was compared on %d frame(s): %v", d.Frames, d.Reasons)
	}
	es, err := audit.ReadEntries(k.logDir)
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	if !strings.Contains(last.Detail, "frames=") {
		t.Errorf("BROKEN: decision on the mean of %d frames (match %v, distance %.4f) recorded as %+v, detail %q: nothing says how many frames decided",
			d.Frames, d.Match, d.Distance, last.Entry, last.Detail)
	}
}
