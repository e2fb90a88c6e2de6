package verify

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/oneface/oneface/internal/notekey"
	"golang.org/x/mod/sumdb/note"
)

// ErrKeyFormat is returned for a key or secret whose text form is invalid.
var ErrKeyFormat = errors.New("verify: malformed key")

// IssuerKey is an issuer's Ed25519 signing key. Its text form is a
// signed-note private key (golang.org/x/mod/sumdb/note):
//
//	PRIVATE+KEY+<name>+<key hash>+<base64 of 0x01 and the 32-byte seed>
//
// It must be kept secret, on the issuer station only. DO NOT hardcode it.
type IssuerKey struct {
	name string
	priv ed25519.PrivateKey
	text string
	pub  *IssuerPublicKey
}

// IssuerPublicKey is the public half of an [IssuerKey], given to every
// verifier that trusts the issuer. Its text form is a signed-note verifier
// key: <name>+<key hash>+<base64 of 0x01 and the 32-byte public key>.
type IssuerPublicKey struct {
	name string
	pub  ed25519.PublicKey
	id   uint32
	text string
}

// GenerateIssuerKey makes a new issuer key. name identifies the issuer in
// key files (letters, digits and ".-_/", as signed-note key names).
func GenerateIssuerKey(name string) (*IssuerKey, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFormat, err)
	}
	return ParseIssuerKey(skey)
}

// ParseIssuerKey parses the text form of an issuer signing key.
func ParseIssuerKey(s string) (*IssuerKey, error) {
	s = strings.TrimSpace(s)
	name, priv, vkey, err := notekey.Private(s)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer key: %v", ErrKeyFormat, err)
	}
	pub, err := ParseIssuerPublicKey(vkey)
	if err != nil {
		return nil, err
	}
	return &IssuerKey{name: name, priv: priv, text: s, pub: pub}, nil
}

// String returns the secret text form.
func (k *IssuerKey) String() string { return k.text }

// Public returns the public key verifiers trust.
func (k *IssuerKey) Public() *IssuerPublicKey { return k.pub }

// ParseIssuerPublicKey parses the text form of an issuer public key.
func ParseIssuerPublicKey(s string) (*IssuerPublicKey, error) {
	s = strings.TrimSpace(s)
	v, pub, err := notekey.Public(s)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer public key: %v", ErrKeyFormat, err)
	}
	return &IssuerPublicKey{name: v.Name(), pub: pub, id: v.KeyHash(), text: s}, nil
}

// String returns the text form.
func (k *IssuerPublicKey) String() string { return k.text }

// Name is the issuer name in the key.
func (k *IssuerPublicKey) Name() string { return k.name }

// ID is the 32-bit key hash that references carry to name their issuer.
func (k *IssuerPublicKey) ID() uint32 { return k.id }

// VerifierKey is a verifier's (kiosk's) X25519 unsealing key, an age
// identity: "AGE-SECRET-KEY-1...". Use one per kiosk so one can be retired
// by re-issuing references without its recipient. It must be kept secret.
type VerifierKey struct{ id *age.X25519Identity }

// VerifierRecipient is the public half of a [VerifierKey], an age
// recipient "age1...", given to issuers.
type VerifierRecipient struct{ r *age.X25519Recipient }

// GenerateVerifierKey makes a new verifier key.
func GenerateVerifierKey() (*VerifierKey, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &VerifierKey{id}, nil
}

// ParseVerifierKey parses an age X25519 identity.
func ParseVerifierKey(s string) (*VerifierKey, error) {
	id, err := age.ParseX25519Identity(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: verifier key: %v", ErrKeyFormat, err)
	}
	return &VerifierKey{id}, nil
}

// String returns the secret text form.
func (k *VerifierKey) String() string { return k.id.String() }

// Recipient returns the public half.
func (k *VerifierKey) Recipient() *VerifierRecipient { return &VerifierRecipient{k.id.Recipient()} }

// ParseVerifierRecipient parses an age X25519 recipient.
func ParseVerifierRecipient(s string) (*VerifierRecipient, error) {
	r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: verifier recipient: %v", ErrKeyFormat, err)
	}
	return &VerifierRecipient{r}, nil
}

// String returns the text form.
func (r *VerifierRecipient) String() string { return r.r.String() }

// DeploymentSecret is 32 random bytes shared by a deployment's issuer and
// verifiers. It keys the subject pseudonyms (so pseudonyms of two
// deployments cannot be linked) and is mixed into the PIN layer (so a
// stolen PIN-protected card cannot be brute-forced without it). Text form:
// "ONEFACE-DEPLOYMENT-SECRET-1:" and 43 characters of unpadded base64url.
// It must be kept secret.
type DeploymentSecret struct{ b [32]byte }

const deploymentSecretPrefix = "ONEFACE-DEPLOYMENT-SECRET-1:"

var b64url = base64.RawURLEncoding.Strict()

// GenerateDeploymentSecret makes a new deployment secret.
func GenerateDeploymentSecret() *DeploymentSecret {
	var s DeploymentSecret
	rand.Read(s.b[:])
	return &s
}

// ParseDeploymentSecret parses the text form.
func ParseDeploymentSecret(s string) (*DeploymentSecret, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), deploymentSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: deployment secret: unexpected prefix", ErrKeyFormat)
	}
	raw, err := b64url.DecodeString(rest)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%w: deployment secret: want 32 bytes of base64url", ErrKeyFormat)
	}
	var d DeploymentSecret
	copy(d.b[:], raw)
	clear(raw)
	return &d, nil
}

// String returns the secret text form.
func (d *DeploymentSecret) String() string {
	return deploymentSecretPrefix + b64url.EncodeToString(d.b[:])
}

// Pseudonym is a subject's per-deployment pseudonym: the first 16 bytes of
// HMAC-SHA256 of the subject ID under a key derived from the deployment
// secret. The raw subject ID is never stored.
type Pseudonym [16]byte

// String returns the pseudonym in hex.
func (p Pseudonym) String() string { return fmt.Sprintf("%x", p[:]) }

// Pseudonym derives the pseudonym of a subject ID (the issuer's own
// identifier for the person: employee number, account...).
func (d *DeploymentSecret) Pseudonym(subjectID string) Pseudonym {
	k, err := hkdf.Key(sha256.New, d.b[:], nil, "oneface subject pseudonym v1", 32)
	if err != nil {
		panic(err) // fixed sizes: cannot fail
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(subjectID))
	var p Pseudonym
	copy(p[:], m.Sum(nil))
	return p
}
