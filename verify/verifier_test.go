//go:build cgo

package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/testenv"
)

const noticeText = "We compare your face with your card, keep no image, and log the use."

type kiosk struct {
	d         *testDeployment
	state     *State
	statePath string
	kioskKey  *KioskKey
	engine    *Engine
	issuer    *Issuer
	log       *audit.Log
	logDir    string
	logKey    string
	verifier  *Verifier
	now       time.Time
	mu        sync.Mutex
}

func (k *kiosk) clock() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

func (k *kiosk) advance(d time.Duration) {
	k.mu.Lock()
	k.now = k.now.Add(d)
	k.mu.Unlock()
}

func newKiosk(t testing.TB, store func(*audit.Log) AuditLog, policy Policy) *kiosk {
	t.Helper()
	return newKioskOn(t, kioskEngine(t, policy), store, policy)
}

// newKioskOn is newKiosk on a given engine (e.g. dlibView).
func newKioskOn(t testing.TB, e *Engine, store func(*audit.Log) AuditLog, policy Policy) *kiosk {
	t.Helper()
	d := newDeployment(t)
	d.model = e.ModelID()
	k := &kiosk{d: d, engine: e, now: d.now}
	is, err := NewIssuer(IssuerConfig{Key: d.issuer, Secret: d.secret, Engine: e, Clock: k.clock, MinFacePixels: 60})
	if err != nil {
		t.Fatal(err)
	}
	k.issuer = is
	skey, vkey, _ := audit.GenerateKey("kiosk-test.example")
	k.logDir, k.logKey = t.TempDir(), vkey
	if k.log, err = audit.Open(k.logDir, skey, audit.Options{Clock: k.clock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.log.Close() })
	var sink AuditLog = k.log
	if store != nil {
		sink = store(k.log)
	}
	o, err := NewOpener(OpenerConfig{Issuers: []*IssuerPublicKey{d.issuer.Public()}, Keys: []*VerifierKey{d.verifier},
		Secret: d.secret, ModelID: e.ModelID(), Clock: k.clock})
	if err != nil {
		t.Fatal(err)
	}
	if policy.Notices == nil {
		policy.Notices = map[string][32]byte{"notice-1": NoticeHash(noticeText)}
	}
	if policy.Liveness == "" {
		policy.Liveness = LivenessNone
	}
	if policy.UnsealPerMinute == 0 {
		policy.UnsealPerMinute = 1 << 20 // tests run on a frozen clock: no rate limit unless a test sets one
	}
	k.statePath = filepath.Join(t.TempDir(), "kiosk.state")
	if k.state, err = OpenState(k.statePath, d.verifier, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.state.Close() })
	if k.kioskKey, err = ParseKioskKey(skey); err != nil {
		t.Fatal(err)
	}
	if k.verifier, err = New(VerifierConfig{Engine: e, Opener: o, Audit: sink, State: k.state, KioskKey: k.kioskKey, Policy: policy, Clock: k.clock}); err != nil {
		t.Fatal(err)
	}
	return k
}

// frames wraps encoded frames, captured now.
func (k *kiosk) frames(bs ...[]byte) []Frame {
	fs := make([]Frame, len(bs))
	for i, b := range bs {
		fs[i] = Frame{Encoded: b, CapturedAt: k.clock()}
	}
	return fs
}

func (k *kiosk) enroll(t testing.TB, photos ...string) *Enrollment {
	t.Helper()
	var imgs [][]byte
	for _, p := range photos {
		imgs = append(imgs, testenv.ReadLFW(t, p))
	}
	enr, err := k.issuer.Enroll(context.Background(), EnrollRequest{SubjectID: "s-" + photos[0], Photos: imgs,
		Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	return enr
}

func (k *kiosk) consent() *Consent {
	c := &Consent{Purpose: "door-main", NoticeVersion: "notice-1", NoticeHash: NoticeHash(noticeText), GivenAt: k.clock()}
	rand.Read(c.Nonce[:])
	return c
}

func (k *kiosk) request(ref []byte, frames ...[]byte) Request {
	return Request{Reference: ref, Frames: k.frames(frames...), Consent: k.consent(), Purpose: "door-main"}
}

func sum(m map[Reason]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func jpegOf(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodeJPEG(t testing.TB, b []byte) image.Image {
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// transform returns a copy of img with every pixel mapped by f.
func transform(img image.Image, f func(r, g, b uint8) (uint8, uint8, uint8)) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			nr, ng, nb := f(uint8(r>>8), uint8(g>>8), uint8(b>>8))
			out.Set(x, y, color.RGBA{nr, ng, nb, 255})
		}
	}
	return out
}

func boxBlur(img image.Image, radius int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var sr, sg, sb, n uint32
			for dy := -radius; dy <= radius; dy++ {
				for dx := -radius; dx <= radius; dx++ {
					p := image.Pt(x+dx, y+dy)
					if p.In(b) {
						r, g, bb, _ := img.At(p.X, p.Y).RGBA()
						sr, sg, sb, n = sr+r>>8, sg+g>>8, sb+bb>>8, n+1
					}
				}
			}
			out.Set(x, y, color.RGBA{uint8(sr / n), uint8(sg / n), uint8(sb / n), 255})
		}
	}
	return out
}

func TestRefusals(t *testing.T) {
	// MinBrightness 80: the default 40 is a sanity bound below which HOG
	// rarely finds a face at all; a kiosk with controlled light can be
	// stricter, and this exercises the check.
	k := newKiosk(t, nil, Policy{MaxFailures: 3, MinBrightness: 80})
	enr := k.enroll(t, abel1)
	good := testenv.ReadLFW(t, abel4)
	face := decodeJPEG(t, good)
	other := newDeployment(t)
	other.model = k.engine.ModelID()
	_, foreign := other.issue(t, other.request(), "", k.d.verifier.Recipient())
	req := k.d.request()
	req.model = k.engine.ModelID()
	_, notMine := k.d.issue(t, req, "", other.verifier.Recipient())
	_, pinned := k.d.issue(t, req, "2468")
	expiredReq := req
	expiredReq.issuedAt, expiredReq.expiresAt = k.now.Add(-48*time.Hour), k.now.Add(-time.Hour)
	_, expired := k.d.issue(t, expiredReq, "")

	blank := image.NewRGBA(image.Rect(0, 0, 320, 240))
	draw.Draw(blank, blank.Bounds(), image.NewUniform(color.Gray{120}), image.Point{}, draw.Src)
	two := image.NewRGBA(image.Rect(0, 0, 500, 250))
	draw.Draw(two, image.Rect(0, 0, 250, 250), face, image.Point{}, draw.Src)
	draw.Draw(two, image.Rect(250, 0, 500, 250), decodeJPEG(t, testenv.ReadLFW(t, akhmed)), image.Point{}, draw.Src)
	dark := transform(face, func(r, g, b uint8) (uint8, uint8, uint8) { return r / 2, g / 2, b / 2 })
	blurred := boxBlur(face, 4)

	withConsent := func(mod func(*Consent)) Request {
		r := k.request(enr.Reference, good)
		mod(r.Consent)
		return r
	}
	replayed := k.request(enr.Reference, good)

	cases := []struct {
		name string
		req  Request
		want Reason
	}{
		{"garbage reference", k.request([]byte("hello"), good), ReasonReferenceMalformed},
		{"sealed for another kiosk", k.request(notMine, good), ReasonReferenceAuth},
		{"untrusted issuer", k.request(foreign, good), ReasonReferenceUntrusted},
		{"PIN required", k.request(pinned, good), ReasonReferencePINRequired},
		{"expired", k.request(expired, good), ReasonReferenceExpired},
		{"purpose not allowed", Request{Reference: enr.Reference, Frames: k.frames(good), Purpose: "vault", Consent: withConsent(func(c *Consent) { c.Purpose = "vault" }).Consent}, ReasonReferencePurpose},
		{"no consent", Request{Reference: enr.Reference, Frames: k.frames(good), Purpose: "door-main"}, ReasonConsentMissing},
		{"consent for another purpose", withConsent(func(c *Consent) { c.Purpose = "locker" }), ReasonConsentPurpose},
		{"unknown notice", withConsent(func(c *Consent) { c.NoticeVersion = "notice-0" }), ReasonConsentNotice},
		{"notice text differs", withConsent(func(c *Consent) { c.NoticeHash = NoticeHash("another text") }), ReasonConsentNotice},
		{"stale consent", withConsent(func(c *Consent) { c.GivenAt = k.now.Add(-3 * time.Minute) }), ReasonConsentStale},
		{"consent from the future", withConsent(func(c *Consent) { c.GivenAt = k.now.Add(time.Hour) }), ReasonConsentStale},
		{"no frames", k.request(enr.Reference), ReasonNoFrames},
		{"too many frames", k.request(enr.Reference, make([][]byte, 11)...), ReasonTooManyFrames},
		{"unreadable frame", k.request(enr.Reference, []byte("not an image")), ReasonUnreadable},
		{"no face", k.request(enr.Reference, jpegOf(t, blank)), ReasonNoFace},
		{"two faces", k.request(enr.Reference, jpegOf(t, two)), ReasonMultipleFaces},
		{"face too small", k.request(enr.Reference, testenv.ReadLFW(t, "lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg")), ReasonFaceTooSmall},
		{"dark", k.request(enr.Reference, jpegOf(t, dark)), ReasonExposure},
		{"blurred", k.request(enr.Reference, jpegOf(t, blurred)), ReasonBlurry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := k.log.Size()
			d, err := k.verifier.Verify(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Refused || d.Match || d.Reasons[0].Code != c.want {
				t.Fatalf("decision: match %v, refused %v, reasons %v; want refusal %s", d.Match, d.Refused, d.Reasons, c.want)
			}
			if d.Distance != 0 {
				t.Fatal("a refusal exposes a distance")
			}
			if k.log.Size() != before+1 {
				t.Fatal("refusal not audited")
			}
			last, _ := audit.ParseRecord(must(k.log.Entry(before)))
			if last.Entry.Reason != string(c.want) || last.Entry.Decision != audit.DecisionRefused {
				t.Fatalf("audited as %s/%s", last.Entry.Decision, last.Entry.Reason)
			}
		})
	}
	// A consent nonce is good once.
	if d, err := k.verifier.Verify(context.Background(), replayed); err != nil || !d.Match {
		t.Fatalf("first use: %+v %v", d, err)
	}
	if d, _ := k.verifier.Verify(context.Background(), replayed); d.Reasons[0].Code != ReasonConsentReplayed {
		t.Fatalf("replayed consent: %+v", d)
	}
	// Lockout after 3 no-matches, reset when the window has passed.
	impostor := testenv.ReadLFW(t, akhmed)
	for i := range 3 {
		d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, impostor))
		if err != nil || d.Match || d.Refused {
			t.Fatalf("impostor attempt %d: %+v %v", i, d, err)
		}
	}
	if d, _ := k.verifier.Verify(context.Background(), k.request(enr.Reference, good)); d.Reasons[0].Code != ReasonLockedOut {
		t.Fatalf("after 3 failures: %+v", d)
	}
	k.advance(16 * time.Minute)
	if d, _ := k.verifier.Verify(context.Background(), k.request(enr.Reference, good)); !d.Match {
		t.Fatalf("after the lockout window: %+v", d)
	}
	// Withdrawal: audited, then the reference is refused here.
	if err := k.verifier.WithdrawConsent(context.Background(), enr.ID, enr.Subject); err != nil {
		t.Fatal(err)
	}
	if d, _ := k.verifier.Verify(context.Background(), k.request(enr.Reference, good)); d.Reasons[0].Code != ReasonReferenceRevoked {
		t.Fatalf("after withdrawal: %+v", d)
	}
	if _, err := audit.VerifyDir(k.logDir, k.log.Checkpoint(), k.logKey); err != nil {
		t.Fatal(err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// failingAudit fails every write after the first ok ones.
type failingAudit struct {
	inner AuditLog
	ok    int32
	n     atomic.Int32
}

var errDiskFull = errors.New("disk full")

// AppendConfig passes through: these tests fail the decisions' writes.
func (f *failingAudit) AppendConfig(ctx context.Context, p audit.PolicySummary) (audit.Appended, error) {
	if f.inner == nil {
		return audit.Appended{}, nil
	}
	return f.inner.AppendConfig(ctx, p)
}

func (f *failingAudit) Append(ctx context.Context, e audit.Entry, p *audit.Personal) (audit.Appended, error) {
	if f.n.Add(1) > f.ok {
		return audit.Appended{}, errDiskFull
	}
	return f.inner.Append(ctx, e, p)
}

func TestFailClosedWhenAuditFails(t *testing.T) {
	k := newKiosk(t, func(l *audit.Log) AuditLog { return &failingAudit{inner: l, ok: 0} }, Policy{})
	enr := k.enroll(t, abel1)
	d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, testenv.ReadLFW(t, abel4)))
	if !errors.Is(err, errDiskFull) || d != nil {
		t.Fatalf("a matching face with a failing audit store gave %+v, %v", d, err)
	}
	if k.decisions() != 0 {
		t.Fatal("something was logged")
	}
}

func TestFailClosedAfterNWrites(t *testing.T) {
	const n = 3
	k := newKiosk(t, func(l *audit.Log) AuditLog { return &failingAudit{inner: l, ok: n} }, Policy{})
	enr := k.enroll(t, abel1)
	good := testenv.ReadLFW(t, abel4)
	for i := range n + 2 {
		d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, good))
		if i < n && (err != nil || !d.Match || len(d.Receipt) == 0) {
			t.Fatalf("call %d (audit still writes): %+v %v", i, d, err)
		}
		if i >= n && (err == nil || d != nil) {
			t.Fatalf("call %d (audit fails): got a decision %+v", i, d)
		}
	}
	if k.decisions() != n {
		t.Fatalf("%d decision entries, want %d", k.decisions(), n)
	}
}

// TestAuditCountAndConcurrency: N concurrent Verify calls leave exactly N
// entries, the log verifies, and every receipt checks out.
func TestAuditCountAndConcurrency(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	enr := k.enroll(t, abel1, "lfw-deepfunneled/Abel_Pacheco/Abel_Pacheco_0002.jpg")
	frames := [][]byte{testenv.ReadLFW(t, abel4), testenv.ReadLFW(t, akhmed), []byte("junk")}
	const workers, each = 8, 3
	var wg sync.WaitGroup
	var matches, nomatch, refused atomic.Int32
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, frames[(w+i)%3]))
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case d.Refused:
					refused.Add(1)
				case d.Match:
					matches.Add(1)
				default:
					nomatch.Add(1)
				}
				if _, err := audit.CheckReceipt(d.Receipt, k.logKey); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if k.decisions() != workers*each {
		t.Fatalf("%d decision entries after %d calls", k.decisions(), workers*each)
	}
	if _, err := audit.VerifyDir(k.logDir, k.log.Checkpoint(), k.logKey); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls: %d match, %d no-match, %d refused; %d audit entries; the log verifies", workers*each, matches.Load(), nomatch.Load(), refused.Load(), k.log.Size())
}

func TestWipesOwnedBuffers(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	var owned [][]float32
	k.verifier.c.onWipe = func(o [][]float32) { owned = append(owned, o...) }
	enr := k.enroll(t, abel1)
	d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, testenv.ReadLFW(t, abel4)))
	if err != nil || !d.Match {
		t.Fatalf("%+v %v", d, err)
	}
	if len(owned) != 4 {
		t.Fatalf("%d owned buffers, want the analysis's face, the live descriptor, its embedding and the template", len(owned))
	}
	nonzero := 0
	for _, o := range owned {
		for _, v := range o {
			if v != 0 {
				nonzero++
			}
		}
	}
	if nonzero != 0 {
		t.Fatalf("%d values left after Verify returned", nonzero)
	}
}

func TestCancellation(t *testing.T) {
	k := newKiosk(t, nil, Policy{})
	enr := k.enroll(t, abel1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d, err := k.verifier.Verify(ctx, k.request(enr.Reference, testenv.ReadLFW(t, abel4))); !errors.Is(err, context.Canceled) || d != nil {
		t.Fatalf("%+v %v", d, err)
	}
	if k.decisions() != 0 {
		t.Fatal("a cancelled call was logged")
	}
}

func TestPolicyChecks(t *testing.T) {
	e := realEngine(t)
	d := newDeployment(t)
	o, _ := NewOpener(OpenerConfig{Issuers: []*IssuerPublicKey{d.issuer.Public()}, Keys: []*VerifierKey{d.verifier}, Secret: d.secret, ModelID: e.ModelID()})
	l := &failingAudit{}
	st, err := OpenState(filepath.Join(t.TempDir(), "s"), d.verifier, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	skey, _, _ := audit.GenerateKey("kiosk-test.example")
	kk, _ := ParseKioskKey(skey)
	notices := map[string][32]byte{"n": NoticeHash("x")}
	for name, p := range map[string]Policy{
		"liveness unset":      {Notices: notices},
		"liveness unknown":    {Notices: notices, Liveness: "blink"},
		"no notice":           {Liveness: LivenessNone},
		"FMR beyond the data": {Notices: notices, Liveness: LivenessNone, TargetFMR: 1e-7},
		// Between calibrated points: the old code clamped 5e-4 to the
		// 1e-4 threshold and 0.3 to the 1e-2 one, silently.
		"FMR between calibrated points": {Notices: notices, Liveness: LivenessNone, TargetFMR: 5e-4},
		"FMR looser than any":           {Notices: notices, Liveness: LivenessNone, TargetFMR: 0.3},
		"lockout beyond the store":      {Notices: notices, Liveness: LivenessNone, MaxFailures: 65},
	} {
		if _, err := New(VerifierConfig{Engine: e, Opener: o, Audit: l, State: st, KioskKey: kk, Policy: p}); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New(VerifierConfig{Engine: e, Opener: o, Audit: l, KioskKey: kk, Policy: Policy{Notices: notices, Liveness: LivenessNone}}); err == nil {
		t.Error("a verifier without a state file")
	}
	for _, fmr := range []float64{1e-2, 1e-3, 1e-4, 1e-5} {
		v, err := New(VerifierConfig{Engine: e, Opener: o, Audit: l, State: st, KioskKey: kk, Policy: Policy{Notices: notices, Liveness: LivenessNone, TargetFMR: fmr}})
		if err != nil {
			t.Fatalf("FMR %g: %v", fmr, err)
		}
		t.Logf("FMR %g: thresholds by enrolment photos: %v", fmr, v.thresholds)
	}
}

// TestPoseRefusal: with a kiosk demanding a strictly frontal face, an
// ordinary dev photo (its nose a little off the eyes' midline) is refused
// for pose, as a retry.
func TestPoseRefusal(t *testing.T) {
	k := newKiosk(t, nil, Policy{MaxYaw: 0.001})
	enr := k.enroll(t, abel1)
	d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, testenv.ReadLFW(t, abel4)))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Refused || d.Reasons[0].Code != ReasonPose || !d.Reasons[0].Retry || d.Reasons[0].Frame != 0 {
		t.Fatalf("reasons %v", d.Reasons)
	}
}

// decisions is the number of audit entries after the configuration entry
// New writes.
func (k *kiosk) decisions() int64 { return k.log.Size() - 1 }
