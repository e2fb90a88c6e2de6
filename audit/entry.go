package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Kind is what happened.
type Kind string

// Event kinds. Do NOT rename: they are part of the entry format. The
// schema of each kind (which fields it uses) is in the package doc.
const (
	KindVerify           Kind = "verify"            // a 1:1 verification attempt (any outcome)
	KindEnroll           Kind = "enroll"            // a reference was issued
	KindRevoke           Kind = "revoke"            // a reference was revoked
	KindConsentWithdrawn Kind = "consent-withdrawn" // a person withdrew consent
	KindErase            Kind = "erase"             // a subject's personal data was erased ([Log.Erase])
	KindConfig           Kind = "config"            // the device's policy at start-up ([Log.AppendConfig]); v2 and later
	KindSweep            Kind = "retention-sweep"   // a retention sweep ran ([Log.Sweep]); v2 and later
)

// Decision is the outcome recorded.
type Decision string

// Decisions. Do NOT rename: they are part of the entry format. They
// are spelled like the reason codes (verify.ReasonNoMatch is "no_match"
// too). v1 and v2 entries, written before v3, spell [DecisionNoMatch]
// "no-match" on their decision line; [ParseRecord] reads that spelling in
// those versions only (and re-encodes it unchanged, so their hashes stay
// valid) and gives [DecisionNoMatch].
const (
	DecisionMatch   Decision = "match"    // the live face matched the reference
	DecisionNoMatch Decision = "no_match" // it did not ("no-match" in v1 and v2 entries)
	DecisionRefused Decision = "refused"  // no comparison was made (consent, lockout, quality, reference...)
	DecisionNone    Decision = "none"     // events without a decision (every kind but verify)
)

// legacyNoMatch is how v1 and v2 entries spell [DecisionNoMatch].
const legacyNoMatch = "no-match"

// decisionText is the decision as written on the decision line of an
// entry of version v.
func decisionText(v int, d Decision) string {
	if v < 3 && d == DecisionNoMatch {
		return legacyNoMatch
	}
	return string(d)
}

// parseDecision reads the decision line of an entry of version v. The
// legacy spelling means [DecisionNoMatch] only in v1 and v2; ParseRecord's
// re-encoding check refuses "no_match" there, and validate refuses
// "no-match" in v3, so each version has one spelling.
func parseDecision(v int, s string) Decision {
	if v < 3 && s == legacyNoMatch {
		return DecisionNoMatch
	}
	return Decision(s)
}

var (
	kinds     = map[Kind]bool{KindVerify: true, KindEnroll: true, KindRevoke: true, KindConsentWithdrawn: true, KindErase: true, KindConfig: true, KindSweep: true}
	decisions = map[Decision]bool{DecisionMatch: true, DecisionNoMatch: true, DecisionRefused: true, DecisionNone: true}
)

// Entry is the non-personal part of a record, the part that goes into the
// tamper-evident tree. Every field is a short token (1..64 characters of
// [A-Za-z0-9._:/+=-]): by construction no image, descriptor, name or free
// text can be logged.
type Entry struct {
	Time     time.Time // set by the log when zero; stored in UTC, whole seconds
	Kind     Kind
	Purpose  string // e.g. "door-main"; "-" when not applicable
	Decision Decision
	Reason   string // machine-readable reason code, e.g. "ok", "consent_missing"
	ModelID  string // face model ID (hex), "-" when not applicable
	Liveness string // liveness (presentation attack detection) mode token; "-" (or empty) when not applicable
	Notice   string // version token of the notice shown to the person; "-" (or empty) when none
	// Policy ties the entry to the configuration it was made under: the
	// [PolicySummary.Hash] of the config entry in force (32 lowercase
	// hex), or empty. Written as the detail "policy=<hash>" (format v3);
	// an auditor finds the config entry with that hash, so decisions of
	// two devices sharing one log are never read under the wrong policy.
	Policy string
}

// Personal is the personal part of a record. It never enters the tree: the
// entry holds only a keyed commitment to it, and it is stored encrypted
// under a per-subject, per-month key that is itself wrapped to the
// controller's key, so the device cannot read it back and erasing that key
// makes the entry unattributable while every checkpoint still verifies.
type Personal struct {
	ReferenceID [16]byte  // the reference used
	Subject     [16]byte  // the subject's pseudonym: selects the key
	ConsentID   [16]byte  // the consent's nonce or receipt ID (zero if none)
	Notice      string    // notice version token ("-" if none)
	NoticeHash  [32]byte  // SHA-256 of the notice text shown (zero if none)
	ConsentAt   time.Time // when consent was given (zero if none); stored in UTC, whole seconds
}

// Hash identifies a policy summary in the entries made under it
// ([Entry].Policy): the first 16 bytes of the SHA-256 of its canonical
// detail line, as 32 lowercase hex. It fails for a summary
// [Log.AppendConfig] would refuse.
func (p PolicySummary) Hash() (string, error) {
	d, err := marshalPolicy(&p)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(d))
	return hex.EncodeToString(h[:16]), nil
}

// PolicySummary is the device's configuration at start-up, recorded by
// [Log.AppendConfig] as a [KindConfig] entry. It holds no personal data.
type PolicySummary struct {
	TargetFMR          float64       // the false match rate the threshold was set for, e.g. 1e-4 (0 < FMR < 1)
	Liveness           string        // liveness mode token, "-" when none
	LockoutMaxFailures int           // failed comparisons allowed per reference within LockoutWindow (0: no lockout)
	LockoutWindow      time.Duration // whole seconds
	Notices            []string      // notice version tokens in force (at most 8)
	SiteCalibration    []byte        // SHA-256 of the site calibration in use (32 bytes), or nil
	// PADThreshold is the presentation-attack detection threshold in
	// force: the live score (0..1] at or above which a capture counts as
	// bona fide; 0 when the policy runs no passive check.
	PADThreshold float64
	// PADCalibration says where PADThreshold comes from: "shipped" (the
	// threshold measured on the dev data and shipped with the networks)
	// or "site" (the site calibration whose hash is SiteCalibration).
	// Empty exactly when PADThreshold is 0.
	PADCalibration string
}

// The PADCalibration values.
const (
	PADShipped = "shipped"
	PADSite    = "site"
)

// Record is a stored entry as the log wrote it.
type Record struct {
	Version    int // entry format: 1, 2 or 3 (see the package doc); new entries are 3
	Index      int64
	Prev       tlog.Hash // root hash of the tree of the Index entries before it
	Entry      Entry
	Detail     string // v2 and later: kind-specific key=value tokens separated by spaces, "-" when none
	Device     string
	Library    string
	Commitment []byte // 32 bytes, or nil without a personal part
}

const (
	entryIntroV1 = "oneface audit entry v1"
	entryIntroV2 = "oneface audit entry v2"
	entryIntroV3 = "oneface audit entry v3"
	// MaxEntrySize bounds an encoded entry, in bytes.
	MaxEntrySize = 2048
	maxToken     = 64
	maxDetail    = 13
	maxNotices   = 8
)

// ErrMalformed is returned for bytes that do not follow a format of this
// package.
var ErrMalformed = errors.New("audit: malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:/+=-", c) >= 0
}

// IsToken reports whether s can stand in a token field of an [Entry]
// (purpose, reason, model, liveness, notice): 1..64 characters of
// [A-Za-z0-9._:/+=-]. Callers that record outside values check them with
// it, so the rule lives in one place.
func IsToken(s string) bool { return checkToken("token", s) == nil }

// checkToken accepts 1..64 characters of [A-Za-z0-9._:/+=-].
func checkToken(what, s string) error {
	if len(s) == 0 || len(s) > maxToken {
		return malformed("%s: %d characters (1..%d)", what, len(s), maxToken)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return malformed("%s %q: only [A-Za-z0-9._:/+=-]", what, s)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// validate checks an entry; strict adds the v2 and v3 rules (a decision only
// for verify entries).
func (e *Entry) validate(strict bool) error {
	if !kinds[e.Kind] {
		return malformed("unknown kind %q", e.Kind)
	}
	if !decisions[e.Decision] {
		return malformed("unknown decision %q", e.Decision)
	}
	if strict && (e.Kind == KindVerify) == (e.Decision == DecisionNone) {
		return malformed("kind %s with decision %s: verify entries decide, the other kinds do not", e.Kind, e.Decision)
	}
	for _, f := range []struct{ what, v string }{{"purpose", e.Purpose}, {"reason", e.Reason}, {"model", e.ModelID}, {"liveness", orDash(e.Liveness)}, {"notice", orDash(e.Notice)}} {
		if err := checkToken(f.what, f.v); err != nil {
			return err
		}
	}
	if e.Policy != "" && !isPolicyHash(e.Policy) {
		return malformed("policy hash %.40q: want 32 lowercase hex", e.Policy)
	}
	return nil
}

func isPolicyHash(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// checkDetail accepts "-" or 1..12 space-separated key=value tokens with
// keys of [a-z-].
func checkDetail(d string) error {
	if d == "-" {
		return nil
	}
	parts := strings.Split(d, " ")
	if len(parts) > maxDetail {
		return malformed("detail: %d fields (at most %d)", len(parts), maxDetail)
	}
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz-") != "" {
			return malformed("detail field %q: want key=value", p)
		}
		if err := checkToken("detail "+k, v); err != nil {
			return err
		}
	}
	return nil
}

// marshal encodes a record as its leaf text. Version 3 (new entries):
//
//	oneface audit entry v3
//	index <decimal>
//	prev <base64 root hash of the tree before this entry>
//	time <RFC 3339, UTC, seconds>
//	device <token>
//	kind <kind>
//	purpose <token>
//	decision <decision>
//	reason <token>
//	model <token>
//	liveness <token>
//	notice <token>
//	detail <- or key=value tokens separated by one space>
//	library <token>
//	commitment <base64 of 32 bytes, or ->
//
// Version 2 (written before, still parsed and verified) has the same
// lines under the intro "oneface audit entry v2" and spells the decision
// no_match "no-match". Version 1 (likewise) also has no liveness, notice
// and detail lines and the intro "oneface audit entry v1".
//
// Rules for change: the lines, their order and their spellings are fixed;
// a new field or spelling is a new intro line ("... v4"), never a change
// to v1, v2 or v3.
func (r *Record) marshal() ([]byte, error) {
	if err := r.Entry.validate(r.Version != 1); err != nil {
		return nil, err
	}
	if err := checkToken("device", r.Device); err != nil {
		return nil, err
	}
	if err := checkToken("library", r.Library); err != nil {
		return nil, err
	}
	commit := "-"
	if r.Commitment != nil {
		if len(r.Commitment) != sha256.Size {
			return nil, malformed("commitment of %d bytes", len(r.Commitment))
		}
		commit = base64.StdEncoding.EncodeToString(r.Commitment)
	}
	e := &r.Entry
	var b bytes.Buffer
	switch r.Version {
	case 1:
		if e.Kind == KindSweep || orDash(e.Liveness) != "-" || orDash(e.Notice) != "-" || r.Detail != "-" {
			return nil, malformed("v1 entries have no liveness, notice or detail")
		}
		fmt.Fprintf(&b, "%s\nindex %d\nprev %s\ntime %s\ndevice %s\nkind %s\npurpose %s\ndecision %s\nreason %s\nmodel %s\nlibrary %s\ncommitment %s\n",
			entryIntroV1, r.Index, base64.StdEncoding.EncodeToString(r.Prev[:]), e.Time.UTC().Format(time.RFC3339),
			r.Device, e.Kind, e.Purpose, decisionText(1, e.Decision), e.Reason, e.ModelID, r.Library, commit)
	case 2, 3:
		if err := checkDetail(r.Detail); err != nil {
			return nil, err
		}
		configured := e.Kind == KindConfig || e.Kind == KindSweep
		switch {
		case configured && r.Detail == "-":
			return nil, malformed("kind %s without detail", e.Kind)
		case !configured && r.Detail == "-" && e.Policy != "":
			return nil, malformed("kind %s: policy hash without its detail", e.Kind)
		case !configured && r.Detail != "-" && (r.Version < 3 || r.Detail != "policy="+e.Policy || e.Policy == ""):
			return nil, malformed("kind %s with detail %q: config and retention-sweep entries carry details, the others at most policy=<hash> (v3)", e.Kind, r.Detail)
		}
		intro := entryIntroV3
		if r.Version == 2 {
			intro = entryIntroV2
		}
		fmt.Fprintf(&b, "%s\nindex %d\nprev %s\ntime %s\ndevice %s\nkind %s\npurpose %s\ndecision %s\nreason %s\nmodel %s\nliveness %s\nnotice %s\ndetail %s\nlibrary %s\ncommitment %s\n",
			intro, r.Index, base64.StdEncoding.EncodeToString(r.Prev[:]), e.Time.UTC().Format(time.RFC3339),
			r.Device, e.Kind, e.Purpose, decisionText(r.Version, e.Decision), e.Reason, e.ModelID, orDash(e.Liveness), orDash(e.Notice), r.Detail, r.Library, commit)
	default:
		return nil, malformed("entry version %d", r.Version)
	}
	if b.Len() > MaxEntrySize {
		return nil, malformed("entry of %d bytes", b.Len())
	}
	return b.Bytes(), nil
}

var (
	keysV1 = []string{"", "index", "prev", "time", "device", "kind", "purpose", "decision", "reason", "model", "library", "commitment"}
	keysV2 = []string{"", "index", "prev", "time", "device", "kind", "purpose", "decision", "reason", "model", "liveness", "notice", "detail", "library", "commitment"}
)

// ParseRecord parses a v1, v2 or v3 leaf strictly: exact intro, every
// line in order, canonical values, nothing after the last line. Parsing a
// leaf and marshalling it again gives the same bytes. A v1 or v2 leaf's
// "decision no-match" reads as [DecisionNoMatch]; "decision no_match" is
// refused there, and "no-match" is refused in v3, so each meaning has one
// encoding per version. Errors wrap [ErrMalformed].
func ParseRecord(data []byte) (*Record, error) {
	if len(data) > MaxEntrySize {
		return nil, malformed("entry of %d bytes, limit %d", len(data), MaxEntrySize)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, malformed("entry does not end in a newline")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	r := &Record{Detail: "-"}
	var keys []string
	switch lines[0] {
	case entryIntroV1:
		r.Version, keys = 1, keysV1
	case entryIntroV2:
		r.Version, keys = 2, keysV2
	case entryIntroV3:
		r.Version, keys = 3, keysV2
	default:
		return nil, malformed("unexpected intro %q", lines[0])
	}
	if len(lines) != len(keys) {
		return nil, malformed("%d lines, want %d", len(lines), len(keys))
	}
	v := map[string]string{}
	for i := 1; i < len(keys); i++ {
		k, val, ok := strings.Cut(lines[i], " ")
		if !ok || k != keys[i] {
			return nil, malformed("line %d: want %q", i+1, keys[i])
		}
		v[k] = val
	}
	r.Device, r.Library = v["device"], v["library"]
	var err error
	if r.Index, err = strconv.ParseInt(v["index"], 10, 64); err != nil || r.Index < 0 {
		return nil, malformed("index %q", v["index"])
	}
	prev, err := base64.StdEncoding.Strict().DecodeString(v["prev"])
	if err != nil || len(prev) != len(r.Prev) {
		return nil, malformed("prev %q", v["prev"])
	}
	copy(r.Prev[:], prev)
	if r.Entry.Time, err = time.Parse(time.RFC3339, v["time"]); err != nil {
		return nil, malformed("time %q", v["time"])
	}
	r.Entry.Kind, r.Entry.Purpose, r.Entry.Decision, r.Entry.Reason, r.Entry.ModelID = Kind(v["kind"]), v["purpose"], parseDecision(r.Version, v["decision"]), v["reason"], v["model"]
	if r.Version >= 2 {
		r.Entry.Liveness, r.Entry.Notice, r.Detail = v["liveness"], v["notice"], v["detail"]
		if h, ok := strings.CutPrefix(r.Detail, "policy="); ok && r.Version >= 3 && r.Entry.Kind != KindConfig && r.Entry.Kind != KindSweep {
			if !isPolicyHash(h) {
				return nil, malformed("policy hash %.40q", h)
			}
			r.Entry.Policy = h
		}
	} else {
		r.Entry.Liveness, r.Entry.Notice = "-", "-"
	}
	if c := v["commitment"]; c != "-" {
		if r.Commitment, err = base64.StdEncoding.Strict().DecodeString(c); err != nil {
			return nil, malformed("commitment %q", c)
		}
	}
	again, err := r.marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, data) {
		return nil, malformed("entry not in canonical form")
	}
	return r, nil
}

// marshalPolicy encodes a policy summary as the detail of a config entry:
//
//	fmr=<float, shortest form> liveness=<token> lockout=<failures>/<seconds>s notice=<token>... [pad=<threshold>/<shipped|site>] calibration=<hex|->
//
// The pad field is present only with a passive check, so entries written
// before it existed keep their one encoding.
func marshalPolicy(p *PolicySummary) (string, error) {
	if !(p.TargetFMR > 0 && p.TargetFMR < 1) {
		return "", malformed("policy: target FMR %v not in (0, 1)", p.TargetFMR)
	}
	if p.LockoutMaxFailures < 0 || p.LockoutWindow < 0 || p.LockoutWindow%time.Second != 0 {
		return "", malformed("policy: lockout %d per %v", p.LockoutMaxFailures, p.LockoutWindow)
	}
	if len(p.Notices) > maxNotices {
		return "", malformed("policy: %d notices (at most %d)", len(p.Notices), maxNotices)
	}
	cal := "-"
	if p.SiteCalibration != nil {
		if len(p.SiteCalibration) != sha256.Size {
			return "", malformed("policy: site calibration hash of %d bytes, want 32", len(p.SiteCalibration))
		}
		cal = hex.EncodeToString(p.SiteCalibration)
	}
	f := []string{"fmr=" + strconv.FormatFloat(p.TargetFMR, 'g', -1, 64), "liveness=" + orDash(p.Liveness),
		fmt.Sprintf("lockout=%d/%ds", p.LockoutMaxFailures, int64(p.LockoutWindow/time.Second))}
	for _, n := range p.Notices {
		f = append(f, "notice="+n)
	}
	switch {
	case p.PADThreshold == 0 && p.PADCalibration == "":
	case !(p.PADThreshold > 0 && p.PADThreshold <= 1):
		return "", malformed("policy: PAD threshold %v not in (0, 1]", p.PADThreshold)
	case p.PADCalibration == PADSite && p.SiteCalibration == nil:
		return "", malformed("policy: site PAD threshold without a site calibration")
	case p.PADCalibration == PADShipped, p.PADCalibration == PADSite:
		f = append(f, "pad="+strconv.FormatFloat(p.PADThreshold, 'f', -1, 64)+"/"+p.PADCalibration)
	default:
		return "", malformed("policy: PAD calibration %q (want %s or %s)", p.PADCalibration, PADShipped, PADSite)
	}
	f = append(f, "calibration="+cal)
	d := strings.Join(f, " ")
	if err := checkDetail(d); err != nil {
		return "", err
	}
	return d, nil
}

// Policy decodes the policy summary of a [KindConfig] entry.
func (r *Record) Policy() (*PolicySummary, error) {
	if r.Entry.Kind != KindConfig {
		return nil, malformed("entry %d is a %s entry, not config", r.Index, r.Entry.Kind)
	}
	p := &PolicySummary{}
	for _, f := range strings.Split(r.Detail, " ") {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "fmr":
			p.TargetFMR, err = strconv.ParseFloat(v, 64)
		case "liveness":
			p.Liveness = v
		case "lockout":
			var secs int64
			if _, err = fmt.Sscanf(v, "%d/%ds", &p.LockoutMaxFailures, &secs); err == nil {
				p.LockoutWindow = time.Duration(secs) * time.Second
			}
		case "notice":
			p.Notices = append(p.Notices, v)
		case "pad":
			t, src, ok := strings.Cut(v, "/")
			if p.PADThreshold, err = strconv.ParseFloat(t, 64); err == nil && !ok {
				err = errors.New("no source")
			}
			p.PADCalibration = src
		case "calibration":
			if v != "-" {
				p.SiteCalibration, err = hex.DecodeString(v)
			}
		}
		if err != nil {
			return nil, malformed("policy field %q", f)
		}
	}
	again, err := marshalPolicy(p)
	if err != nil || again != r.Detail {
		return nil, malformed("policy of entry %d not in canonical form", r.Index)
	}
	return p, nil
}

const (
	personalIntroV1 = "oneface audit personal v1"
	personalIntroV2 = "oneface audit personal v2"
)

// marshalPersonal is the canonical form the commitment covers (v2):
//
//	oneface audit personal v2
//	reference <32 hex>
//	subject <32 hex>
//	consent <32 hex>
//	notice <token>
//	notice-hash <64 hex>
//	consent-at <RFC 3339, UTC, seconds, or ->
func marshalPersonal(p *Personal) ([]byte, error) {
	notice := orDash(p.Notice)
	if err := checkToken("notice", notice); err != nil {
		return nil, err
	}
	at := "-"
	if !p.ConsentAt.IsZero() {
		at = p.ConsentAt.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return fmt.Appendf(nil, "%s\nreference %s\nsubject %s\nconsent %s\nnotice %s\nnotice-hash %s\nconsent-at %s\n", personalIntroV2,
		hex.EncodeToString(p.ReferenceID[:]), hex.EncodeToString(p.Subject[:]), hex.EncodeToString(p.ConsentID[:]), notice,
		hex.EncodeToString(p.NoticeHash[:]), at), nil
}

// marshalPersonalV1 is the v1 form (no notice hash, no consent time).
func marshalPersonalV1(p *Personal) []byte {
	return fmt.Appendf(nil, "%s\nreference %s\nsubject %s\nconsent %s\nnotice %s\n", personalIntroV1,
		hex.EncodeToString(p.ReferenceID[:]), hex.EncodeToString(p.Subject[:]), hex.EncodeToString(p.ConsentID[:]), p.Notice)
}

// parsePersonal parses a v1 or v2 personal part strictly.
func parsePersonal(b []byte) (*Personal, error) {
	if len(b) > 1024 || len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, malformed("personal part")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	var keys []string
	switch lines[0] {
	case personalIntroV1:
		keys = []string{"", "reference", "subject", "consent", "notice"}
	case personalIntroV2:
		keys = []string{"", "reference", "subject", "consent", "notice", "notice-hash", "consent-at"}
	default:
		return nil, malformed("personal part: unexpected intro")
	}
	if len(lines) != len(keys) {
		return nil, malformed("personal part: %d lines", len(lines))
	}
	v := map[string]string{}
	for i := 1; i < len(keys); i++ {
		k, val, ok := strings.Cut(lines[i], " ")
		if !ok || k != keys[i] {
			return nil, malformed("personal part: line %d: want %q", i+1, keys[i])
		}
		v[k] = val
	}
	var p Personal
	for _, f := range []struct {
		s   string
		dst []byte
	}{{v["reference"], p.ReferenceID[:]}, {v["subject"], p.Subject[:]}, {v["consent"], p.ConsentID[:]}, {v["notice-hash"], p.NoticeHash[:]}} {
		if f.s == "" && len(f.dst) == 32 && lines[0] == personalIntroV1 {
			continue
		}
		raw, err := hex.DecodeString(f.s)
		if err != nil || len(raw) != len(f.dst) {
			return nil, malformed("personal part: %q", f.s)
		}
		copy(f.dst, raw)
	}
	p.Notice = v["notice"]
	if at := v["consent-at"]; at != "" && at != "-" {
		var err error
		if p.ConsentAt, err = time.Parse(time.RFC3339, at); err != nil {
			return nil, malformed("personal part: consent-at %q", at)
		}
	}
	var again []byte
	if lines[0] == personalIntroV1 {
		if err := checkToken("notice", p.Notice); err != nil {
			return nil, err
		}
		again = marshalPersonalV1(&p)
	} else {
		var err error
		if again, err = marshalPersonal(&p); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(again, b) {
		return nil, malformed("personal part not canonical")
	}
	return &p, nil
}

// commitment is HMAC-SHA256 keyed with the entry's random opening key over
// the canonical personal part. Without the opening (kept only in the
// personal record, under the subject key) it reveals nothing, not even to
// someone who guesses the reference ID.
func commitment(opening, personal []byte) []byte {
	m := hmac.New(sha256.New, opening)
	m.Write(personal)
	return m.Sum(nil)
}
