package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/ref"
	"github.com/oneface/oneface/internal/state"
)

// AuditLog is where decisions are recorded before they are returned;
// *audit.Log implements it. Append and AppendConfig must return only once
// the entry is durable.
type AuditLog interface {
	Append(ctx context.Context, e audit.Entry, p *audit.Personal) (audit.Appended, error)
	// AppendConfig records the verifier's policy at start-up (see [New]).
	AppendConfig(ctx context.Context, p audit.PolicySummary) (audit.Appended, error)
}

// Liveness selects the presentation-attack check.
type Liveness string

// LivenessNone: no liveness check. A verifier without liveness accepts a
// good photo of the holder, and the policy, the audit entries and the
// decisions say so ([Policy.Liveness] must be set explicitly). The other
// modes ([LivenessPassive], [LivenessChallenge], [LivenessBoth], in
// liveness.go) run between the quality gate and the comparison.
const LivenessNone Liveness = "none"

// Policy is a verifier's security settings. Zero fields take the defaults
// in brackets.
type Policy struct {
	// TargetFMR is the false-match rate the threshold is chosen for, from
	// the calibration table (internal/calib) of each model, per enrolment
	// photo count [1e-3]. It must be one of the table's calibrated
	// targets (1e-2, 1e-3, 1e-4, 1e-5 for both shipped models): New fails
	// for any other value, never rounding it to a neighbouring one. The
	// claim holds for populations and cameras like those the table
	// measured (docs/accuracy.md).
	TargetFMR float64
	// Models this verifier compares under [the engine's model,
	// EngineOptions.Model: ModelArcFace by default]. A reference made
	// under another model is refused (ReasonReferenceModel). List
	// ModelDlib too to accept dlib references (the engine must run both,
	// the opener accept both IDs); leave it out to refuse the weaker
	// model.
	Models []Model
	// Notices maps the privacy-notice versions this kiosk shows to the
	// SHA-256 of their text; consent must name one and its hash.
	Notices map[string][32]byte
	// ConsentMaxAge is how old a consent may be [2 minutes].
	ConsentMaxAge time.Duration
	// MaxFailures attempts for one reference within LockoutWindow lock it
	// out [5 within 15 minutes, at most 64]. An attempt is a wrong PIN,
	// counted against the sealed card (every form of one card shares the
	// count; a forged container claiming the reference's ID has its own),
	// or a comparison that did not match, counted against the reference
	// ID; it is recorded durably before the PIN is derived or the face
	// compared. See [Verifier.Verify].
	MaxFailures   int
	LockoutWindow time.Duration
	// UnsealPerMinute bounds the references this kiosk unseals per minute
	// (a durable token bucket of that many tokens, refilled evenly), so a
	// flood of blobs sealed to the kiosk's public recipient cannot keep it
	// busy [30].
	UnsealPerMinute int
	// MaxFrames per request [10].
	MaxFrames int
	// Capture quality limits [72 px wide; sharpness 15; brightness
	// 40..220; |yaw| 0.5 eye distances].
	MinFacePixels                int
	MinSharpness                 float64
	MinBrightness, MaxBrightness float64
	MaxYaw                       float64
	// Liveness must be set: LivenessNone, LivenessPassive,
	// LivenessChallenge or LivenessBoth (New refuses any other, and a
	// passive mode without the PAD network loaded).
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
	if p.UnsealPerMinute == 0 {
		p.UnsealPerMinute = 30
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

// ConsentReceipt binds a consent to the reference it was used with.
// Statement is the same, signed by the kiosk (see [ConsentStatement]):
// anyone with the kiosk's public key checks it offline with
// [CheckConsentStatement]. The audit receipt in the same Decision proves
// the decision was recorded.
type ConsentReceipt struct {
	ReferenceID ReferenceID
	Purpose     string
	NoticeHash  [32]byte
	Nonce       [16]byte
	GivenAt     time.Time
	Statement   []byte // signed note; see ConsentStatement
}

// Frame is one live camera frame: either decoded pixels (Image, passed to
// the engine without a JPEG round trip) or JPEG/PNG bytes (Encoded) —
// exactly one of them — and when the camera captured it. A frame with
// both or neither is refused as unreadable. The caller owns the pixels
// and bytes (oneface does not wipe them).
type Frame struct {
	Image      image.Image
	Encoded    []byte
	CapturedAt time.Time
}

// Request is one verification.
type Request struct {
	Reference []byte  // binary or text form, as presented
	PIN       string  // for PIN-protected references
	Frames    []Frame // 1..MaxFrames live frames, in capture order
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
	// Consent binds the consent used to the reference, signed by the
	// kiosk (nil if refused before the consent was accepted); its
	// Statement is signed for every decision after that, refusals
	// included.
	Consent *ConsentReceipt
	// Distance and Threshold are set only under Policy.ExposeDistance.
	Distance, Threshold float64
	// Liveness is the liveness mode the decision was made under
	// (LivenessNone: no liveness check; a match is then no evidence that
	// a live person was in front of the camera).
	Liveness Liveness

	consent *Consent // the accepted consent, for the statement of a refusal
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
	ReasonReferenceV1           Reason = "reference_v1"
	ReasonConsentMissing        Reason = "consent_missing"
	ReasonConsentPurpose        Reason = "consent_purpose"
	ReasonConsentNotice         Reason = "consent_notice"
	ReasonConsentStale          Reason = "consent_stale"
	ReasonConsentReplayed       Reason = "consent_replayed"
	ReasonLockedOut             Reason = "locked_out"
	ReasonRateLimited           Reason = "rate_limited"
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
	// State is the kiosk's durable state (consent nonces, lockout,
	// withdrawals, revocations, unseal budget). Required: a verifier that
	// forgets them on restart is the bug this replaces.
	State *State
	// KioskKey signs the consent statements. Required.
	KioskKey *KioskKey
	Policy   Policy
	Clock    func() time.Time // default time.Now
	Logger   *slog.Logger
	// SiteCalibration, when set, is a signed site calibration (`oneface
	// calibrate-site`, internal/site), verified with SiteKey, the
	// deployment's signed-note public key. It can only make thresholds
	// stricter; it must be for the policy's TargetFMR and for the one
	// model the verifier compares under, and enrolment counts it did not
	// measure are refused as uncalibrated. When it carries a PAD
	// threshold (measured on the site's camera for a stated BPCER) and
	// the policy runs the passive check, that threshold replaces the
	// shipped one; it was measured with the same networks and crop, and
	// is lower than the shipped one only where the site's own attack
	// captures showed no more attacks accepted (internal/site). Its
	// SHA-256, the PAD threshold in force and its source ("shipped" or
	// "site") are recorded in the configuration audit entry. New fails
	// with ErrPolicy when it does not verify or does not fit.
	SiteCalibration []byte
	SiteKey         string
	// Site, when set, is this kiosk's site name: a site calibration made
	// for another site (another camera) is refused. A superseded file of
	// the same site, signed by the same key, still loads: retire old
	// files by rotating the site key; the configuration entry records
	// the hash of the file in force.
	Site string

	calib   *calib.Table // tests
	onWipe  func(owned [][]float32)
	analyze func(context.Context, Frame) (*facerec.Analysis, error) // tests: count or fake engine calls
	model   *ModelID                                                // tests: with a fake analyze

	vector func(context.Context, Model, Frame, *facerec.Face) ([]float32, error) // tests: cache embeddings
}

// Verifier makes consented 1:1 decisions. It is safe for concurrent use.
type Verifier struct {
	c          VerifierConfig
	p          Policy
	model      ModelID                     // recorded before a reference names its own
	models     map[ModelID]Model           // the models compared under (Policy.Models)
	thresholds map[ModelID]map[int]float64 // by model, then enrolment photo count
	siteHash   []byte                      // SHA-256 of the site calibration, or nil
	policyHash string                      // audit.PolicySummary.Hash of the configuration entry New wrote
	log        *slog.Logger
	st         *state.Store
	analyze    func(context.Context, Frame) (*facerec.Analysis, error)
	lv         *livenessCheck // liveness.go
}

// ErrPolicy is returned by New for a policy it cannot honour.
var ErrPolicy = errors.New("verify: policy cannot be honoured")

// New checks the configuration, takes the thresholds for the policy's
// target FMR from the calibration table of the engine's model, and returns
// a Verifier.
func New(c VerifierConfig) (*Verifier, error) {
	if (c.Engine == nil && c.analyze == nil) || c.Opener == nil || c.Audit == nil || c.State == nil || c.KioskKey == nil {
		return nil, errors.New("verify: a verifier needs an engine, an opener, an audit log, a state file and a kiosk key")
	}
	p := c.Policy.withDefaults()
	lv, err := newLivenessCheck(c, p)
	if err != nil {
		return nil, err
	}
	if len(p.Notices) == 0 {
		return nil, fmt.Errorf("%w: no privacy notice: consent cannot be checked", ErrPolicy)
	}
	if p.MaxFailures < 1 || p.MaxFailures > state.MaxAttempts || p.LockoutWindow < 0 || p.UnsealPerMinute < 0 {
		return nil, fmt.Errorf("%w: lockout of %d failures in %s, %d unseals a minute", ErrPolicy, p.MaxFailures, p.LockoutWindow, p.UnsealPerMinute)
	}
	v := &Verifier{c: c, p: p, st: c.State.s, analyze: c.analyze, lv: lv}
	if c.Engine != nil && v.analyze == nil {
		v.analyze = c.Engine.analyzeFrame
	}
	if err := v.setModels(c, p); err != nil {
		return nil, err
	}
	if v.c.Clock == nil {
		v.c.Clock = time.Now
	}
	v.log = c.Logger
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	// The policy in force is itself a record: an auditor can tell a kiosk
	// that accepts photos from a protected one. Fail closed: a verifier
	// whose policy is not on record makes no decisions.
	sum := v.policySummary()
	if _, err := c.Audit.AppendConfig(context.Background(), sum); err != nil {
		return nil, fmt.Errorf("verify: policy not recorded: %w", err)
	}
	// Every decision names the configuration it was made under.
	if v.policyHash, err = sum.Hash(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return v, nil
}

// policySummary is what the configuration audit entry records: the
// policy's security settings and the notice versions in force, no
// personal data.
func (v *Verifier) policySummary() audit.PolicySummary {
	notices := make([]string, 0, len(v.p.Notices))
	for n := range v.p.Notices {
		notices = append(notices, tokenOr(n))
	}
	slices.Sort(notices)
	s := audit.PolicySummary{
		TargetFMR:          v.p.TargetFMR,
		Liveness:           string(v.p.Liveness),
		LockoutMaxFailures: v.p.MaxFailures,
		LockoutWindow:      v.p.LockoutWindow,
		Notices:            notices,
		SiteCalibration:    v.siteHash,
	}
	if v.lv.passive() {
		s.PADThreshold, s.PADCalibration = v.lv.padCal.Threshold, audit.PADShipped
		if v.lv.padSite {
			s.PADCalibration = audit.PADSite
		}
	}
	return s
}

func calibratedTargets(tab *calib.Table, model string, photos int) string {
	var ts []string
	for _, m := range tab.Models {
		if m.ModelID != model {
			continue
		}
		for _, e := range m.Entries {
			if e.Photos == photos {
				ts = append(ts, fmt.Sprintf("%g", e.TargetFMR))
			}
		}
	}
	return "calibrated: " + strings.Join(ts, ", ")
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
	{ErrV1, ReasonReferenceV1, false},
	{ErrMalformed, ReasonReferenceMalformed, false},
	{ErrTooLarge, ReasonReferenceMalformed, false},
}

func openReason(err error) (FrameReason, bool) {
	for _, o := range openReasons {
		if errors.Is(err, o.err) {
			return FrameReason{o.reason, o.retry, -1}, true
		}
	}
	return FrameReason{}, false
}

// Verify runs the pipeline and records the outcome in the audit log, wipes
// the live data it owns, and returns the decision. In order, cheap
// refusals first:
//
//  1. the kiosk's unseal budget (Policy.UnsealPerMinute);
//  2. the reference's age layer;
//  3. for a PIN-protected reference: the consent's purpose, notice and
//     age; revocation and withdrawal of the reference ID the container
//     claims; then, in one state transaction, the consent nonce and the
//     lockout of the sealed container (see below), recording the nonce
//     and a PIN attempt; only then the PIN layer (Argon2id, one at a time
//     per Opener) and the rest of opening — a wrong PIN leaves the PIN
//     attempt as a failure; with the right PIN, revocation, withdrawal
//     and the lockout of the now authenticated reference ID, recording a
//     comparison attempt;
//  4. without a PIN: the rest of opening (signature, bindings, expiry,
//     model, purpose), the consent checks, then one transaction:
//     revocation, withdrawal, the nonce, and the lockout of the reference
//     ID, recording the nonce and a comparison attempt;
//  5. capture quality, frame by frame, then the policy's liveness checks
//     (challenge over the sequence, PAD on the compared frame; see
//     liveness.go); one comparison at the calibrated threshold; the audit
//     append; then, for a match, the attempt and earlier failures are
//     cleared. A refusal before any comparison releases the attempt,
//     unless the PIN was wrong or liveness refused.
//
// Because the attempt is durable before the PIN is tried or the face
// compared, neither concurrent calls nor a crash can give an attacker
// more than MaxFailures tries in a window.
//
// Two counters, MaxFailures each. PIN attempts count against the sealed
// container (pinAttemptKey: a hash of the age plaintext), not against
// the reference ID it claims: that ID is authenticated by age alone, so
// anyone with the kiosk's public recipient can seal a container claiming
// someone else's ID, and counting its wrong PINs against that ID let
// them lock the holder out. A forger cannot reproduce a real card's
// plaintext without the kiosk's key, so forgeries only lock themselves
// out; a stolen card is one plaintext in every form (binary, text, QR),
// so it gets MaxFailures guesses. Comparisons (no-match, liveness
// refusals) count against the reference ID once the PIN has opened the
// signed reference, as for references without a PIN. A match clears
// both.
//
// It returns an error, and never a match, when no decision could be made:
// the audit entry or the state could not be made durable, the context
// ended, or the engine failed. Refusals are decisions (Refused, with
// Reasons), and are audited too.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Decision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := v.c.Clock()
	d := &Decision{Liveness: v.p.Liveness}
	entry := audit.Entry{Time: now, Kind: audit.KindVerify, Purpose: tokenOr(req.Purpose), Decision: audit.DecisionRefused, ModelID: v.model.String(),
		Liveness: string(v.p.Liveness), Notice: "-", Policy: v.policyHash}
	if req.Consent != nil {
		entry.Notice = tokenOr(req.Consent.NoticeVersion)
	}

	// 1. The kiosk's unseal budget.
	ok, err := v.st.TakeToken(now, float64(v.p.UnsealPerMinute)/60, v.p.UnsealPerMinute)
	if err != nil {
		return nil, err
	}
	if !ok {
		return v.refuse(ctx, d, entry, nil, FrameReason{ReasonRateLimited, true, -1})
	}
	// 2. The age layer.
	outer, err := v.c.Opener.unseal(req.Reference, req.PIN != "")
	if err != nil {
		if fr, ok := openReason(err); ok {
			return v.refuse(ctx, d, entry, nil, fr)
		}
		return nil, err
	}
	defer v.c.Opener.wipeOuter(outer)

	var r *Reference
	// res counts against the reference ID (comparisons); pinRes, for a
	// PIN-protected reference, against the sealed container (PIN
	// attempts). A zero Reservation is a no-op for Release and Succeeded.
	var res, pinRes state.Reservation
	if outer.PIN {
		// 3. PIN: every cheaper refusal first, then count the attempt
		// against the container, then Argon2.
		if reason := v.checkConsent(req, now); reason != "" {
			return v.refuse(ctx, d, entry, nil, FrameReason{reason, reason == ReasonConsentStale || reason == ReasonConsentMissing, -1})
		}
		if outer.Version == 2 {
			// Unauthenticated, but a forger gains nothing: the reference
			// is blocked whoever presents it.
			if blocked, err := v.c.State.Blocked(ReferenceID(outer.ID)); err != nil {
				return nil, err
			} else if blocked {
				return v.refuse(ctx, d, entry, nil, FrameReason{ReasonReferenceRevoked, false, -1})
			}
		}
		var fr *FrameReason
		if pinRes, fr, err = v.reserve(pinAttemptKey(outer), req.Consent, now); err != nil {
			return nil, err
		} else if fr != nil {
			return v.refuse(ctx, d, entry, nil, *fr)
		}
		if r, err = v.c.Opener.open(outer, req.Purpose, req.PIN); err != nil {
			fr, ok := openReason(err)
			if !ok {
				return nil, err
			}
			if !errors.Is(err, ErrAuthentication) {
				// The PIN was right; the reference is refused for
				// another reason: no failed attempt.
				if err := v.st.Release(pinRes); err != nil {
					return nil, err
				}
			}
			return v.refuse(ctx, d, entry, nil, fr)
		}
		defer r.Wipe()
		// The PIN was right: the reference ID is authenticated now.
		// Comparisons count against it (no nonce: recorded above).
		var out state.Outcome
		res, out, err = v.st.Reserve(r.ID(), [16]byte{}, time.Time{}, now, v.p.LockoutWindow, v.p.MaxFailures)
		if err != nil {
			return nil, err
		}
		if out != state.OK {
			if err := v.st.Release(pinRes); err != nil {
				return nil, err
			}
			fr := FrameReason{ReasonLockedOut, false, -1}
			if out == state.Blocked {
				fr.Code = ReasonReferenceRevoked
			}
			d.ReferenceID = r.ID()
			return v.refuse(ctx, d, entry, consentPersonal(r, req.Consent), fr)
		}
	} else {
		// 4. No PIN: opening is cheap.
		if r, err = v.c.Opener.open(outer, req.Purpose, ""); err != nil {
			if fr, ok := openReason(err); ok {
				return v.refuse(ctx, d, entry, nil, fr)
			}
			return nil, err
		}
		defer r.Wipe()
		if reason := v.checkConsent(req, now); reason != "" {
			personal := consentPersonal(r, req.Consent)
			d.ReferenceID = r.ID()
			return v.refuse(ctx, d, entry, personal, FrameReason{reason, reason == ReasonConsentStale || reason == ReasonConsentMissing, -1})
		}
		var fr *FrameReason
		if res, fr, err = v.reserve(r.ID(), req.Consent, now); err != nil {
			return nil, err
		} else if fr != nil {
			d.ReferenceID = r.ID()
			personal := consentPersonal(r, req.Consent)
			return v.refuse(ctx, d, entry, personal, *fr)
		}
	}
	d.ReferenceID = r.ID()
	c := req.Consent
	personal := consentPersonal(r, c)
	d.Consent = &ConsentReceipt{ReferenceID: r.ID(), Purpose: c.Purpose, NoticeHash: c.NoticeHash, Nonce: c.Nonce, GivenAt: c.GivenAt}
	d.consent = c // a refusal from here on signs its statement too

	// 5. Capture quality, frame by frame; the subject's vector under the
	// reference's model.
	entry.ModelID = r.ModelID().String()
	model, threshold, mfr := v.operatingPoint(r)
	if mfr != nil {
		if err := v.release(res, pinRes); err != nil {
			return nil, err
		}
		return v.refuse(ctx, d, entry, personal, *mfr)
	}
	same := sameFaceTest{model, v.thresholds[r.ModelID()][1]}
	live, at, reasons, err := v.liveFrame(ctx, req, now, same) // quality, then liveness (liveness.go)
	var owned [][]float32
	if live != nil {
		owned = append(owned, live.Descriptor[:])
	}
	owned = append(owned, r.descs...)
	defer func() {
		if v.c.onWipe != nil {
			v.c.onWipe(owned)
		}
		for _, o := range owned {
			clear(o)
		}
	}()
	if err != nil {
		if rerr := v.release(res, pinRes); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	if live == nil {
		// A liveness refusal stays a failed attempt: the checks cannot
		// be probed without limit. The PIN was right, whatever happens.
		if err := v.st.Release(pinRes); err != nil {
			return nil, err
		}
		if !isLivenessRefusal(reasons[0].Code) {
			if err := v.st.Release(res); err != nil {
				return nil, err
			}
		}
		return v.refuse(ctx, d, entry, personal, reasons...)
	}
	vec, fresh, err := v.liveVector(ctx, model, req.Frames[at], live)
	if fresh {
		owned = append(owned, vec)
	}
	if err != nil {
		if rerr := v.release(res, pinRes); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}

	// 6. Distance at the calibrated threshold, in the model's metric.
	dist := distance(model, r.descs[0], vec)
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

	// 7. Audit, fail closed; the attempt stays a failure unless matched.
	a, err := v.c.Audit.Append(ctx, entry, personal)
	if err != nil {
		return nil, fmt.Errorf("verify: decision not recorded, so not given: %w", err)
	}
	if match {
		if err := errors.Join(v.st.Succeeded(res), v.st.Succeeded(pinRes)); err != nil {
			return nil, fmt.Errorf("verify: match recorded, but the lockout state could not be updated: %w", err)
		}
	} else if err := v.st.Release(pinRes); err != nil { // the PIN was right
		return nil, fmt.Errorf("verify: no-match recorded, but the lockout state could not be updated: %w", err)
	}
	d.Match, d.Receipt = match, a.Receipt
	if match {
		d.Reasons = append(d.Reasons, FrameReason{ReasonOK, false, -1})
	} else {
		d.Reasons = append(d.Reasons, FrameReason{ReasonNoMatch, true, -1})
	}
	if err := v.signConsent(d, c, string(entry.Decision), Reason(entry.Reason)); err != nil {
		return nil, err
	}
	return d, nil
}

// release releases reservations (no failure); zero ones are no-ops.
func (v *Verifier) release(rs ...state.Reservation) error {
	var errs []error
	for _, r := range rs {
		errs = append(errs, v.st.Release(r))
	}
	return errors.Join(errs...)
}

// reserve runs the state transaction of Verify: blocked, replayed, locked
// out, or the attempt recorded.
func (v *Verifier) reserve(id ReferenceID, c *Consent, now time.Time) (state.Reservation, *FrameReason, error) {
	res, out, err := v.st.Reserve(id, c.Nonce, c.GivenAt.Add(v.p.ConsentMaxAge+ClockSkew), now, v.p.LockoutWindow, v.p.MaxFailures)
	if err != nil {
		return res, nil, err
	}
	switch out {
	case state.Blocked:
		return res, &FrameReason{ReasonReferenceRevoked, false, -1}, nil
	case state.Replayed:
		return res, &FrameReason{ReasonConsentReplayed, false, -1}, nil
	case state.LockedOut:
		return res, &FrameReason{ReasonLockedOut, false, -1}, nil
	}
	return res, nil, nil
}

func (v *Verifier) signConsent(d *Decision, c *Consent, decision string, reason Reason) error {
	st := &ConsentStatement{ReferenceID: d.ReferenceID, Purpose: c.Purpose, NoticeVersion: c.NoticeVersion, NoticeHash: c.NoticeHash,
		Nonce: c.Nonce, GivenAt: c.GivenAt, Decision: decision, Reason: reason}
	signed, err := signConsent(st, v.c.KioskKey.signer)
	if err != nil {
		return fmt.Errorf("verify: consent statement: %w", err)
	}
	d.Consent.Statement = signed
	return nil
}

// tokenOr is s when the audit log takes it as a token ([audit.IsToken]),
// else "-": a caller's free text never reaches the log.
func tokenOr(s string) string {
	if !audit.IsToken(s) {
		return "-"
	}
	return s
}

// oneFace analyses frame i (exactly one of Image and Encoded set) and
// returns its one face — a copy: every descriptor the analysis held,
// other faces' included, is wiped — or the reason the frame cannot be used
// (engineReason), or an error when no decision can be made.
func (v *Verifier) oneFace(ctx context.Context, i int, fr Frame) (facerec.Face, *FrameReason, error) {
	a, err := v.analyze(ctx, fr)
	if err != nil {
		if r, retry, ok := engineReason(err); ok {
			return facerec.Face{}, &FrameReason{r, retry, i}, nil
		}
		return facerec.Face{}, nil, err
	}
	f, err := a.Single()
	for j := range a.Faces {
		clear(a.Faces[j].Descriptor[:])
		if v.c.onWipe != nil {
			v.c.onWipe([][]float32{a.Faces[j].Descriptor[:]})
		}
	}
	if err != nil {
		clear(f.Descriptor[:])
		if r, retry, ok := engineReason(err); ok {
			return facerec.Face{}, &FrameReason{r, retry, i}, nil
		}
		return facerec.Face{}, nil, err
	}
	return f, nil, nil
}

// engineReason maps an error of the engine (Analyze, or Analysis.Single)
// to the reason a frame or enrolment photo is refused — unreadable
// (corrupt, too large, unsupported format: reject), no_face and
// multiple_faces (retry) — the one mapping the verifier and the issuer
// share. ok is false for any other error, with which no decision can be
// made.
func engineReason(err error) (r Reason, retry, ok bool) {
	switch {
	case errors.Is(err, facerec.ErrCorruptImage), errors.Is(err, facerec.ErrTooLarge), errors.Is(err, facerec.ErrUnsupportedFormat):
		return ReasonUnreadable, false, true
	case errors.Is(err, facerec.ErrNoFace):
		return ReasonNoFace, true, true
	case errors.Is(err, facerec.ErrMultipleFaces):
		return ReasonMultipleFaces, true, true
	}
	return "", false, false
}

// consentPersonal is the personal part of a verify entry: the reference,
// its holder's pseudonym and, when the person gave one, the consent's
// nonce, notice version and hash, and time. The entry itself carries the
// notice version and the liveness mode.
func consentPersonal(r *Reference, c *Consent) *audit.Personal {
	p := &audit.Personal{ReferenceID: r.ID(), Subject: r.Subject(), Notice: "-"}
	if c != nil {
		p.ConsentID, p.Notice, p.NoticeHash, p.ConsentAt = c.Nonce, tokenOr(c.NoticeVersion), c.NoticeHash, c.GivenAt
	}
	return p
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
	if d.Consent != nil && d.consent != nil {
		if err := v.signConsent(d, d.consent, string(e.Decision), reasons[0].Code); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkConsent runs the stateless consent checks; the nonce is checked
// and recorded in the state transaction.
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
	return ""
}

// bestFrame runs the quality gate on every frame and returns the good
// frame with the largest face, or the reasons no frame was good. A single
// comparison keeps the decision at the calibrated false-match rate (the
// minimum over several frames would multiply it); the other frames are
// where liveness will look.
func (v *Verifier) bestFrame(ctx context.Context, frames []Frame) (*facerec.Face, int, []FrameReason, error) {
	switch {
	case len(frames) == 0:
		return nil, -1, []FrameReason{{ReasonNoFrames, true, -1}}, nil
	case len(frames) > v.p.MaxFrames:
		return nil, -1, []FrameReason{{ReasonTooManyFrames, false, -1}}, nil
	}
	var best *facerec.Face
	at := -1
	var reasons []FrameReason
	for i, fr := range frames {
		if err := ctx.Err(); err != nil {
			return nil, -1, nil, err
		}
		if (fr.Image == nil) == (fr.Encoded == nil) {
			reasons = append(reasons, FrameReason{ReasonUnreadable, false, i})
			continue
		}
		f, why, err := v.oneFace(ctx, i, fr)
		if err != nil {
			return nil, -1, nil, err
		}
		if why != nil {
			reasons = append(reasons, *why)
			continue
		}
		if r, ok := v.qualityReason(&f); !ok {
			reasons = append(reasons, FrameReason{r, true, i})
		} else {
			if best == nil || f.Box.Dx() > best.Box.Dx() {
				if best != nil {
					clear(best.Descriptor[:])
				}
				fc := f
				best, at = &fc, i
				continue
			}
		}
		clear(f.Descriptor[:])
	}
	return best, at, reasons, nil
}

// WithdrawConsent records that the holder of a reference withdrew consent:
// the reference is blocked in the verifier's durable state, then the
// withdrawal is audited (see [State.Withdraw]). The holder's audit entries
// can then be erased with audit.Log.Erase.
func (v *Verifier) WithdrawConsent(ctx context.Context, id ReferenceID, subject Pseudonym) error {
	return v.c.State.Withdraw(ctx, v.c.Audit, id, subject)
}

// NoticeHash is the SHA-256 of a privacy notice's text, for [Policy].Notices
// and [Consent].NoticeHash.
func NoticeHash(text string) [32]byte { return sha256.Sum256([]byte(text)) }

// pinAttemptKey names a PIN-protected container's sealed content for the
// lockout: the first 16 bytes of SHA-256("oneface pin attempts v1" 0x00
// ‖ version ‖ claimed ID (v2: 16 bytes; v1: none) ‖ the rest of the age
// plaintext). See [Verifier.Verify] for why PIN attempts count against it.
func pinAttemptKey(o *ref.Outer) ReferenceID {
	h := sha256.New()
	h.Write([]byte("oneface pin attempts v1\x00"))
	h.Write([]byte{byte(o.Version)})
	h.Write(o.ID)
	h.Write(o.Plaintext())
	var k ReferenceID
	copy(k[:], h.Sum(nil))
	return k
}
