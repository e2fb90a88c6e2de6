package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/facerec"
)

// AuditLog is where decisions are recorded before they are returned;
// *audit.Log implements it. Append must return only once the entry is
// durable.
type AuditLog interface {
	Append(ctx context.Context, e audit.Entry, p *audit.Personal) (audit.Appended, error)
}

// Liveness selects the presentation-attack check.
type Liveness string

// Liveness modes. Only LivenessNone exists yet: a verifier without
// liveness accepts a good photo of the holder, and the policy says so
// ([Policy.Liveness] must be set explicitly). Challenge-response (blink,
// head turn) and passive detection over the frame sequence will plug in
// between the quality gate and the comparison.
const LivenessNone Liveness = "none"

// Policy is a verifier's security settings. Zero fields take the defaults
// in brackets.
type Policy struct {
	// TargetFMR is the false-match rate the threshold is chosen for, from
	// the calibration table of the engine's model [1e-3]. A target the
	// table does not support makes New fail.
	TargetFMR float64
	// Notices maps the privacy-notice versions this kiosk shows to the
	// SHA-256 of their text; consent must name one and its hash.
	Notices map[string][32]byte
	// ConsentMaxAge is how old a consent may be [2 minutes].
	ConsentMaxAge time.Duration
	// MaxFailures no-match decisions for one reference within
	// LockoutWindow lock it out [5 within 15 minutes].
	MaxFailures   int
	LockoutWindow time.Duration
	// MaxFrames per request [10].
	MaxFrames int
	// Capture quality limits [72 px wide; sharpness 15; brightness
	// 40..220; |yaw| 0.5 eye distances].
	MinFacePixels                int
	MinSharpness                 float64
	MinBrightness, MaxBrightness float64
	MaxYaw                       float64
	// Liveness must be set; only LivenessNone is available yet.
	Liveness Liveness
	// ExposeDistance adds the raw distance to decisions (calibration and
	// debugging only: a score gives an attacker a gradient to climb).
	ExposeDistance bool
}

func (p Policy) withDefaults() Policy {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.TargetFMR, 1e-3)
	def(&p.MinSharpness, 15)
	def(&p.MinBrightness, 40)
	def(&p.MaxBrightness, 220)
	def(&p.MaxYaw, 0.5)
	if p.ConsentMaxAge == 0 {
		p.ConsentMaxAge = 2 * time.Minute
	}
	if p.MaxFailures == 0 {
		p.MaxFailures = 5
	}
	if p.LockoutWindow == 0 {
		p.LockoutWindow = 15 * time.Minute
	}
	if p.MaxFrames == 0 {
		p.MaxFrames = 10
	}
	if p.MinFacePixels == 0 {
		p.MinFacePixels = 72
	}
	return p
}

// Consent is a person's explicit consent, collected by the kiosk before
// any biometric processing.
type Consent struct {
	Purpose       string    // what the verification is for; must equal the request's
	NoticeVersion string    // the privacy notice shown (a token, e.g. "door-2026-11")
	NoticeHash    [32]byte  // SHA-256 of the notice text shown
	Nonce         [16]byte  // fresh random value from the consent screen; never reused
	GivenAt       time.Time // when the person consented
}

// ConsentReceipt binds a consent to the reference it was used with. The
// audit receipt in the same Decision proves it was recorded.
type ConsentReceipt struct {
	ReferenceID ReferenceID
	Purpose     string
	NoticeHash  [32]byte
	Nonce       [16]byte
	GivenAt     time.Time
}

// Request is one verification.
type Request struct {
	Reference []byte   // binary or text form, as presented
	PIN       string   // for PIN-protected references
	Frames    [][]byte // 1..MaxFrames live JPEG/PNG frames, in capture order
	Consent   *Consent
	Purpose   string
}

// FrameReason explains a decision: a stable machine-readable code, whether
// the person should simply try again (retry) or the attempt cannot succeed
// as it is (reject), and which frame it concerns (-1 for the request).
type FrameReason struct {
	Code  Reason
	Retry bool
	Frame int
}

// Decision is the outcome of a verification.
type Decision struct {
	// Match is true only when the live face matched the reference.
	Match bool
	// Refused is true when no comparison was made (reference, consent,
	// lockout, capture quality); Reasons say why.
	Refused bool
	Reasons []FrameReason
	// ReferenceID of the opened reference (zero if it did not open).
	ReferenceID ReferenceID
	// Receipt is the audit receipt of this decision, for the person.
	Receipt []byte
	// Consent binds the consent used to the reference (nil if refused
	// before consent was checked).
	Consent *ConsentReceipt
	// Distance and Threshold are set only under Policy.ExposeDistance.
	Distance, Threshold float64
}

// Verification reason codes, beyond the enrolment ones. Do NOT rename:
// they are recorded in audit logs.
const (
	ReasonOK                    Reason = "ok"
	ReasonNoMatch               Reason = "no_match"
	ReasonReferenceMalformed    Reason = "reference_malformed"
	ReasonReferenceAuth         Reason = "reference_authentication"
	ReasonReferencePINRequired  Reason = "reference_pin_required"
	ReasonReferenceUntrusted    Reason = "reference_untrusted_issuer"
	ReasonReferenceExpired      Reason = "reference_expired"
	ReasonReferenceNotYetValid  Reason = "reference_not_yet_valid"
	ReasonReferenceRevoked      Reason = "reference_revoked"
	ReasonReferenceModel        Reason = "reference_model_mismatch"
	ReasonReferencePurpose      Reason = "reference_purpose"
	ReasonReferenceUncalibrated Reason = "reference_uncalibrated"
	ReasonConsentMissing        Reason = "consent_missing"
	ReasonConsentPurpose        Reason = "consent_purpose"
	ReasonConsentNotice         Reason = "consent_notice"
	ReasonConsentStale          Reason = "consent_stale"
	ReasonConsentReplayed       Reason = "consent_replayed"
	ReasonLockedOut             Reason = "locked_out"
	ReasonNoFrames              Reason = "no_frames"
	ReasonTooManyFrames         Reason = "too_many_frames"
	ReasonBlurry                Reason = "blurry"
	ReasonExposure              Reason = "bad_exposure"
	ReasonPose                  Reason = "pose"
)

// VerifierConfig configures [New].
type VerifierConfig struct {
	Engine *Engine
	Opener *Opener
	Audit  AuditLog
	Policy Policy
	Clock  func() time.Time // default time.Now
	Logger *slog.Logger
	calib  *calib.Table // tests
	onWipe func(owned [][]float32)
}

// Verifier makes consented 1:1 decisions. It is safe for concurrent use.
type Verifier struct {
	c          VerifierConfig
	p          Policy
	thresholds map[int]float64 // by enrolment photo count
	log        *slog.Logger

	mu       sync.Mutex
	nonces   map[[16]byte]time.Time
	failures map[ReferenceID][]time.Time
	revoked  RevocationSet
}

// ErrPolicy is returned by New for a policy it cannot honour.
var ErrPolicy = errors.New("verify: policy cannot be honoured")

// New checks the configuration, takes the thresholds for the policy's
// target FMR from the calibration table of the engine's model, and returns
// a Verifier.
func New(c VerifierConfig) (*Verifier, error) {
	if c.Engine == nil || c.Opener == nil || c.Audit == nil {
		return nil, errors.New("verify: a verifier needs an engine, an opener and an audit log")
	}
	p := c.Policy.withDefaults()
	if p.Liveness != LivenessNone {
		return nil, fmt.Errorf("%w: liveness %q is not available (set Liveness: LivenessNone explicitly to accept photos of the holder)", ErrPolicy, p.Liveness)
	}
	if len(p.Notices) == 0 {
		return nil, fmt.Errorf("%w: no privacy notice: consent cannot be checked", ErrPolicy)
	}
	if c.Opener.model != c.Engine.ModelID() {
		return nil, fmt.Errorf("%w: opener expects model %s, engine runs %s", ErrPolicy, c.Opener.model, c.Engine.ModelID())
	}
	tab := c.calib
	if tab == nil {
		var err error
		if tab, err = calib.Load(); err != nil {
			return nil, err
		}
	}
	v := &Verifier{c: c, p: p, thresholds: map[int]float64{}, nonces: map[[16]byte]time.Time{},
		failures: map[ReferenceID][]time.Time{}, revoked: RevocationSet{}}
	for photos := 1; photos <= maxEnrollPhotos; photos++ {
		e, err := tab.Lookup(c.Engine.ModelID().String(), photos, p.TargetFMR)
		switch {
		case err == nil:
			v.thresholds[photos] = e.Threshold
		case errors.Is(err, calib.ErrUnsupported):
			return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
		}
	}
	if _, ok := v.thresholds[1]; !ok {
		return nil, fmt.Errorf("%w: model %s is not calibrated", ErrPolicy, c.Engine.ModelID())
	}
	if v.c.Clock == nil {
		v.c.Clock = time.Now
	}
	v.log = c.Logger
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	return v, nil
}

func (v *Verifier) withdrawn(id ReferenceID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.revoked.Revoked(id)
}

var openReasons = []struct {
	err    error
	reason Reason
	retry  bool
}{
	{ErrPINRequired, ReasonReferencePINRequired, true},
	{ErrAuthentication, ReasonReferenceAuth, false},
	{ErrUntrustedIssuer, ReasonReferenceUntrusted, false},
	{ErrExpired, ReasonReferenceExpired, false},
	{ErrNotYetValid, ReasonReferenceNotYetValid, false},
	{ErrRevoked, ReasonReferenceRevoked, false},
	{ErrModelMismatch, ReasonReferenceModel, false},
	{ErrPurpose, ReasonReferencePurpose, false},
	{ErrMalformed, ReasonReferenceMalformed, false},
	{ErrTooLarge, ReasonReferenceMalformed, false},
}

// Verify runs the pipeline — reference, consent, lockout, capture quality,
// comparison at the calibrated threshold — records the outcome in the
// audit log, wipes the live data it owns, and returns the decision.
//
// It returns an error, and never a match, when no decision could be made:
// the audit entry could not be made durable, the context ended, or the
// engine failed. Refusals are decisions (Refused, with Reasons), and are
// audited too.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Decision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := v.c.Clock()
	d := &Decision{}
	entry := audit.Entry{Time: now, Kind: audit.KindVerify, Purpose: tokenOr(req.Purpose), Decision: audit.DecisionRefused, ModelID: v.c.Engine.ModelID().String()}

	// 1. The reference, with all its checks.
	r, err := v.c.Opener.Open(req.Reference, req.Purpose, req.PIN)
	if err != nil {
		for _, o := range openReasons {
			if errors.Is(err, o.err) {
				return v.refuse(ctx, d, entry, nil, FrameReason{o.reason, o.retry, -1})
			}
		}
		return nil, err
	}
	defer r.Wipe()
	if v.withdrawn(r.ID()) {
		return v.refuse(ctx, d, entry, nil, FrameReason{ReasonReferenceRevoked, false, -1})
	}
	d.ReferenceID = r.ID()
	personal := &audit.Personal{ReferenceID: r.ID(), Subject: r.Subject(), Notice: "-"}

	// 2. Consent: no biometric processing without it.
	if reason := v.checkConsent(req, now); reason != "" {
		if req.Consent != nil {
			personal.ConsentID = req.Consent.Nonce
		}
		return v.refuse(ctx, d, entry, personal, FrameReason{reason, reason == ReasonConsentStale || reason == ReasonConsentMissing, -1})
	}
	c := req.Consent
	personal.ConsentID, personal.Notice = c.Nonce, c.NoticeVersion
	d.Consent = &ConsentReceipt{ReferenceID: r.ID(), Purpose: c.Purpose, NoticeHash: c.NoticeHash, Nonce: c.Nonce, GivenAt: c.GivenAt}

	// 3. Lockout.
	if v.lockedOut(r.ID(), now) {
		return v.refuse(ctx, d, entry, personal, FrameReason{ReasonLockedOut, false, -1})
	}
	threshold, ok := v.thresholds[r.EnrollQuality().Photos]
	if !ok {
		return v.refuse(ctx, d, entry, personal, FrameReason{ReasonReferenceUncalibrated, false, -1})
	}

	// 4. Capture quality, frame by frame; 5. the subject's descriptor.
	live, reasons, err := v.bestFrame(ctx, req.Frames)
	var owned [][]float32
	if live != nil {
		owned = append(owned, live.Descriptor[:])
	}
	for i := range r.descs {
		owned = append(owned, r.descs[i][:])
	}
	defer func() {
		if v.c.onWipe != nil {
			v.c.onWipe(owned)
		}
		for _, o := range owned {
			clear(o)
		}
	}()
	if err != nil {
		return nil, err
	}
	if live == nil {
		return v.refuse(ctx, d, entry, personal, reasons...)
	}

	// 6. Distance at the calibrated threshold.
	dist := r.distance(&live.Descriptor)
	match := dist < threshold
	if v.p.ExposeDistance {
		d.Distance, d.Threshold = dist, threshold
	}
	d.Reasons = reasons // retry notes about frames that were skipped
	entry.Reason = string(ReasonNoMatch)
	entry.Decision = audit.DecisionNoMatch
	if match {
		entry.Reason, entry.Decision = string(ReasonOK), audit.DecisionMatch
	}

	// 7. Audit, fail closed.
	a, err := v.c.Audit.Append(ctx, entry, personal)
	if err != nil {
		return nil, fmt.Errorf("verify: decision not recorded, so not given: %w", err)
	}
	v.recordOutcome(r.ID(), match, now)
	d.Match, d.Receipt = match, a.Receipt
	if match {
		d.Reasons = append(d.Reasons, FrameReason{ReasonOK, false, -1})
	} else {
		d.Reasons = append(d.Reasons, FrameReason{ReasonNoMatch, true, -1})
	}
	return d, nil
}

func tokenOr(s string) string {
	if s == "" || len(s) > 64 {
		return "-"
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':' || c == '/') {
			return "-"
		}
	}
	return s
}

// refuse records a refusal and returns it as the decision.
func (v *Verifier) refuse(ctx context.Context, d *Decision, e audit.Entry, p *audit.Personal, reasons ...FrameReason) (*Decision, error) {
	e.Decision = audit.DecisionRefused
	e.Reason = string(reasons[0].Code)
	a, err := v.c.Audit.Append(ctx, e, p)
	if err != nil {
		return nil, fmt.Errorf("verify: refusal not recorded: %w", err)
	}
	d.Refused, d.Reasons, d.Receipt = true, reasons, a.Receipt
	return d, nil
}

func (v *Verifier) checkConsent(req Request, now time.Time) Reason {
	c := req.Consent
	if c == nil {
		return ReasonConsentMissing
	}
	if c.Purpose != req.Purpose {
		return ReasonConsentPurpose
	}
	if h, ok := v.p.Notices[c.NoticeVersion]; !ok || h != c.NoticeHash {
		return ReasonConsentNotice
	}
	if c.GivenAt.After(now.Add(ClockSkew)) || now.Sub(c.GivenAt) > v.p.ConsentMaxAge {
		return ReasonConsentStale
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for n, t := range v.nonces { // forget nonces too old to be accepted anyway
		if now.Sub(t) > v.p.ConsentMaxAge+ClockSkew {
			delete(v.nonces, n)
		}
	}
	if _, seen := v.nonces[c.Nonce]; seen {
		return ReasonConsentReplayed
	}
	v.nonces[c.Nonce] = c.GivenAt
	return ""
}

func (v *Verifier) lockedOut(id ReferenceID, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	var recent []time.Time
	for _, t := range v.failures[id] {
		if now.Sub(t) < v.p.LockoutWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(v.failures, id)
	} else {
		v.failures[id] = recent
	}
	return len(recent) >= v.p.MaxFailures
}

func (v *Verifier) recordOutcome(id ReferenceID, match bool, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if match {
		delete(v.failures, id)
	} else {
		v.failures[id] = append(v.failures[id], now)
	}
}

// bestFrame runs the quality gate on every frame and returns the good
// frame with the largest face, or the reasons no frame was good. A single
// comparison keeps the decision at the calibrated false-match rate (the
// minimum over several frames would multiply it); the other frames are
// where liveness will look.
func (v *Verifier) bestFrame(ctx context.Context, frames [][]byte) (*facerec.Face, []FrameReason, error) {
	switch {
	case len(frames) == 0:
		return nil, []FrameReason{{ReasonNoFrames, true, -1}}, nil
	case len(frames) > v.p.MaxFrames:
		return nil, []FrameReason{{ReasonTooManyFrames, false, -1}}, nil
	}
	var best *facerec.Face
	var reasons []FrameReason
	for i, fr := range frames {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		a, err := v.c.Engine.e.Analyze(ctx, facerec.Bytes(fr))
		switch {
		case errors.Is(err, facerec.ErrCorruptImage), errors.Is(err, facerec.ErrTooLarge), errors.Is(err, facerec.ErrUnsupportedFormat):
			reasons = append(reasons, FrameReason{ReasonUnreadable, false, i})
			continue
		case err != nil:
			return nil, nil, err
		}
		f, err := a.Single()
		switch {
		case errors.Is(err, facerec.ErrNoFace):
			reasons = append(reasons, FrameReason{ReasonNoFace, true, i})
			continue
		case errors.Is(err, facerec.ErrMultipleFaces):
			reasons = append(reasons, FrameReason{ReasonMultipleFaces, true, i})
			continue
		}
		q := f.Quality
		switch {
		case f.Box.Dx() < v.p.MinFacePixels:
			reasons = append(reasons, FrameReason{ReasonFaceTooSmall, true, i})
		case q.Sharpness < v.p.MinSharpness:
			reasons = append(reasons, FrameReason{ReasonBlurry, true, i})
		case q.Brightness < v.p.MinBrightness || q.Brightness > v.p.MaxBrightness:
			reasons = append(reasons, FrameReason{ReasonExposure, true, i})
		case !math.IsNaN(q.Yaw) && math.Abs(q.Yaw) > v.p.MaxYaw:
			reasons = append(reasons, FrameReason{ReasonPose, true, i})
		default:
			if best == nil || f.Box.Dx() > best.Box.Dx() {
				if best != nil {
					clear(best.Descriptor[:])
				}
				fc := f
				best = &fc
				continue
			}
		}
		clear(f.Descriptor[:])
	}
	return best, reasons, nil
}

// WithdrawConsent records that the holder of a reference withdrew consent
// and revokes the reference on this verifier (keep a persistent
// revocation list too: this one lives as long as the Verifier). The
// holder's audit entries can then be erased with audit.Log.Erase.
func (v *Verifier) WithdrawConsent(ctx context.Context, id ReferenceID, subject Pseudonym) error {
	_, err := v.c.Audit.Append(ctx, audit.Entry{Kind: audit.KindConsentWithdrawn, Purpose: "-", Decision: audit.DecisionNone,
		Reason: "holder_request", ModelID: "-"}, &audit.Personal{ReferenceID: id, Subject: subject, Notice: "-"})
	if err != nil {
		return fmt.Errorf("verify: withdrawal not recorded: %w", err)
	}
	v.mu.Lock()
	v.revoked[id] = struct{}{}
	v.mu.Unlock()
	return nil
}

// NoticeHash is the SHA-256 of a privacy notice's text, for [Policy].Notices
// and [Consent].NoticeHash.
func NoticeHash(text string) [32]byte { return sha256.Sum256([]byte(text)) }
