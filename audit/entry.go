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

// Event kinds. Do NOT rename: they are part of the v1 entry format.
const (
	KindVerify           Kind = "verify"            // a 1:1 verification attempt (any outcome)
	KindEnroll           Kind = "enroll"            // a reference was issued
	KindRevoke           Kind = "revoke"            // a reference was revoked
	KindConsentWithdrawn Kind = "consent-withdrawn" // a person withdrew consent
	KindErase            Kind = "erase"             // personal data was erased (request or retention)
	KindConfig           Kind = "config"            // the device's configuration changed
)

// Decision is the outcome recorded.
type Decision string

// Decisions. Do NOT rename.
const (
	DecisionMatch   Decision = "match"    // the live face matched the reference
	DecisionNoMatch Decision = "no-match" // it did not
	DecisionRefused Decision = "refused"  // no comparison was made (consent, lockout, quality, reference...)
	DecisionNone    Decision = "none"     // events without a decision
)

var (
	kinds     = map[Kind]bool{KindVerify: true, KindEnroll: true, KindRevoke: true, KindConsentWithdrawn: true, KindErase: true, KindConfig: true}
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
}

// Personal is the personal part of a record. It never enters the tree: the
// entry holds only a keyed commitment to it, and it is stored encrypted
// under a per-subject key in the deletable side store, so erasing that key
// makes the entry unattributable while every checkpoint still verifies.
type Personal struct {
	ReferenceID [16]byte // the reference used
	Subject     [16]byte // the subject's pseudonym: keys the side store
	ConsentID   [16]byte // the consent's nonce or receipt ID (zero if none)
	Notice      string   // notice version token ("-" if none)
}

// Record is a stored entry as the log wrote it.
type Record struct {
	Index      int64
	Prev       tlog.Hash // root hash of the tree of the Index entries before it
	Entry      Entry
	Device     string
	Library    string
	Commitment []byte // 32 bytes, or nil without a personal part
}

const (
	entryIntro = "oneface audit entry v1"
	// MaxEntrySize bounds an encoded entry.
	MaxEntrySize = 1024
	maxToken     = 64
)

// ErrMalformed is returned for bytes that do not follow a format of this
// package.
var ErrMalformed = errors.New("audit: malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// checkToken accepts 1..64 characters of [A-Za-z0-9._:/+=-].
func checkToken(what, s string) error {
	if len(s) == 0 || len(s) > maxToken {
		return malformed("%s: %d characters (1..%d)", what, len(s), maxToken)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:/+=-", c) >= 0) {
			return malformed("%s %q: only [A-Za-z0-9._:/+=-]", what, s)
		}
	}
	return nil
}

func (e *Entry) validate() error {
	if !kinds[e.Kind] {
		return malformed("unknown kind %q", e.Kind)
	}
	if !decisions[e.Decision] {
		return malformed("unknown decision %q", e.Decision)
	}
	for _, f := range []struct{ what, v string }{{"purpose", e.Purpose}, {"reason", e.Reason}, {"model", e.ModelID}} {
		if err := checkToken(f.what, f.v); err != nil {
			return err
		}
	}
	return nil
}

// marshal encodes a record as the v1 leaf text:
//
//	oneface audit entry v1
//	index <decimal>
//	prev <base64 root hash of the tree before this entry>
//	time <RFC 3339, UTC, seconds>
//	device <token>
//	kind <kind>
//	purpose <token>
//	decision <decision>
//	reason <token>
//	model <token>
//	library <token>
//	commitment <base64 of 32 bytes, or ->
//
// Rules for change: the lines and their order are fixed; a new field is a
// new intro line ("... v2"), never an extra line in v1.
func (r *Record) marshal() ([]byte, error) {
	if err := r.Entry.validate(); err != nil {
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
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nindex %d\nprev %s\ntime %s\ndevice %s\nkind %s\npurpose %s\ndecision %s\nreason %s\nmodel %s\nlibrary %s\ncommitment %s\n",
		entryIntro, r.Index, base64.StdEncoding.EncodeToString(r.Prev[:]), r.Entry.Time.UTC().Format(time.RFC3339),
		r.Device, r.Entry.Kind, r.Entry.Purpose, r.Entry.Decision, r.Entry.Reason, r.Entry.ModelID, r.Library, commit)
	if b.Len() > MaxEntrySize {
		return nil, malformed("entry of %d bytes", b.Len())
	}
	return b.Bytes(), nil
}

// ParseRecord parses a v1 leaf strictly: exact intro, every line in order,
// canonical values, nothing after the last line. Parsing a leaf and
// marshalling it again gives the same bytes.
func ParseRecord(data []byte) (*Record, error) {
	if len(data) > MaxEntrySize {
		return nil, malformed("entry of %d bytes, limit %d", len(data), MaxEntrySize)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, malformed("entry does not end in a newline")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	keys := []string{"", "index", "prev", "time", "device", "kind", "purpose", "decision", "reason", "model", "library", "commitment"}
	if len(lines) != len(keys) || lines[0] != entryIntro {
		return nil, malformed("unexpected intro or line count")
	}
	v := make([]string, len(keys))
	for i := 1; i < len(keys); i++ {
		k, val, ok := strings.Cut(lines[i], " ")
		if !ok || k != keys[i] {
			return nil, malformed("line %d: want %q", i+1, keys[i])
		}
		v[i] = val
	}
	r := &Record{Device: v[4], Library: v[10]}
	var err error
	if r.Index, err = strconv.ParseInt(v[1], 10, 64); err != nil || r.Index < 0 {
		return nil, malformed("index %q", v[1])
	}
	prev, err := base64.StdEncoding.Strict().DecodeString(v[2])
	if err != nil || len(prev) != len(r.Prev) {
		return nil, malformed("prev %q", v[2])
	}
	copy(r.Prev[:], prev)
	if r.Entry.Time, err = time.Parse(time.RFC3339, v[3]); err != nil {
		return nil, malformed("time %q", v[3])
	}
	r.Entry.Kind, r.Entry.Purpose, r.Entry.Decision, r.Entry.Reason, r.Entry.ModelID = Kind(v[5]), v[6], Decision(v[7]), v[8], v[9]
	if v[11] != "-" {
		if r.Commitment, err = base64.StdEncoding.Strict().DecodeString(v[11]); err != nil {
			return nil, malformed("commitment %q", v[11])
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

const personalIntro = "oneface audit personal v1"

// marshalPersonal is the canonical form the commitment covers.
func marshalPersonal(p *Personal) ([]byte, error) {
	notice := p.Notice
	if notice == "" {
		notice = "-"
	}
	if err := checkToken("notice", notice); err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%s\nreference %s\nsubject %s\nconsent %s\nnotice %s\n", personalIntro,
		hex.EncodeToString(p.ReferenceID[:]), hex.EncodeToString(p.Subject[:]), hex.EncodeToString(p.ConsentID[:]), notice), nil
}

func parsePersonal(b []byte) (*Personal, error) {
	var p Personal
	var ref, sub, con, notice string
	n, err := fmt.Sscanf(string(b), personalIntro+"\nreference %s\nsubject %s\nconsent %s\nnotice %s\n", &ref, &sub, &con, &notice)
	if err != nil || n != 4 {
		return nil, malformed("personal part")
	}
	for _, f := range []struct {
		s   string
		dst []byte
	}{{ref, p.ReferenceID[:]}, {sub, p.Subject[:]}, {con, p.ConsentID[:]}} {
		raw, err := hex.DecodeString(f.s)
		if err != nil || len(raw) != 16 {
			return nil, malformed("personal part: %q", f.s)
		}
		copy(f.dst, raw)
	}
	p.Notice = notice
	again, err := marshalPersonal(&p)
	if err != nil || !bytes.Equal(again, b) {
		return nil, malformed("personal part not canonical")
	}
	return &p, nil
}

// commitment is HMAC-SHA256 keyed with the entry's random opening key over
// the canonical personal part. Without the opening (kept only in the side
// store, under the subject key) it reveals nothing, not even to someone
// who guesses the reference ID.
func commitment(opening, personal []byte) []byte {
	m := hmac.New(sha256.New, opening)
	m.Write(personal)
	return m.Sum(nil)
}
