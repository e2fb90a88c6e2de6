package verify

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"filippo.io/age"
	"github.com/oneface/oneface/internal/ref"
)

// Reference errors. Each failed check has its own sentinel, for errors.Is;
// every authentication failure is the one opaque [ErrAuthentication].
var (
	// ErrMalformed: the bytes are not a v1 reference.
	ErrMalformed = ref.ErrMalformed
	// ErrTooLarge: the input exceeds the format's size limits.
	ErrTooLarge = ref.ErrTooLarge
	// ErrAuthentication: no verifier key opens it, the PIN is wrong, it
	// was altered, or its signature does not verify.
	ErrAuthentication = errors.New("verify: reference authentication failed")
	// ErrPINRequired: the reference is PIN-protected; ask the holder.
	ErrPINRequired = ref.ErrPINRequired
	// ErrUntrustedIssuer: signed by a key this verifier does not trust.
	ErrUntrustedIssuer = ref.ErrUnknownIssuer
	// ErrExpired: past its expiry time.
	ErrExpired = errors.New("verify: reference expired")
	// ErrNotYetValid: issued in the future (beyond the allowed clock skew).
	ErrNotYetValid = errors.New("verify: reference not yet valid")
	// ErrRevoked: its reference ID is on the revocation list.
	ErrRevoked = errors.New("verify: reference revoked")
	// ErrPurpose: the requested purpose is not among the allowed ones.
	ErrPurpose = errors.New("verify: purpose not allowed by the reference")
	// ErrModelMismatch: made with another face model; never compared.
	ErrModelMismatch = errors.New("verify: reference made with another face model")
)

// ClockSkew is how far in the future an issued-at time may lie.
const ClockSkew = 5 * time.Minute

// ReferenceID is a reference's random 128-bit ID: the handle for
// revocation and for the audit log.
type ReferenceID [16]byte

// String returns the ID in hex.
func (id ReferenceID) String() string { return hex.EncodeToString(id[:]) }

// ParseReferenceID parses the hex form.
func ParseReferenceID(s string) (ReferenceID, error) {
	var id ReferenceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("verify: malformed reference ID %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// Quality is the enrolment quality summary a reference carries.
type Quality struct {
	Photos    int     // enrolment photos that passed the gate (their mean is the template)
	MinFacePx int     // smallest face box width among them
	Spread    float64 // largest Euclidean distance between two of them (0 for one photo)
}

// Reference is an opened, authenticated and checked reference. It holds the
// template; call [Reference.Wipe] when done with it.
type Reference struct {
	id        ReferenceID
	subject   Pseudonym
	issuer    uint32
	issuedAt  time.Time
	expiresAt time.Time
	purposes  []string
	model     ModelID
	quality   Quality
	descs     [][ref.DescriptorDims]float32
}

// ID is the reference's random ID, the handle for revocation and audit.
func (r *Reference) ID() ReferenceID { return r.id }

// Subject is the holder's per-deployment pseudonym.
func (r *Reference) Subject() Pseudonym { return r.subject }

// IssuerKeyID names the key that signed the reference.
func (r *Reference) IssuerKeyID() uint32 { return r.issuer }

// IssuedAt is when the reference was made.
func (r *Reference) IssuedAt() time.Time { return r.issuedAt }

// ExpiresAt is when the reference stops opening.
func (r *Reference) ExpiresAt() time.Time { return r.expiresAt }

// Purposes lists the purposes the reference may be used for.
func (r *Reference) Purposes() []string { return slices.Clone(r.purposes) }

// ModelID is the face model the template was made with.
func (r *Reference) ModelID() ModelID { return r.model }

// EnrollQuality summarises the enrolment.
func (r *Reference) EnrollQuality() Quality { return r.quality }

// Wipe zeroes the template held in memory (best effort: Go may have copied
// it). The Reference must not be used for matching afterwards.
func (r *Reference) Wipe() {
	for i := range r.descs {
		clear(r.descs[i][:])
	}
	r.descs = nil
}

// RevocationList tells whether a reference ID is revoked.
type RevocationList interface {
	Revoked(ReferenceID) bool
}

// RevocationSet is an in-memory [RevocationList].
type RevocationSet map[ReferenceID]struct{}

// Revoked implements [RevocationList].
func (s RevocationSet) Revoked(id ReferenceID) bool { _, ok := s[id]; return ok }

// OpenerConfig configures [NewOpener].
type OpenerConfig struct {
	Issuers []*IssuerPublicKey // trusted issuers
	Keys    []*VerifierKey     // this verifier's unsealing keys
	Secret  *DeploymentSecret  // for PIN-protected references
	Revoked RevocationList     // may be nil: nothing revoked
	ModelID ModelID            // the model the live engine runs
	Clock   func() time.Time   // default time.Now
}

// Opener opens references on the verifier side. It is safe for concurrent
// use.
type Opener struct {
	issuers map[uint32][]ed25519.PublicKey
	ids     []age.Identity
	secret  *DeploymentSecret
	revoked RevocationList
	model   ModelID
	now     func() time.Time
}

// NewOpener checks the configuration and returns an Opener.
func NewOpener(c OpenerConfig) (*Opener, error) {
	if len(c.Issuers) == 0 || len(c.Keys) == 0 {
		return nil, errors.New("verify: an opener needs trusted issuers and verifier keys")
	}
	o := &Opener{issuers: map[uint32][]ed25519.PublicKey{}, secret: c.Secret, revoked: c.Revoked, model: c.ModelID, now: c.Clock}
	for _, k := range c.Issuers {
		o.issuers[k.id] = append(o.issuers[k.id], k.pub)
	}
	for _, k := range c.Keys {
		o.ids = append(o.ids, k.id)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.revoked == nil {
		o.revoked = RevocationSet{}
	}
	return o, nil
}

// DecodeReference accepts a reference in either form — binary, or the text
// form "oneface-ref1:..." (as read from a QR code) — and returns the binary
// form. It checks size and form only; [Opener.Open] does the rest.
func DecodeReference(b []byte) ([]byte, error) {
	if len(b) >= len(ref.TextIntro) && string(b[:len(ref.TextIntro)]) == ref.TextIntro {
		return ref.DecodeText(string(b))
	}
	if len(b) > ref.MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), ref.MaxSealed)
	}
	return b, nil
}

// EncodeText returns the URL-safe text form of a binary reference.
func EncodeText(sealed []byte) string { return ref.EncodeText(sealed) }

// HasPIN reports whether a reference asks for its holder's PIN, so a kiosk
// can prompt before calling Open.
func HasPIN(sealed []byte) bool { return ref.HasPIN(sealed) }

// Open unseals a reference (binary or text form), verifies its signature
// against the trusted issuers before parsing its content, then checks
// expiry, revocation, model and purpose, in that order. pin is the
// holder's PIN, or "" for references without one.
func (o *Opener) Open(sealed []byte, purpose, pin string) (*Reference, error) {
	bin, err := DecodeReference(sealed)
	if err != nil {
		return nil, err
	}
	var p *ref.PIN
	if pin != "" {
		if o.secret == nil {
			return nil, errors.New("verify: a PIN was given but the opener has no deployment secret")
		}
		p = &ref.PIN{PIN: pin, Secret: o.secret.b[:]}
	}
	signed, err := ref.Unseal(bin, o.ids, p)
	switch {
	case errors.Is(err, ref.ErrUnseal):
		return nil, ErrAuthentication
	case err != nil:
		return nil, err
	}
	payload, kid, err := ref.Verify(signed, func(id uint32) []ed25519.PublicKey { return o.issuers[id] })
	switch {
	case errors.Is(err, ref.ErrSignature):
		return nil, ErrAuthentication
	case err != nil:
		return nil, err
	}
	// Authenticated: it is now safe to parse the content.
	body, err := ref.UnmarshalBody(payload)
	if err != nil {
		return nil, err
	}
	if body.IssuerKeyID != kid {
		return nil, fmt.Errorf("%w: body names issuer %08x, signature key %08x", ErrMalformed, body.IssuerKeyID, kid)
	}
	r, err := fromBody(body)
	if err != nil {
		return nil, err
	}
	now := o.now()
	switch {
	case !now.Before(r.expiresAt):
		err = fmt.Errorf("%w: at %s", ErrExpired, r.expiresAt.UTC().Format(time.RFC3339))
	case r.issuedAt.After(now.Add(ClockSkew)):
		err = fmt.Errorf("%w: issued at %s", ErrNotYetValid, r.issuedAt.UTC().Format(time.RFC3339))
	case o.revoked.Revoked(r.id):
		err = fmt.Errorf("%w: %s", ErrRevoked, r.id)
	case r.model != o.model:
		err = fmt.Errorf("%w: reference %s, engine %s", ErrModelMismatch, r.model, o.model)
	case !slices.Contains(r.purposes, purpose):
		err = fmt.Errorf("%w: %q not in %q", ErrPurpose, purpose, r.purposes)
	}
	if err != nil {
		r.Wipe()
		return nil, err
	}
	return r, nil
}

func fromBody(b *ref.Body) (*Reference, error) {
	descs, err := ref.DecodeDescriptors(b.Descriptors)
	if err != nil {
		return nil, err
	}
	r := &Reference{
		issuer:    b.IssuerKeyID,
		issuedAt:  time.Unix(b.IssuedAt, 0),
		expiresAt: time.Unix(b.ExpiresAt, 0),
		purposes:  b.Purposes,
		quality: Quality{
			Photos:    int(b.Quality.Photos),
			MinFacePx: int(b.Quality.MinFacePx),
			Spread:    float64(b.Quality.SpreadMilli) / 1000,
		},
		descs: descs,
	}
	copy(r.id[:], b.ID)
	copy(r.subject[:], b.Subject)
	copy(r.model[:], b.ModelID)
	return r, nil
}

// issueRequest is everything a reference holds, before signing.
type issueRequest struct {
	subject   Pseudonym
	issuedAt  time.Time
	expiresAt time.Time
	purposes  []string
	model     ModelID
	quality   Quality
	descs     [][ref.DescriptorDims]float32
}

// issue builds, signs and seals a reference. It is the whole issuer side
// after the face engine: Enroll calls it with the enrolment template.
func issue(key *IssuerKey, req issueRequest, recipients []*VerifierRecipient, pin *ref.PIN) (ReferenceID, []byte, error) {
	var id ReferenceID
	rand.Read(id[:])
	enc, err := ref.EncodeDescriptors(req.descs)
	if err != nil {
		return id, nil, err
	}
	purposes := slices.Clone(req.purposes)
	slices.Sort(purposes)
	body := &ref.Body{
		Version:     ref.Version,
		ID:          id[:],
		Subject:     req.subject[:],
		IssuerKeyID: key.pub.id,
		IssuedAt:    req.issuedAt.Unix(),
		ExpiresAt:   req.expiresAt.Unix(),
		Purposes:    slices.Compact(purposes),
		ModelID:     req.model[:],
		Descriptors: enc,
		Quality: ref.Quality{
			Photos:      uint64(req.quality.Photos),
			MinFacePx:   uint64(req.quality.MinFacePx),
			SpreadMilli: uint64(req.quality.Spread*1000 + 0.5),
		},
	}
	payload, err := body.Marshal()
	if err != nil {
		return id, nil, err
	}
	signed, err := ref.Sign(payload, key.pub.id, key.priv)
	if err != nil {
		return id, nil, err
	}
	rs := make([]age.Recipient, len(recipients))
	for i, r := range recipients {
		rs[i] = r.r
	}
	sealed, err := ref.Seal(signed, rs, pin)
	return id, sealed, err
}
