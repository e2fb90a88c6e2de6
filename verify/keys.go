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
	"github.com/oneface/oneface/internal/textform"
	"golang.org/x/mod/sumdb/note"
)

// ErrKeyFormat is returned for a key or secret whose text form is invalid.
var ErrKeyFormat = errors.New("verify: malformed key")

// maxKeyText bounds the text of a key, recipient or secret as handed to a
// Parse function (the longest, an issuer key, is about 100 characters;
// the rest is room for transport whitespace).
const maxKeyText = 4 << 10

// keyText reads the text form of a key, a recipient or a secret as text
// transport leaves it: a byte-order mark, surrounding blank lines and
// spaces, CRLF, and wrapping over several lines are undone (none of these
// forms contains white space). A control character, invalid UTF-8 or more
// than maxKeyText bytes is an error naming the problem and where it is.
func keyText(what, s string) (string, error) {
	t, err := textform.Token([]byte(s), maxKeyText)
	var te *textform.Error
	switch {
	case errors.As(err, &te) && te.Line > 0:
		return "", fmt.Errorf("%w: %s: line %d, column %d: %s", ErrKeyFormat, what, te.Line, te.Column, te.Problem)
	case errors.As(err, &te):
		return "", fmt.Errorf("%w: %s: %s", ErrKeyFormat, what, te.Problem)
	case err != nil:
		return "", fmt.Errorf("%w: %s: %v", ErrKeyFormat, what, err)
	case t == "":
		return "", fmt.Errorf("%w: %s: empty", ErrKeyFormat, what)
	}
	return t, nil
}

// bech32Case maps a bech32 string to its canonical case. Bech32 is
// case-insensitive but must not mix cases (BIP 173); QR codes in
// alphanumeric mode carry it in upper case. age writes recipients in
// lower case and identities in upper case.
func bech32Case(what, s string, upper bool) (string, error) {
	lo, up := strings.ToLower(s), strings.ToUpper(s)
	if s != lo && s != up {
		return "", fmt.Errorf("%w: %s: mixes upper and lower case (bech32 allows either, not both)", ErrKeyFormat, what)
	}
	if upper {
		return up, nil
	}
	return lo, nil
}

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

// ParseIssuerKey parses the text form of an issuer signing key, as read
// from a file: surrounding white space, CRLF and wrapping are undone, then
// the key is parsed strictly ([ErrKeyFormat] naming the problem).
func ParseIssuerKey(s string) (*IssuerKey, error) {
	s, err := keyText("issuer key", s)
	if err != nil {
		return nil, err
	}
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

// ParseIssuerPublicKey parses the text form of an issuer public key
// (read as [ParseIssuerKey] reads).
func ParseIssuerPublicKey(s string) (*IssuerPublicKey, error) {
	s, err := keyText("issuer public key", s)
	if err != nil {
		return nil, err
	}
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

// ParseVerifierKey parses an age X25519 identity ("AGE-SECRET-KEY-1...",
// bech32). Surrounding white space, CRLF and wrapping are undone; all
// lower case is accepted as well as the canonical upper case, mixed case
// is [ErrKeyFormat].
func ParseVerifierKey(s string) (*VerifierKey, error) {
	s, err := keyText("verifier key", s)
	if err != nil {
		return nil, err
	}
	if s, err = bech32Case("verifier key", s, true); err != nil {
		return nil, err
	}
	id, err := age.ParseX25519Identity(s)
	if err != nil {
		return nil, fmt.Errorf("%w: verifier key: %v", ErrKeyFormat, err)
	}
	return &VerifierKey{id}, nil
}

// String returns the secret text form.
func (k *VerifierKey) String() string { return k.id.String() }

// Recipient returns the public half.
func (k *VerifierKey) Recipient() *VerifierRecipient { return &VerifierRecipient{k.id.Recipient()} }

// ParseVerifierRecipient parses an age X25519 recipient ("age1...",
// bech32). Surrounding white space, CRLF and wrapping are undone; all
// upper case (as a QR code in alphanumeric mode carries it) is accepted
// as well as the canonical lower case, mixed case is [ErrKeyFormat].
func ParseVerifierRecipient(s string) (*VerifierRecipient, error) {
	s, err := keyText("verifier recipient", s)
	if err != nil {
		return nil, err
	}
	if s, err = bech32Case("verifier recipient", s, false); err != nil {
		return nil, err
	}
	r, err := age.ParseX25519Recipient(s)
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

// ParseDeploymentSecret parses the text form, as read from a file
// (surrounding white space, CRLF and wrapping undone; the prefix and the
// base64url are case-sensitive).
func ParseDeploymentSecret(s string) (*DeploymentSecret, error) {
	s, err := keyText("deployment secret", s)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(s, deploymentSecretPrefix)
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
