package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"filippo.io/age"
	"github.com/oneface/oneface/internal/ref"
	"github.com/oneface/oneface/internal/textform"
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
	// ErrV1: a version 1 reference, and the opener does not accept v1
	// ([OpenerConfig].AllowV1). Re-issue it as v2.
	ErrV1 = errors.New("verify: version 1 reference refused (re-issue it; see OpenerConfig.AllowV1)")
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
	version   int
	descs     [][]float32
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
		clear(r.descs[i])
	}
	r.descs = nil
}

// Version is the reference format version, 1 or 2.
func (r *Reference) Version() int { return r.version }

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
	// Secret is the deployment secret: it names the deployment a v2
	// reference must be bound to, and opens PIN-protected references.
	// Required.
	Secret  *DeploymentSecret
	Revoked RevocationList // may be nil: nothing revoked
	ModelID ModelID        // the model the live engine runs
	// ModelIDs are further models whose references this opener accepts
	// (e.g. both IDs of an engine that runs two models: see
	// Engine.ModelIDFor); a reference under any other ID is
	// ErrModelMismatch. The verifier then compares each reference under
	// its own model, if its Policy.Models allows it.
	ModelIDs []ModelID
	Clock    func() time.Time // default time.Now
	// AllowV1 accepts version 1 references, which are WEAKER: their signed
	// body binds neither the PIN requirement nor the deployment, so whoever
	// holds a kiosk key and the deployment secret can strip a v1 PIN or
	// replay a v1 reference in another deployment trusting the same
	// issuer; and a v1 PIN attempt cannot be counted against its reference
	// before Argon2 runs, so all v1 PIN attempts on a kiosk share one
	// lockout counter. Set it only while v1 cards are being replaced.
	AllowV1 bool
}

// Opener opens references on the verifier side. It is safe for concurrent
// use.
type Opener struct {
	issuers    map[uint32][]ed25519.PublicKey
	ids        []age.Identity
	secret     *DeploymentSecret
	deployment []byte
	revoked    RevocationList
	model      ModelID
	models     []ModelID // further accepted models (OpenerConfig.ModelIDs)
	now        func() time.Time
	allowV1    bool
	argon      chan struct{}                 // semaphore: one PIN derivation (64 MiB) at a time
	onWipe     func(what string, buf []byte) // tests: called after each buffer is wiped
}

// wipe zeroes a buffer that held the template (or the envelope around it).
func (o *Opener) wipe(what string, buf []byte) {
	clear(buf)
	if o.onWipe != nil {
		o.onWipe(what, buf)
	}
}

// NewOpener checks the configuration and returns an Opener.
func NewOpener(c OpenerConfig) (*Opener, error) {
	if len(c.Issuers) == 0 || len(c.Keys) == 0 {
		return nil, errors.New("verify: an opener needs trusted issuers and verifier keys")
	}
	if c.Secret == nil {
		return nil, errors.New("verify: an opener needs the deployment secret (references are bound to their deployment)")
	}
	dep, err := ref.DeploymentID(c.Secret.b[:])
	if err != nil {
		return nil, err
	}
	o := &Opener{issuers: map[uint32][]ed25519.PublicKey{}, secret: c.Secret, deployment: dep, revoked: c.Revoked,
		model: c.ModelID, models: slices.Clone(c.ModelIDs), now: c.Clock, allowV1: c.AllowV1, argon: make(chan struct{}, 1)}
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

// accepts reports whether references under model id are opened.
func (o *Opener) accepts(id ModelID) bool { return id == o.model || slices.Contains(o.models, id) }

// DecodeReference accepts a reference in either form — binary, or the text
// form "oneface-ref2:..." (or "oneface-ref1:...") as read from a QR code or
// a file — and returns the binary form. It checks size and form only;
// [Opener.Open] does the rest.
//
// The text form is read as text transport leaves it: a byte-order mark,
// blank lines around it, CRLF or CR line ends, trailing spaces and a final
// newline (as `oneface enroll -o` writes) are accepted, and so is the text
// wrapped over several lines; the joined text must then be the one
// canonical encoding. Anything else — a control character, invalid UTF-8,
// a character outside base64url, a non-canonical encoding — is
// [ErrMalformed] naming the problem (and, for a stray byte, its line and
// column); text beyond the text form's size limit is [ErrTooLarge].
func DecodeReference(b []byte) ([]byte, error) {
	if isRefText(b) {
		// Whitespace can at most double a wrapped text; the bound on the
		// joined token is the text form's own.
		s, err := textform.Token(b, 2*ref.MaxText)
		var te *textform.Error
		switch {
		case errors.Is(err, textform.ErrTooLarge):
			return nil, fmt.Errorf("%w: text form: %d bytes, limit %d", ErrTooLarge, len(b), 2*ref.MaxText)
		case errors.As(err, &te) && te.Line > 0:
			return nil, fmt.Errorf("%w: text form: line %d, column %d: %s", ErrMalformed, te.Line, te.Column, te.Problem)
		case err != nil:
			return nil, fmt.Errorf("%w: text form: %v", ErrMalformed, err)
		}
		return ref.DecodeTextAny(s)
	}
	if len(b) > ref.MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), ref.MaxSealed)
	}
	return b, nil
}

// isRefText reports whether b starts, after what text transport may put
// in front (a byte-order mark, blank lines, spaces), with a text form's
// intro.
func isRefText(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	b = bytes.TrimLeft(b, " \t\r\n")
	return bytes.HasPrefix(b, []byte(ref.TextIntro)) || bytes.HasPrefix(b, []byte(ref.TextIntroV2))
}

// EncodeText returns the URL-safe text form of a binary reference
// ("oneface-ref2:" and unpadded base64url for v2).
func EncodeText(sealed []byte) string {
	if ref.ContainerVersion(sealed) == 1 {
		return ref.EncodeText(sealed)
	}
	return ref.EncodeTextV2(sealed)
}

// HasPIN reports whether a reference asks for its holder's PIN, so a kiosk
// can prompt before calling Open. (The clear flag is only a hint: a v2
// reference's signed body says whether a PIN is required, and a container
// that disagrees does not open.)
func HasPIN(sealed []byte) bool {
	b, err := DecodeReference(sealed)
	return err == nil && ref.HasPINAny(b)
}

// Open unseals a reference (binary or text form), verifies its signature
// against the trusted issuers before parsing its content, then checks the
// bindings (PIN requirement, deployment, reference ID), expiry,
// revocation, model and purpose, in that order. pin is the holder's PIN,
// or "" for references without one.
//
// Open does not count PIN attempts: a kiosk uses [Verifier.Verify], which
// counts each one against the reference's lockout before Argon2 runs.
func (o *Opener) Open(sealed []byte, purpose, pin string) (*Reference, error) {
	outer, err := o.unseal(sealed, pin != "")
	if err != nil {
		return nil, err
	}
	defer o.wipeOuter(outer)
	return o.open(outer, purpose, pin)
}

// wipeOuter zeroes the age plaintext.
func (o *Opener) wipeOuter(outer *ref.Outer) {
	outer.Wipe()
	if o.onWipe != nil {
		o.onWipe("age plaintext", outer.Plaintext())
	}
}

// unseal runs the cheap part of opening: size, form, version, the PIN
// prompt, and the age layer.
func (o *Opener) unseal(sealed []byte, havePIN bool) (*ref.Outer, error) {
	bin, err := DecodeReference(sealed)
	if err != nil {
		return nil, err
	}
	switch ref.ContainerVersion(bin) {
	case 1:
		if !o.allowV1 {
			return nil, ErrV1
		}
	case 0:
		return nil, fmt.Errorf("%w: unexpected intro", ErrMalformed)
	}
	if ref.HasPINAny(bin) && !havePIN {
		return nil, ErrPINRequired
	}
	outer, err := ref.UnsealOuter(bin, o.ids)
	switch {
	case errors.Is(err, ref.ErrUnseal):
		return nil, ErrAuthentication
	case err != nil:
		return nil, err
	}
	return outer, nil
}

// open runs the PIN layer (Argon2id, behind the opener's semaphore), the
// signature, the strict parse and every check after it. It wipes every
// buffer that held the template (the PIN layer's plaintext, the COSE
// payload, the parsed body) before returning; on success the template
// lives only in the returned Reference.
func (o *Opener) open(outer *ref.Outer, purpose, pin string) (*Reference, error) {
	var signed []byte
	if outer.PIN {
		p := &ref.PIN{PIN: pin, Secret: o.secret.b[:]}
		o.argon <- struct{}{}
		var err error
		signed, err = outer.Open(p)
		<-o.argon
		switch {
		case errors.Is(err, ref.ErrUnseal):
			return nil, ErrAuthentication
		case err != nil:
			return nil, err
		}
		defer o.wipe("PIN layer plaintext", signed)
	} else {
		signed, _ = outer.Open(nil)
	}
	keys := func(id uint32) []ed25519.PublicKey { return o.issuers[id] }
	verifySig := ref.VerifyV2
	if outer.Version == 1 {
		verifySig = ref.Verify
	}
	payload, kid, err := verifySig(signed, keys)
	switch {
	case errors.Is(err, ref.ErrSignature):
		return nil, ErrAuthentication
	case err != nil:
		return nil, err
	}
	// Authenticated: it is now safe to parse the content. payload aliases
	// a fresh buffer of the COSE decoder: wipe it too.
	defer o.wipe("COSE payload", payload)
	var r *Reference
	if outer.Version == 1 {
		body, err := ref.UnmarshalBody(payload)
		if err != nil {
			return nil, err
		}
		defer o.wipe("parsed body template", body.Descriptors)
		if body.IssuerKeyID != kid {
			return nil, fmt.Errorf("%w: body names issuer %08x, signature key %08x", ErrMalformed, body.IssuerKeyID, kid)
		}
		if r, err = fromBodyV1(body); err != nil {
			return nil, err
		}
	} else {
		body, err := ref.UnmarshalBodyV2(payload)
		if err != nil {
			return nil, err
		}
		defer o.wipe("parsed body template", body.Template.Data)
		switch {
		case body.IssuerKeyID != kid:
			return nil, fmt.Errorf("%w: body names issuer %08x, signature key %08x", ErrMalformed, body.IssuerKeyID, kid)
		// The signed body and the container must agree: a container
		// re-sealed without its PIN layer, under another ID, or for
		// another deployment is not the reference the issuer signed.
		case body.PINRequired != outer.PIN, !bytes.Equal(body.ID, outer.ID), !bytes.Equal(body.Deployment, o.deployment):
			return nil, ErrAuthentication
		}
		if r, err = fromBodyV2(body); err != nil {
			return nil, err
		}
	}
	now := o.now()
	switch {
	case !now.Before(r.expiresAt):
		err = fmt.Errorf("%w: at %s", ErrExpired, r.expiresAt.UTC().Format(time.RFC3339))
	case r.issuedAt.After(now.Add(ClockSkew)):
		err = fmt.Errorf("%w: issued at %s", ErrNotYetValid, r.issuedAt.UTC().Format(time.RFC3339))
	case o.revoked.Revoked(r.id):
		err = fmt.Errorf("%w: %s", ErrRevoked, r.id)
	case !o.accepts(r.model):
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

func fromBodyV1(b *ref.Body) (*Reference, error) {
	descs, err := ref.DecodeDescriptors(b.Descriptors)
	if err != nil {
		return nil, err
	}
	vecs := make([][]float32, len(descs))
	for i := range descs {
		vecs[i] = slices.Clone(descs[i][:])
		clear(descs[i][:])
	}
	return newReference(1, b.ID, b.Subject, b.ModelID, b.IssuerKeyID, b.IssuedAt, b.ExpiresAt, b.Purposes, b.Quality, vecs), nil
}

func fromBodyV2(b *ref.BodyV2) (*Reference, error) {
	vecs, err := b.Template.Decode()
	if err != nil {
		return nil, err
	}
	return newReference(2, b.ID, b.Subject, b.ModelID, b.IssuerKeyID, b.IssuedAt, b.ExpiresAt, b.Purposes, b.Quality, vecs), nil
}

func newReference(version int, id, subject, model []byte, issuer uint32, issued, expires int64, purposes []string, q ref.Quality, vecs [][]float32) *Reference {
	r := &Reference{
		version:   version,
		issuer:    issuer,
		issuedAt:  time.Unix(issued, 0),
		expiresAt: time.Unix(expires, 0),
		purposes:  purposes,
		quality: Quality{
			Photos:    int(q.Photos),
			MinFacePx: int(q.MinFacePx),
			Spread:    float64(q.SpreadMilli) / 1000,
		},
		descs: vecs,
	}
	copy(r.id[:], id)
	copy(r.subject[:], subject)
	copy(r.model[:], model)
	return r
}

// issueRequest is everything a reference holds, before signing.
type issueRequest struct {
	subject   Pseudonym
	issuedAt  time.Time
	expiresAt time.Time
	purposes  []string
	model     ModelID
	quality   Quality
	descs     [][]float32
}

// templateEncoding is the encoding Enroll uses for a template of dims
// values: half precision for the 128-D dlib descriptor (measured lossless
// for decisions), int8 with a per-vector scale for 512-D embeddings (half
// precision would not fit the QR budget).
func templateEncoding(dims int) ref.Encoding {
	if dims > 128 {
		return ref.EncodingInt8
	}
	return ref.EncodingFloat16
}

// issue builds, signs and seals a v2 reference. It is the whole issuer
// side after the face engine: Enroll calls it with the enrolment template.
func issue(key *IssuerKey, secret *DeploymentSecret, req issueRequest, recipients []*VerifierRecipient, pin string) (ReferenceID, []byte, error) {
	var id ReferenceID
	rand.Read(id[:])
	if len(req.descs) == 0 {
		return id, nil, errors.New("verify: empty template")
	}
	tmpl, err := ref.EncodeTemplate(templateEncoding(len(req.descs[0])), req.descs)
	if err != nil {
		return id, nil, err
	}
	defer clear(tmpl.Data)
	dep, err := ref.DeploymentID(secret.b[:])
	if err != nil {
		return id, nil, err
	}
	purposes := slices.Clone(req.purposes)
	slices.Sort(purposes)
	body := &ref.BodyV2{
		Version:     ref.VersionV2,
		ID:          id[:],
		Subject:     req.subject[:],
		IssuerKeyID: key.pub.id,
		IssuedAt:    req.issuedAt.Unix(),
		ExpiresAt:   req.expiresAt.Unix(),
		Purposes:    slices.Compact(purposes),
		ModelID:     req.model[:],
		Template:    tmpl,
		Quality: ref.Quality{
			Photos:      uint64(req.quality.Photos),
			MinFacePx:   uint64(req.quality.MinFacePx),
			SpreadMilli: uint64(req.quality.Spread*1000 + 0.5),
		},
		PINRequired: pin != "",
		Deployment:  dep,
	}
	payload, err := body.Marshal()
	if err != nil {
		return id, nil, err
	}
	defer clear(payload)
	signed, err := ref.SignV2(payload, key.pub.id, key.priv)
	if err != nil {
		return id, nil, err
	}
	defer clear(signed)
	rs := make([]age.Recipient, len(recipients))
	for i, r := range recipients {
		rs[i] = r.r
	}
	var p *ref.PIN
	if pin != "" {
		p = &ref.PIN{PIN: pin, Secret: secret.b[:]}
	}
	sealed, err := ref.SealV2(signed, id[:], rs, p)
	return id, sealed, err
}
