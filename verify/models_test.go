//go:build cgo

package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/site"
	"github.com/oneface/oneface/internal/testenv"
)

// memo caches the engine's work on live frames by content: the analysis
// (detection, landmarks, dlib descriptor) and the embedding of the chosen
// face. The engine is deterministic, so a sweep that meets a probe frame
// once per reference computes it once; everything after the engine —
// unseal, open, consent, state, threshold, distance, audit — runs every
// time. TestMemoMatchesEngine checks the cached path against the
// uncached one.
type memo struct {
	e   *Engine
	mu  sync.Mutex
	an  map[[32]byte]*facerec.Analysis
	vec map[string][]float32
}

func newMemo(e *Engine) *memo {
	return &memo{e: e, an: map[[32]byte]*facerec.Analysis{}, vec: map[string][]float32{}}
}

func copyAnalysis(a *facerec.Analysis) *facerec.Analysis {
	c := *a
	c.Faces = slices.Clone(a.Faces)
	for i := range c.Faces {
		c.Faces[i].Landmarks = slices.Clone(a.Faces[i].Landmarks)
	}
	return &c
}

func (m *memo) analyze(ctx context.Context, f Frame) (*facerec.Analysis, error) {
	if f.Encoded == nil {
		return m.e.analyzeFrame(ctx, f)
	}
	k := sha256.Sum256(f.Encoded)
	m.mu.Lock()
	a, ok := m.an[k]
	m.mu.Unlock()
	if ok {
		return copyAnalysis(a), nil
	}
	a, err := m.e.analyzeFrame(ctx, f)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.an[k] = copyAnalysis(a)
	m.mu.Unlock()
	return a, nil
}

func (m *memo) vector(ctx context.Context, model Model, f Frame, face *facerec.Face) ([]float32, error) {
	if f.Encoded == nil {
		return m.e.vector(ctx, model, f, face)
	}
	k := fmt.Sprintf("%s %x %v", model, sha256.Sum256(f.Encoded), face.Box)
	m.mu.Lock()
	v, ok := m.vec[k]
	m.mu.Unlock()
	if ok {
		return slices.Clone(v), nil
	}
	v, err := m.e.vector(ctx, model, f, face)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.vec[k] = slices.Clone(v)
	m.mu.Unlock()
	return v, nil
}

// pair is one comparison of a sweep: enrol from a, probe with b.
type pair struct {
	a, b string
	same bool
}

// sweepResult counts a sweep's outcomes at the default policy.
type sweepResult struct {
	fm, imp, fnm, gen      int
	enrolRefused           int            // pairs whose enrolment photo was refused
	refusedGen, refusedImp map[Reason]int // verifications refused, by reason
}

func (r sweepResult) refusals(m map[Reason]int) string {
	var ks []string
	for k, n := range m {
		ks = append(ks, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ks)
	return "[" + strings.Join(ks, ", ") + "]"
}

func (r sweepResult) String() string {
	return fmt.Sprintf("FMR %v; FNMR %v; pairs with the enrolment photo refused: %d; genuine refused %d %s, impostor refused %d %s",
		eval.NewRate(r.fm, r.imp), eval.NewRate(r.fnm, r.gen), r.enrolRefused,
		sum(r.refusedGen), r.refusals(r.refusedGen), sum(r.refusedImp), r.refusals(r.refusedImp))
}

// sweep runs pairs through the full public path on a kiosk: each distinct
// enrolment photo is enrolled once (Issuer.Enroll: quality gate, model,
// template, sign, seal), then every pair is a Verify (unseal, open,
// consent, durable state, capture gate, comparison, audit). The lockout
// window is one second and the clock moves two seconds a call, so
// impostor pairs do not lock references (lockout is tested elsewhere).
func sweep(t *testing.T, k *kiosk, read func(string) []byte, pairs []pair) sweepResult {
	t.Helper()
	ctx := context.Background()
	refs := map[string]*Enrollment{}
	res := sweepResult{refusedGen: map[Reason]int{}, refusedImp: map[Reason]int{}}
	for _, p := range pairs {
		enr, seen := refs[p.a]
		if !seen {
			var err error
			enr, err = k.issuer.Enroll(ctx, EnrollRequest{SubjectID: p.a, Photos: [][]byte{read(p.a)},
				Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}})
			if err != nil && !errors.Is(err, ErrQuality) {
				t.Fatal(err)
			}
			refs[p.a] = enr
		}
		if enr == nil {
			res.enrolRefused++
			continue
		}
		dec, err := k.verifier.Verify(ctx, k.request(enr.Reference, read(p.b)))
		if err != nil {
			t.Fatal(err)
		}
		k.advance(2 * time.Second)
		switch {
		case dec.Refused && p.same:
			res.refusedGen[dec.Reasons[0].Code]++
		case dec.Refused:
			res.refusedImp[dec.Reasons[0].Code]++
		case p.same:
			res.gen++
			if !dec.Match {
				res.fnm++
			}
		default:
			res.imp++
			if dec.Match {
				res.fm++
			}
		}
	}
	return res
}

// sweepKiosk is a kiosk at the default policy (FMR 1e-3, default capture
// gates) on engine e, with the memo in front of the engine.
func sweepKiosk(t *testing.T, e *Engine, mem *memo) *kiosk {
	k := newKioskOn(t, e, nil, Policy{LockoutWindow: time.Second, ExposeDistance: true})
	k.verifier.analyze = mem.analyze
	k.verifier.c.vector = mem.vector
	return k
}

func lfwDevPairs(t *testing.T) []pair {
	f, err := os.Open(filepath.Join(testenv.LFWDir(t), "pairs-deepfunneled.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ps []pair
	for _, row := range rows[1:] {
		ps = append(ps, pair{row[0], row[1], row[2] == "1"})
	}
	return ps
}

// spoofDevPairs are spoof-dev's live frames (ClientRaw), every session-01
// frame enrolled against every session-02 frame: the kiosk-camera
// cross-session population of internal/calib.
func spoofDevPairs(t *testing.T) (string, []pair) {
	dir := filepath.Join(testenv.FacesDir(), "spoof-dev")
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		testenv.Missing(t, "spoof-dev", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type frame struct{ file, subject string }
	var s1, s2 []frame
	for _, r := range rows[1:] {
		if r[1] != "live" {
			continue
		}
		switch r[4] {
		case "01":
			s1 = append(s1, frame{r[0], r[3]})
		case "02":
			s2 = append(s2, frame{r[0], r[3]})
		}
	}
	var ps []pair
	for _, a := range s1 {
		for _, b := range s2 {
			ps = append(ps, pair{a.file, b.file, a.subject == b.subject})
		}
	}
	return dir, ps
}

// TestDevSetsFullPath runs the LFW dev pairs (600, deep-funneled) and
// spoof-dev's live cross-session pairs through the full public path —
// enrol, seal, open, Verify — with each model at the default policy (FMR
// 1e-3), and prints FMR, FNMR and refusals with counts and 95 % CIs. The
// measured FMR must stay within what the calibration claims: no more than
// one false match in LFW's ~300 impostor pairs, and on spoof-dev (the
// population that set both models' thresholds) at most 1e-3 of its
// impostor comparisons, up to the int8/float16 template rounding (a few
// decisions at most; internal/embed TestQuantisation).
//
//	go test -count=1 -timeout 30m -run TestDevSetsFullPath -v ./verify
func TestDevSetsFullPath(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of enrolments and verifications")
	}
	shared := realEngine(t)
	mem := newMemo(shared)
	lfw := lfwDevPairs(t)
	spoofDir, spoof := spoofDevPairs(t)
	readSpoof := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(spoofDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	readLFW := func(rel string) []byte { return testenv.ReadLFW(t, rel) }
	for _, e := range []*Engine{shared, dlibView(shared)} {
		m := e.Model()
		for _, pop := range []struct {
			name  string
			read  func(string) []byte
			pairs []pair
		}{{"lfw-dev", readLFW, lfw}, {"spoof-dev-live", readSpoof, spoof}} {
			t.Run(string(m)+"/"+pop.name, func(t *testing.T) {
				k := sweepKiosk(t, e, mem)
				r := sweep(t, k, pop.read, pop.pairs)
				th := k.verifier.thresholds[e.ModelID()][1]
				t.Logf("%s, %s, threshold %.4f (1 photo, FMR 1e-3): %v", m, pop.name, th, r)
				if r.imp == 0 || r.gen == 0 {
					t.Fatal("no comparisons")
				}
				allowed := max(1, int(math.Floor(1e-3*float64(r.imp))))
				if pop.name == "spoof-dev-live" {
					allowed += 2 // template rounding
				}
				if r.fm > allowed {
					t.Errorf("%d false matches in %d impostor comparisons, calibration allows %d", r.fm, r.imp, allowed)
				}
				n, err := audit.ReadEntries(k.logDir)
				want := r.gen + r.imp + sum(r.refusedGen) + sum(r.refusedImp)
				if err != nil || int(k.decisions()) != want {
					t.Fatalf("audit log: %d decisions, want %d (%d entries, %v)", k.decisions(), want, len(n), err)
				}
			})
		}
	}
}

// TestMemoMatchesEngine: the memo used by the sweeps gives the decisions
// and distances of the uncached path, and both equal the distance
// computed beside the verifier (subjectVector) within the template's
// rounding, for each model. (With dlib's spoof-dev-calibrated threshold,
// 0.4205, Abel Pacheco's second photo does not match his first: 0.532.)
func TestMemoMatchesEngine(t *testing.T) {
	shared := realEngine(t)
	mem := newMemo(shared)
	for _, e := range []*Engine{shared, dlibView(shared)} {
		m := e.Model()
		t.Run(string(m), func(t *testing.T) {
			plain := newKioskOn(t, e, nil, Policy{ExposeDistance: true})
			cached := sweepKiosk(t, e, mem)
			enrolled := subjectVector(t, shared, m, testenv.ReadLFW(t, abel1))
			for _, k := range []*kiosk{plain, cached, cached} { // the second cached run hits the memo
				enr := k.enroll(t, abel1)
				for _, probe := range []string{abel4, akhmed} {
					live := testenv.ReadLFW(t, probe)
					d, err := k.verifier.Verify(context.Background(), k.request(enr.Reference, live))
					if err != nil || d.Refused {
						t.Fatalf("%s: %+v %v", probe, d, err)
					}
					direct := distance(m, enrolled, subjectVector(t, shared, m, live))
					if math.Abs(d.Distance-direct) > 2e-3 || d.Match != (d.Distance < d.Threshold) || (d.Match && probe != abel4) {
						t.Errorf("%s: distance %.5f (threshold %.4f, match %v), beside the verifier %.5f", probe, d.Distance, d.Threshold, d.Match, direct)
					}
				}
			}
		})
	}
}

// twoModels is a kiosk on the shared engine (both models loaded) with an
// issuer for each model.
type twoModels struct {
	k              *kiosk
	arcID, dlibID  ModelID
	dlibIssuer     *Issuer
	openerBoth     *Opener
	arcRef, dlbRef *Enrollment
}

func newTwoModels(t *testing.T, policy Policy) *twoModels {
	t.Helper()
	shared := realEngine(t)
	k := newKioskOn(t, shared, nil, policy)
	tm := &twoModels{k: k}
	var ok bool
	if tm.arcID, ok = shared.ModelIDFor(ModelArcFace); !ok || tm.arcID != shared.ModelID() {
		t.Fatal("the default engine does not run the embedding by default")
	}
	tm.dlibID, _ = shared.ModelIDFor(ModelDlib)
	is, err := NewIssuer(IssuerConfig{Key: k.d.issuer, Secret: k.d.secret, Engine: dlibView(shared), Clock: k.clock, MinFacePixels: 60})
	if err != nil {
		t.Fatal(err)
	}
	tm.dlibIssuer = is
	if tm.openerBoth, err = NewOpener(OpenerConfig{Issuers: []*IssuerPublicKey{k.d.issuer.Public()}, Keys: []*VerifierKey{k.d.verifier},
		Secret: k.d.secret, ModelID: tm.arcID, ModelIDs: []ModelID{tm.dlibID}, Clock: k.clock}); err != nil {
		t.Fatal(err)
	}
	tm.arcRef = k.enroll(t, abel1)
	if tm.dlbRef, err = is.Enroll(context.Background(), EnrollRequest{SubjectID: "s-dlib", Photos: [][]byte{testenv.ReadLFW(t, abel1)},
		Purposes: []string{"door-main"}, Verifiers: []*VerifierRecipient{k.d.verifier.Recipient()}}); err != nil {
		t.Fatal(err)
	}
	return tm
}

// verifier is a further verifier on the kiosk's state and log.
func (tm *twoModels) verifier(o *Opener, p Policy, siteCal []byte, siteKey string) (*Verifier, error) {
	k := tm.k
	p.Notices = map[string][32]byte{"notice-1": NoticeHash(noticeText)}
	p.Liveness, p.UnsealPerMinute, p.ExposeDistance = LivenessNone, 1<<20, true
	return New(VerifierConfig{Engine: k.engine, Opener: o, Audit: k.log, State: k.state, KioskKey: k.kioskKey, Policy: p, Clock: k.clock,
		SiteCalibration: siteCal, SiteKey: siteKey})
}

// lastModel is the model ID of the last audit entry.
func (tm *twoModels) lastModel(t *testing.T) string {
	r, err := audit.ParseRecord(must(tm.k.log.Entry(tm.k.log.Size() - 1)))
	if err != nil {
		t.Fatal(err)
	}
	return r.Entry.ModelID
}

// TestModelSelection: the default verifier compares under the embedding
// only; a dlib reference is refused as another model — by the opener when
// it does not accept dlib's ID, by the policy when the opener does but
// Policy.Models leaves dlib out — and that refusal does not count as a
// failed attempt. A verifier listing both models compares each reference
// under its own model, metric and threshold, and audits that model.
func TestModelSelection(t *testing.T) {
	tm := newTwoModels(t, Policy{MaxFailures: 1})
	k, ctx := tm.k, context.Background()
	abel := testenv.ReadLFW(t, abel1)

	d, err := k.verifier.Verify(ctx, k.request(tm.dlbRef.Reference, abel))
	if err != nil || !d.Refused || d.Reasons[0].Code != ReasonReferenceModel {
		t.Fatalf("dlib reference, arcface-only opener: %+v %v", d, err)
	}
	arcOnly, err := tm.verifier(tm.openerBoth, Policy{MaxFailures: 1}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // MaxFailures 1: a counted attempt would lock the reference
		d, err := arcOnly.Verify(ctx, k.request(tm.dlbRef.Reference, abel))
		if err != nil || !d.Refused || d.Reasons[0].Code != ReasonReferenceModel {
			t.Fatalf("dlib reference, policy without dlib: %+v %v", d, err)
		}
		if got := tm.lastModel(t); got != tm.dlibID.String() {
			t.Fatalf("refusal audited under model %s, want the reference's %s", got, tm.dlibID)
		}
	}
	both, err := tm.verifier(tm.openerBoth, Policy{MaxFailures: 1, Models: []Model{ModelArcFace, ModelDlib}}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		enr   *Enrollment
		probe []byte
		id    ModelID
	}{{tm.dlbRef, abel, tm.dlibID}, {tm.arcRef, testenv.ReadLFW(t, abel4), tm.arcID}} {
		d, err := both.Verify(ctx, k.request(c.enr.Reference, c.probe))
		if err != nil || !d.Match {
			t.Fatalf("model %s: %+v %v", c.id, d, err)
		}
		if d.Threshold != both.thresholds[c.id][1] || tm.lastModel(t) != c.id.String() {
			t.Fatalf("model %s: threshold %v (want %v), audited under %s", c.id, d.Threshold, both.thresholds[c.id][1], tm.lastModel(t))
		}
		t.Logf("model %s: distance %.4f < threshold %.4f", c.id, d.Distance, d.Threshold)
	}
	if both.thresholds[tm.dlibID][1] == both.thresholds[tm.arcID][1] {
		t.Fatal("one threshold for two metrics")
	}

	// Configurations that cannot be honoured.
	dlibOnly := dlibView(k.engine)
	for name, f := range map[string]func() error{
		"embedding on a dlib-only engine": func() error {
			_, err := New(VerifierConfig{Engine: dlibOnly, Opener: tm.openerBoth, Audit: k.log, State: k.state, KioskKey: k.kioskKey,
				Policy: Policy{Notices: map[string][32]byte{"n": NoticeHash("x")}, Liveness: LivenessNone, Models: []Model{ModelArcFace}}})
			return err
		},
		"dlib, opener without its ID": func() error {
			_, err := tm.verifier(k.verifier.c.Opener, Policy{Models: []Model{ModelDlib}}, nil, "")
			return err
		},
		"unknown model": func() error {
			_, err := tm.verifier(tm.openerBoth, Policy{Models: []Model{"facenet"}}, nil, "")
			return err
		},
	} {
		if err := f(); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := OpenEngine(testenv.ModelDir(), EngineOptions{Model: "facenet"}); err == nil {
		t.Error("OpenEngine accepted an unknown model")
	}
}

// siteFile signs a site calibration for model id at FMR 1e-3 whose
// one-photo threshold is the shipped one minus tighten (4 decimals).
func siteFile(t *testing.T, skey string, id ModelID, shipped, tighten float64) []byte {
	t.Helper()
	th := math.Round((shipped-tighten)*1e4) / 1e4
	b, err := site.Sign(&site.Calibration{Site: "door-test", ModelID: id.String(), TargetFMR: 1e-3, Points: []site.Point{{
		Photos: 1, Threshold: th, Shipped: shipped, FMR: calib.Rate{Trials: 5041}, FNMR: calib.Rate{Trials: 657}, Supported: true}}}, skey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSiteCalibration: a signed site calibration replaces its model's
// thresholds by its own stricter ones and its SHA-256 is in the
// configuration audit entry; enrolment counts it did not measure are
// refused as uncalibrated. Attacks on the file — another signer, a looser
// threshold signed by the right key, another model or target — stop New.
func TestSiteCalibration(t *testing.T) {
	tm := newTwoModels(t, Policy{})
	k, ctx := tm.k, context.Background()
	skey, vkey, err := note.GenerateKey(nil, "door-test")
	if err != nil {
		t.Fatal(err)
	}
	shipped := k.verifier.thresholds[tm.arcID][1]
	good := siteFile(t, skey, tm.arcID, shipped, 0.05)
	v, err := tm.verifier(k.verifier.c.Opener, Policy{}, good, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.thresholds[tm.arcID]; len(got) != 1 || got[1] != math.Round((shipped-0.05)*1e4)/1e4 {
		t.Fatalf("thresholds under the site calibration: %v (shipped %v)", got, shipped)
	}
	r, err := audit.ParseRecord(must(k.log.Entry(k.log.Size() - 1)))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := r.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(good); !bytes.Equal(pol.SiteCalibration, want[:]) {
		t.Fatalf("configuration entry records site calibration %x, want %x", pol.SiteCalibration, want)
	}
	if d, err := v.Verify(ctx, k.request(tm.arcRef.Reference, testenv.ReadLFW(t, abel4))); err != nil || d.Refused || d.Threshold != v.thresholds[tm.arcID][1] {
		t.Fatalf("one-photo reference under the site calibration: %+v %v", d, err)
	}
	two := k.enroll(t, abel1, "lfw-deepfunneled/Abel_Pacheco/Abel_Pacheco_0002.jpg")
	if d, err := v.Verify(ctx, k.request(two.Reference, testenv.ReadLFW(t, abel4))); err != nil || !d.Refused || d.Reasons[0].Code != ReasonReferenceUncalibrated {
		t.Fatalf("two-photo reference, site measured one: %+v %v", d, err)
	}
	// Without a site calibration the configuration entry says so.
	if r, _ := audit.ParseRecord(must(k.log.Entry(0))); r != nil {
		if p, err := r.Policy(); err != nil || p.SiteCalibration != nil {
			t.Fatalf("first configuration entry: %+v %v", p, err)
		}
	}

	otherKey, _, _ := note.GenerateKey(nil, "door-test")
	looser := func() []byte { // the right key, a threshold above the shipped one
		text := fmt.Sprintf("oneface site calibration v1\nsite door-test\nmodel %s\ntarget-fmr 0.001\nphotos 1 threshold %s shipped %s fmr 0 5041 fnmr 0 657 supported yes\n",
			tm.arcID, strconv.FormatFloat(shipped+0.1, 'f', -1, 64), strconv.FormatFloat(shipped, 'f', -1, 64))
		s, _ := note.NewSigner(skey)
		b, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	both, err := tm.verifier(tm.openerBoth, Policy{Models: []Model{ModelArcFace, ModelDlib}}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	forDlib := siteFile(t, skey, tm.dlibID, both.thresholds[tm.dlibID][1], 0.01)
	for name, c := range map[string]struct {
		file   []byte
		key    string
		policy Policy
	}{
		"another signer":             {siteFile(t, otherKey, tm.arcID, shipped, 0.05), vkey, Policy{}},
		"looser, signed":             {looser, vkey, Policy{}},
		"another model":              {forDlib, vkey, Policy{}},
		"two models, one site check": {good, vkey, Policy{Models: []Model{ModelArcFace, ModelDlib}}},
		"another target FMR":         {good, vkey, Policy{TargetFMR: 1e-2}},
		"truncated":                  {good[:len(good)-10], vkey, Policy{}},
		"no key":                     {good, "", Policy{}},
	} {
		o := k.verifier.c.Opener
		if len(c.policy.Models) == 2 {
			o = tm.openerBoth
		}
		if _, err := tm.verifier(o, c.policy, c.file, c.key); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestOpenEngineModels: a model directory without the embedding network
// opens for dlib alone, and the default engine refuses it as a model-file
// error (never falling back to dlib silently).
func TestOpenEngineModels(t *testing.T) {
	realEngine(t) // skips when the models are absent
	dir := t.TempDir()
	for _, p := range facerec.Pins() {
		if err := os.Symlink(filepath.Join(testenv.ModelDir(), p.File), filepath.Join(dir, p.File)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenEngine(dir, EngineOptions{}); !errors.Is(err, ErrModelFiles) {
		t.Fatalf("default engine without fr_feature.onnx: %v", err)
	}
	e, err := OpenEngine(dir, EngineOptions{Model: ModelDlib, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	shared, _ := realEngine(t).ModelIDFor(ModelDlib)
	if _, ok := e.ModelIDFor(ModelArcFace); ok || e.Model() != ModelDlib || e.ModelID() != shared {
		t.Fatalf("dlib-only engine: model %s, ID %s", e.Model(), e.ModelID())
	}
}
