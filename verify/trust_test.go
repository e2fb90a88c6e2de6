//go:build cgo

package verify

import (
	"bytes"
	"context"
	"errors"
	"image"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// The attacks of issue 11, each as a test through Verify with the real
// engine on LFW dev faces.

func (k *kiosk) enrollPIN(t testing.TB, pin string, photos ...string) *Enrollment {
	t.Helper()
	var imgs [][]byte
	for _, p := range photos {
		imgs = append(imgs, testenv.ReadLFW(t, p))
	}
	enr, err := k.issuer.Enroll(context.Background(), EnrollRequest{SubjectID: "s-" + photos[0], Photos: imgs,
		Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}, PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	return enr
}

// countEngine counts the engine calls (one per frame analysed).
func (k *kiosk) countEngine() *atomic.Int32 {
	var n atomic.Int32
	k.verifier.analyze = func(ctx context.Context, f Frame) (*facerec.Analysis, error) {
		n.Add(1)
		return k.engine.analyzeFrame(ctx, f)
	}
	return &n
}

// TestPINBruteForceLocksOut: wrong PINs are failures of that card (its
// sealed container; TestStolenCardFormsShareOneCount tries every form).
// After MaxFailures wrong PINs the right PIN with the holder's face is
// locked out. On the old code every wrong PIN was refused as
// reference_authentication before the lockout was consulted, and the
// right PIN then matched.
func TestPINBruteForceLocksOut(t *testing.T) {
	k := newKiosk(t, nil, Policy{MaxFailures: 3})
	calls := k.countEngine()
	enr := k.enrollPIN(t, "2468", abel1)
	good := testenv.ReadLFW(t, abel4)
	for i, guess := range []string{"0000", "1111", "1234"} {
		req := k.request(enr.Reference, good)
		req.PIN = guess
		d, err := k.verifier.Verify(context.Background(), req)
		if err != nil || !d.Refused || d.Reasons[0].Code != ReasonReferenceAuth {
			t.Fatalf("wrong PIN %d: %+v %v", i, d, err)
		}
	}
	req := k.request(enr.Reference, good)
	req.PIN = "2468"
	d, err := k.verifier.Verify(context.Background(), req)
	if err != nil || d.Match || d.Reasons[0].Code != ReasonLockedOut {
		t.Fatalf("right PIN after 3 wrong ones: %+v %v", d, err)
	}
	if calls.Load() != 0 {
		t.Fatalf("%d engine calls: no face may be analysed for a wrong PIN or a locked-out reference", calls.Load())
	}
	if n := k.pinAttempts(t, enr.Reference); n != 3 {
		t.Fatalf("%d PIN attempts recorded against the card, want 3", n)
	}
	// After the window the right PIN matches, and the count is cleared.
	k.advance(16 * time.Minute)
	req = k.request(enr.Reference, good)
	req.PIN = "2468"
	if d, err := k.verifier.Verify(context.Background(), req); err != nil || !d.Match {
		t.Fatalf("after the window: %+v %v", d, err)
	}
	if n, _ := k.state.Attempts(enr.ID, k.clock(), 15*time.Minute); n != 0 {
		t.Fatalf("%d attempts left after a match", n)
	}
	if n := k.pinAttempts(t, enr.Reference); n != 0 {
		t.Fatalf("%d PIN attempts left after a match", n)
	}
}

// TestStateSurvivesRestart: a new Verifier on the same state file (a
// reboot) still refuses a used consent, a withdrawn reference and a
// locked-out one. On the old code all three were forgotten.
func TestStateSurvivesRestart(t *testing.T) {
	k := newKiosk(t, nil, Policy{MaxFailures: 2})
	withdrawn := k.enroll(t, abel1)
	impostorTarget := k.enroll(t, "lfw-deepfunneled/Abel_Pacheco/Abel_Pacheco_0002.jpg")
	good, impostor := testenv.ReadLFW(t, abel4), testenv.ReadLFW(t, akhmed)

	used := k.request(withdrawn.Reference, good)
	if d, err := k.verifier.Verify(context.Background(), used); err != nil || !d.Match {
		t.Fatalf("%+v %v", d, err)
	}
	if err := k.verifier.WithdrawConsent(context.Background(), withdrawn.ID, withdrawn.Subject); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if d, err := k.verifier.Verify(context.Background(), k.request(impostorTarget.Reference, impostor)); err != nil || d.Match || d.Refused {
			t.Fatalf("%+v %v", d, err)
		}
	}

	// Reboot: close the state, open it again, build a new Verifier.
	if err := k.state.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := OpenState(k.statePath, k.d.verifier, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := k.verifier.c
	c.State = st
	v, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	replay := used
	replay.Reference = impostorTarget.Reference // the used consent with another card
	for name, tc := range map[string]struct {
		req  Request
		want Reason
	}{
		"used consent":        {replay, ReasonConsentReplayed},
		"withdrawn reference": {k.request(withdrawn.Reference, good), ReasonReferenceRevoked},
		"locked out":          {k.request(impostorTarget.Reference, good) /* the holder, but locked */, ReasonLockedOut},
	} {
		d, err := v.Verify(context.Background(), tc.req)
		if err != nil || d.Match || d.Reasons[0].Code != tc.want {
			t.Errorf("%s after restart: %+v %v; want %s", name, d, err, tc.want)
		}
	}
}

// TestParallelImpostors: 50 concurrent impostor attempts against one
// reference make at most MaxFailures comparisons (engine calls counted).
// On the old code the lockout was check-then-act and all were compared.
func TestParallelImpostors(t *testing.T) {
	const attempts = 50
	k := newKiosk(t, nil, Policy{})
	calls := k.countEngine()
	enr := k.enroll(t, abel1)
	impostor := testenv.ReadLFW(t, akhmed)
	var wg sync.WaitGroup
	var nomatch, locked, other atomic.Int32
	reqs := make([]Request, attempts)
	for i := range reqs {
		reqs[i] = k.request(enr.Reference, impostor)
	}
	start := make(chan struct{})
	for i := range attempts {
		wg.Go(func() {
			<-start
			d, err := k.verifier.Verify(context.Background(), reqs[i])
			switch {
			case err != nil:
				t.Error(err)
			case d.Match:
				t.Error("an impostor matched")
			case d.Refused && d.Reasons[0].Code == ReasonLockedOut:
				locked.Add(1)
			case !d.Refused:
				nomatch.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("%d parallel impostor attempts: %d engine calls, %d no-match, %d locked out, %d other", attempts, calls.Load(), nomatch.Load(), locked.Load(), other.Load())
	if calls.Load() > 5 || nomatch.Load() != 5 || locked.Load() != attempts-5 {
		t.Fatalf("MaxFailures 5: %d engine calls, %d no-match decisions", calls.Load(), nomatch.Load())
	}
	if k.decisions() != attempts {
		t.Fatalf("%d decision entries for %d attempts", k.decisions(), attempts)
	}
}

// TestStrippedAndForeignReferencesRefused: the PIN-stripped and the
// other-deployment references of issue 11, through Verify.
func TestStrippedAndForeignReferencesRefused(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	good := testenv.ReadLFW(t, abel4)
	pinned := k.enrollPIN(t, "2468", abel1)
	stripped := stripPIN(t, k.d, pinned.Reference, "2468")
	other := *k.d
	other.secret = GenerateDeploymentSecret()
	otherIssuer, err := NewIssuer(IssuerConfig{Key: k.d.issuer, Secret: other.secret, Engine: k.engine, Clock: k.clock})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := otherIssuer.Enroll(context.Background(), EnrollRequest{SubjectID: "x", Photos: [][]byte{testenv.ReadLFW(t, abel1)},
		Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string][]byte{"PIN stripped": stripped, "other deployment": foreign.Reference} {
		d, err := k.verifier.Verify(context.Background(), k.request(ref, good))
		if err != nil || d.Match || d.Reasons[0].Code != ReasonReferenceAuth {
			t.Errorf("%s: %+v %v", name, d, err)
		}
	}
}

// TestUnsealRateLimit: the kiosk's unseal budget refuses before any
// unsealing, and refills with time.
func TestUnsealRateLimit(t *testing.T) {
	k := newKiosk(t, nil, Policy{UnsealPerMinute: 3})
	enr := k.enroll(t, abel1)
	good := testenv.ReadLFW(t, abel4)
	for i := range 4 {
		d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, good))
		if err != nil {
			t.Fatal(err)
		}
		if limited := d.Refused && d.Reasons[0].Code == ReasonRateLimited; limited != (i == 3) {
			t.Fatalf("attempt %d: %+v", i, d.Reasons)
		}
	}
	k.advance(20 * time.Second) // one token back
	if d, _ := k.verifier.Verify(context.Background(), k.request(enr.Reference, good)); !d.Match {
		t.Fatalf("after 20 s: %+v", d.Reasons)
	}
}

// TestConsentStatementSigned: the decision carries a statement the
// kiosk signed; it checks offline with the kiosk's public key, and fails
// when any bound field, the signature or the key changes.
func TestConsentStatementSigned(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	enr := k.enroll(t, abel1)
	req := k.request(enr.Reference, testenv.ReadLFW(t, abel4))
	d, err := k.verifier.Verify(context.Background(), req)
	if err != nil || !d.Match {
		t.Fatalf("%+v %v", d, err)
	}
	signed := d.Consent.Statement
	st, err := CheckConsentStatement(signed, k.logKey)
	if err != nil {
		t.Fatal(err)
	}
	c := req.Consent
	if st.ReferenceID != enr.ID || st.Purpose != c.Purpose || st.NoticeVersion != c.NoticeVersion || st.NoticeHash != c.NoticeHash ||
		st.Nonce != c.Nonce || !st.GivenAt.Equal(c.GivenAt.Truncate(time.Second)) || st.Decision != "match" || st.Reason != ReasonOK {
		t.Fatalf("statement %+v", st)
	}
	t.Logf("statement:\n%s", signed)
	lines := strings.SplitAfter(string(signed), "\n")
	for i := 1; i < 9; i++ { // every bound line after the intro
		field, value, _ := strings.Cut(strings.TrimSuffix(lines[i], "\n"), " ")
		for _, nv := range []string{value[:len(value)-1] + "0", value[:len(value)-1] + "1"} {
			if nv == value {
				continue
			}
			mut := append(append(append([]string{}, lines[:i]...), field+" "+nv+"\n"), lines[i+1:]...)
			if _, err := CheckConsentStatement([]byte(strings.Join(mut, "")), k.logKey); !errors.Is(err, ErrConsentStatement) {
				t.Errorf("%s changed to %q: %v", field, nv, err)
			}
		}
	}
	for i := range signed {
		b := bytes.Clone(signed)
		b[i] ^= 0x01
		if _, err := CheckConsentStatement(b, k.logKey); err == nil {
			t.Fatalf("byte %d flipped: verifies", i)
		}
	}
	_, otherKey, _ := audit.GenerateKey("kiosk-test.example")
	if _, err := CheckConsentStatement(signed, otherKey); !errors.Is(err, ErrConsentStatement) {
		t.Fatalf("another kiosk's key: %v", err)
	}
}

// TestWipesEveryTemplateBuffer: after Verify returns, every buffer that
// held the template or a descriptor is zero: the age plaintext, the PIN
// layer's plaintext, the COSE payload, the parsed body's template, the
// reference's vectors, every face's descriptor, the live descriptor.
func TestWipesEveryTemplateBuffer(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	var mu sync.Mutex
	var bufs []string
	var nonzero int
	k.verifier.c.Opener.onWipe = func(what string, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		bufs = append(bufs, what)
		for _, x := range b {
			if x != 0 {
				nonzero++
			}
		}
	}
	var floats [][]float32
	k.verifier.c.onWipe = func(o [][]float32) { floats = append(floats, o...) }
	enr := k.enrollPIN(t, "2468", abel1)
	req := k.request(enr.Reference, testenv.ReadLFW(t, abel4))
	req.PIN = "2468"
	d, err := k.verifier.Verify(context.Background(), req)
	if err != nil || !d.Match {
		t.Fatalf("%+v %v", d, err)
	}
	for _, want := range []string{"age plaintext", "PIN layer plaintext", "COSE payload", "parsed body template"} {
		if !strings.Contains(strings.Join(bufs, ","), want) {
			t.Errorf("%s not wiped (wiped: %v)", want, bufs)
		}
	}
	if nonzero != 0 {
		t.Fatalf("%d non-zero bytes left in wiped buffers", nonzero)
	}
	// The face's descriptor in the analysis, the live copy, the template.
	if len(floats) < 3 {
		t.Fatalf("%d float buffers wiped, want ≥ 3", len(floats))
	}
	for _, f := range floats {
		for _, x := range f {
			if x != 0 {
				t.Fatal("a descriptor was left after Verify returned")
			}
		}
	}
}

// TestFrameImage: a camera that already has pixels passes them as
// Frame.Image (no JPEG round trip in oneface) and gets the same decision;
// a frame with both or neither form is unreadable.
func TestFrameImage(t *testing.T) {
	k := newKiosk(t, nil, Policy{ExposeDistance: true})
	enr := k.enroll(t, abel1)
	jpegBytes := testenv.ReadLFW(t, abel4)
	byBytes, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, jpegBytes))
	if err != nil || !byBytes.Match {
		t.Fatalf("%+v %v", byBytes, err)
	}
	req := k.request(enr.Reference)
	req.Frames = []Frame{{Image: decodeJPEG(t, jpegBytes), CapturedAt: k.clock()}}
	byImage, err := k.verifier.Verify(context.Background(), req)
	if err != nil || !byImage.Match || abs(byImage.Distance-byBytes.Distance) > 1e-6 {
		t.Fatalf("image frame: %+v %v (bytes: distance %v)", byImage, err, byBytes.Distance)
	}
	for name, f := range map[string]Frame{"both": {Image: decodeJPEG(t, jpegBytes), Encoded: jpegBytes}, "neither": {}} {
		req := k.request(enr.Reference)
		req.Frames = []Frame{f}
		d, err := k.verifier.Verify(context.Background(), req)
		if err != nil || !d.Refused || d.Reasons[0].Code != ReasonUnreadable {
			t.Fatalf("%s: %+v %v", name, d, err)
		}
	}
}

// TestConsentStatementOnRefusal: a refusal after the consent was accepted
// (here: a frame with no face) carries a signed statement too, saying
// "refused" and the reason; a refusal before it (no consent) carries none.
func TestConsentStatementOnRefusal(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	enr := k.enroll(t, abel1)
	blank := image.NewGray(image.Rect(0, 0, 320, 240))
	req := Request{Reference: enr.Reference, Frames: []Frame{{Image: blank, CapturedAt: k.clock()}}, Consent: k.consent(), Purpose: "door-main"}
	d, err := k.verifier.Verify(context.Background(), req)
	if err != nil || !d.Refused || d.Consent == nil {
		t.Fatalf("%+v %v", d, err)
	}
	st, err := CheckConsentStatement(d.Consent.Statement, k.logKey)
	if err != nil {
		t.Fatalf("refusal without a valid statement: %v (%q)", err, d.Consent.Statement)
	}
	if st.Decision != "refused" || st.Reason != d.Reasons[0].Code || st.Nonce != req.Consent.Nonce {
		t.Fatalf("statement %+v for reasons %v", st, d.Reasons)
	}
	req.Consent = nil
	if d, err := k.verifier.Verify(context.Background(), req); err != nil || !d.Refused || d.Consent != nil {
		t.Fatalf("no consent: %+v %v", d, err)
	}
}
