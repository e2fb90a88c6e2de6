package ref

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Version 2 identifiers.
const (
	VersionV2   = 2
	IntroV2     = "OFR2"
	TextIntroV2 = "oneface-ref2:"
	// DeploymentIDSize is the length of the deployment identifier a v2
	// body carries.
	DeploymentIDSize = 8
)

// BodyV2 is the signed content of a v2 reference: a CBOR map with integer
// keys in RFC 8949 core deterministic encoding.
//
// Rules for changing it: the CBOR keys must never be renumbered, reused or
// change type; Do NOT reorder them. A v2 parser rejects unknown keys, so a
// new field means a new version and a new intro. No floats in CBOR: the
// template is a byte string in a documented fixed layout ([Template]).
//
// What v2 adds to v1, and why: PINRequired and Deployment are signed, so
// whoever holds a kiosk's unsealing key and the deployment secret can
// neither strip the PIN layer (the outer flag must equal PINRequired) nor
// replay the reference in another deployment that trusts the same issuer
// (Deployment must equal the verifier's own). The template names its
// encoding and dimension, for the 512-D embedding.
//
// The verifier recipients are deliberately not bound: age's X25519
// stanzas do not name their recipient, so a kiosk could check a
// recipients hash only against a complete list of the deployment's kiosks
// it would have to be configured with; the deployment ID binds what a
// kiosk can check, in 10 bytes.
type BodyV2 struct {
	Version     uint64   `cbor:"1,keyasint"`  // always 2
	ID          []byte   `cbor:"2,keyasint"`  // random reference ID, 16 bytes; equals the container's
	Subject     []byte   `cbor:"3,keyasint"`  // per-deployment subject pseudonym, 16 bytes
	IssuerKeyID uint32   `cbor:"4,keyasint"`  // key hash of the issuer's signing key
	IssuedAt    int64    `cbor:"5,keyasint"`  // Unix seconds
	ExpiresAt   int64    `cbor:"6,keyasint"`  // Unix seconds, > IssuedAt
	Purposes    []string `cbor:"7,keyasint"`  // 1..8 allowed purposes, sorted, unique
	ModelID     []byte   `cbor:"8,keyasint"`  // 16 bytes
	Template    Template `cbor:"9,keyasint"`  // the template
	Quality     Quality  `cbor:"10,keyasint"` // enrolment quality summary
	PINRequired bool     `cbor:"11,keyasint"` // the container must carry the PIN layer
	Deployment  []byte   `cbor:"12,keyasint"` // deployment ID, 8 bytes, derived from the deployment secret
}

// Marshal validates b and encodes it deterministically.
func (b *BodyV2) Marshal() ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	return encMode.Marshal(b)
}

// UnmarshalBodyV2 decodes a v2 body strictly, as [UnmarshalBody] does v1.
func UnmarshalBodyV2(data []byte) (*BodyV2, error) {
	var b BodyV2
	if err := decMode.Unmarshal(data, &b); err != nil {
		return nil, malformed("body: %v", err)
	}
	if err := b.validate(); err != nil {
		clear(b.Template.Data)
		return nil, err
	}
	again, err := encMode.Marshal(&b)
	if err != nil || !bytes.Equal(again, data) {
		clear(again)
		clear(b.Template.Data)
		return nil, malformed("body: not in deterministic encoding")
	}
	clear(again)
	return &b, nil
}

func (b *BodyV2) validate() error {
	v1 := Body{Version: Version, ID: b.ID, Subject: b.Subject, ModelID: b.ModelID, IssuedAt: b.IssuedAt,
		ExpiresAt: b.ExpiresAt, Purposes: b.Purposes, Quality: b.Quality}
	switch {
	case b.Version != VersionV2:
		return malformed("body: version %d, want %d", b.Version, VersionV2)
	case len(b.Deployment) != DeploymentIDSize:
		return malformed("body: deployment ID of %d bytes", len(b.Deployment))
	case b.Template.Count() == 0:
		return malformed("body: template of %d bytes, encoding %d, %d dimensions", len(b.Template.Data), b.Template.Encoding, b.Template.Dims)
	}
	if err := v1.validateCommon(); err != nil {
		return err
	}
	vs, err := b.Template.Decode() // every value must be finite (found by FuzzBodyV2)
	if err != nil {
		return err
	}
	wipeAll(vs, nil)
	return nil
}

// DeploymentID derives the public deployment identifier from the 32-byte
// deployment secret: the first 8 bytes of HKDF-SHA256(secret, no salt,
// info "oneface deployment id v2"). It names the deployment without
// revealing the secret.
func DeploymentID(secret []byte) ([]byte, error) {
	if len(secret) != 32 {
		return nil, errors.New("reference: deployment secret must be 32 bytes")
	}
	return hkdf.Key(sha256.New, secret, nil, "oneface deployment id v2", DeploymentIDSize)
}

// Container layout (v2):
//
//	"OFR2"  flags(1)  age-ciphertext
//
// The age plaintext is
//
//	flags(1)  id(16)  inner
//
// (the flags repeated, so the clear flags are authenticated; id is the
// reference ID, so a kiosk can count a PIN attempt against its reference
// before running Argon2), and inner is, when flags bit 0 is set, the PIN
// layer
//
//	salt(16)  XChaCha20-Poly1305(key, nonce, signed, ad = "OFR2" flags id)
//
// with key ‖ nonce = HKDF-SHA256(Argon2id(PIN, salt, t=3, m=64 MiB, p=1),
// salt = deployment secret, info = "oneface reference pin v2", 32+24
// bytes) — the nonce is derived, as the salt is fresh for every seal —
// and otherwise the COSE_Sign1 envelope itself.
const (
	flagsV2Mask = flagPIN
	pinInfoV2   = "oneface reference pin v2"
)

func (p *PIN) keyNonceV2(salt []byte) (key, nonce []byte, err error) {
	if len(p.Secret) != 32 {
		return nil, nil, errors.New("reference: deployment secret must be 32 bytes")
	}
	stretched := argon2.IDKey([]byte(p.PIN), salt, argonTime, argonMemory, argonThreads, 32)
	defer clear(stretched)
	kn, err := hkdf.Key(sha256.New, stretched, p.Secret, pinInfoV2, chacha20poly1305.KeySize+chacha20poly1305.NonceSizeX)
	if err != nil {
		return nil, nil, err
	}
	return kn[:chacha20poly1305.KeySize], kn[chacha20poly1305.KeySize:], nil
}

func adV2(flags byte, id []byte) []byte {
	return append([]byte{'O', 'F', 'R', '2', flags}, id...)
}

// SealV2 encrypts a v2 signed envelope for reference id to the verifiers'
// age recipients, under the PIN layer first when pin is not nil.
func SealV2(signed, id []byte, recipients []age.Recipient, pin *PIN) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("reference: no verifier recipients")
	}
	if len(id) != IDSize {
		return nil, errors.New("reference: reference ID must be 16 bytes")
	}
	flags := byte(0)
	if pin != nil {
		flags |= flagPIN
	}
	plain := append([]byte{flags}, id...)
	if pin == nil {
		plain = append(plain, signed...)
	} else {
		salt := make([]byte, saltSize)
		rand.Read(salt)
		key, nonce, err := pin.keyNonceV2(salt)
		if err != nil {
			return nil, err
		}
		aead, err := chacha20poly1305.NewX(key)
		clear(key)
		if err != nil {
			return nil, err
		}
		plain = append(plain, salt...)
		plain = aead.Seal(plain, nonce, signed, adV2(flags, id))
	}
	defer clear(plain)
	var buf bytes.Buffer
	buf.WriteString(IntroV2)
	buf.WriteByte(flags)
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes sealed, limit %d (fewer verifiers)", ErrTooLarge, buf.Len(), MaxSealed)
	}
	return buf.Bytes(), nil
}

// Outer is a container whose age layer is open: what a verifier knows
// before the (costly) PIN layer and the signature.
type Outer struct {
	Version int    // 1 or 2
	PIN     bool   // the container has the PIN layer
	ID      []byte // v2: the reference ID the container claims (authenticated by age only); v1: nil
	flags   byte
	inner   []byte
}

// ContainerVersion returns 1 or 2 for a container's intro, 0 otherwise.
func ContainerVersion(sealed []byte) int {
	switch {
	case bytes.HasPrefix(sealed, []byte(Intro)):
		return 1
	case bytes.HasPrefix(sealed, []byte(IntroV2)):
		return 2
	}
	return 0
}

// UnsealOuter checks size, intro and flags, then opens the age layer with
// the verifier identities. It runs no Argon2. Any age failure is
// [ErrUnseal].
func UnsealOuter(sealed []byte, ids []age.Identity) (*Outer, error) {
	if len(sealed) > MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(sealed), MaxSealed)
	}
	v := ContainerVersion(sealed)
	if v == 0 || len(sealed) < len(Intro)+1 {
		return nil, malformed("unexpected intro")
	}
	flags := sealed[len(Intro)]
	if flags&^flagPIN != 0 {
		return nil, malformed("unknown flags %#x", flags)
	}
	if len(ids) == 0 {
		return nil, errors.New("reference: no verifier identities")
	}
	r, err := age.Decrypt(bytes.NewReader(sealed[len(Intro)+1:]), ids...)
	if err != nil {
		return nil, ErrUnseal
	}
	plain, err := io.ReadAll(io.LimitReader(r, MaxSealed))
	if err != nil || len(plain) == 0 || plain[0] != flags {
		clear(plain)
		return nil, ErrUnseal
	}
	o := &Outer{Version: v, PIN: flags&flagPIN != 0, flags: flags, inner: plain[1:]}
	if v == 2 {
		if len(plain) < 1+IDSize {
			clear(plain)
			return nil, ErrUnseal
		}
		o.ID, o.inner = bytes.Clone(plain[1:1+IDSize]), plain[1+IDSize:]
	}
	return o, nil
}

// Open removes the PIN layer, if the container has one, and returns the
// signed envelope (which the caller must verify before parsing). A wrong
// PIN or deployment secret, or an altered layer, is [ErrUnseal]. This is
// where Argon2id (64 MiB) runs: callers bound it (package verify counts
// the attempt against the reference first and runs it behind a
// semaphore).
func (o *Outer) Open(pin *PIN) ([]byte, error) {
	if !o.PIN {
		return o.inner, nil
	}
	if pin == nil || pin.PIN == "" {
		return nil, ErrPINRequired
	}
	if o.Version == 1 {
		if len(o.inner) < saltSize+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
			return nil, ErrUnseal
		}
		salt, rest := o.inner[:saltSize], o.inner[saltSize:]
		aead, err := pin.aead(salt)
		if err != nil {
			return nil, err
		}
		n := aead.NonceSize()
		signed, err := aead.Open(nil, rest[:n], rest[n:], []byte{'O', 'F', 'R', '1', o.flags})
		if err != nil {
			return nil, ErrUnseal
		}
		return signed, nil
	}
	if len(o.inner) < saltSize+chacha20poly1305.Overhead {
		return nil, ErrUnseal
	}
	key, nonce, err := pin.keyNonceV2(o.inner[:saltSize])
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	signed, err := aead.Open(nil, nonce, o.inner[saltSize:], adV2(o.flags, o.ID))
	if err != nil {
		return nil, ErrUnseal
	}
	return signed, nil
}

// Plaintext is the age plaintext after the flags byte (for wipe tests).
func (o *Outer) Plaintext() []byte { return o.inner }

// Wipe zeroes the age plaintext (which, without a PIN layer, holds the
// signed template in clear).
func (o *Outer) Wipe() {
	clear(o.inner)
	clear(o.ID)
}

// EncodeTextV2 returns the v2 text form: TextIntroV2 and the container in
// unpadded base64url.
func EncodeTextV2(sealed []byte) string { return TextIntroV2 + b64.EncodeToString(sealed) }

// DecodeTextAny parses the text form of either version strictly (exact
// intro, canonical unpadded base64url, no whitespace). The container's own
// intro must match the text intro's version.
func DecodeTextAny(s string) ([]byte, error) {
	if strings.HasPrefix(s, TextIntro) {
		b, err := DecodeText(s)
		if err == nil && ContainerVersion(b) != 1 {
			return nil, malformed("text form: v1 text holds no v1 container")
		}
		return b, err
	}
	if len(s) > MaxText {
		return nil, fmt.Errorf("%w: %d characters, limit %d", ErrTooLarge, len(s), MaxText)
	}
	rest, ok := strings.CutPrefix(s, TextIntroV2)
	if !ok {
		return nil, malformed("text form: unexpected intro")
	}
	b, err := b64.DecodeString(rest)
	if err != nil {
		return nil, malformed("text form: %v", err)
	}
	if len(b) == 0 || b64.EncodeToString(b) != rest {
		return nil, malformed("text form: not canonical base64url")
	}
	if ContainerVersion(b) != 2 {
		return nil, malformed("text form: v2 text holds no v2 container")
	}
	return b, nil
}

// HasPINAny reports whether a v1 or v2 container's header asks for a PIN.
func HasPINAny(sealed []byte) bool {
	return ContainerVersion(sealed) != 0 && len(sealed) > len(Intro) && sealed[len(Intro)]&flagPIN != 0
}
