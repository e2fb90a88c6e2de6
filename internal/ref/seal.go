package ref

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Container layout (v1):
//
//	"OFR1"  flags(1)  age-ciphertext
//
// The age plaintext repeats the flags byte (so the clear flags are
// authenticated), followed, when flags bit 0 is set, by the PIN layer
//
//	salt(16) nonce(24) XChaCha20-Poly1305(key, nonce, signed, ad = "OFR1" flags)
//
// where key = HKDF-SHA256(Argon2id(PIN, salt, t=3, m=64 MiB, p=1),
// salt = deployment secret, info = "oneface reference pin v1"), and
// otherwise by the COSE_Sign1 envelope itself. All other flag bits must be
// zero.
const (
	Intro     = "OFR1"
	TextIntro = "oneface-ref1:"

	flagPIN = 1 << 0

	// MaxSealed bounds a binary container (ten verifiers with a PIN take
	// about 1.6 KB).
	MaxSealed = 8192
	// MaxText bounds the text form.
	MaxText = len(TextIntro) + (MaxSealed*4+2)/3

	saltSize = 16
	// Argon2id parameters of v1 (RFC 9106's second recommended option with
	// one lane, so it runs the same on a single-core board).
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 1
)

// Errors of the sealing layer.
var (
	// ErrUnseal is the one opaque authentication failure: no verifier key
	// opens it, the PIN or deployment secret is wrong, or it was altered.
	ErrUnseal = errors.New("reference: cannot be opened (wrong key or PIN, or altered)")
	// ErrPINRequired: the reference is PIN-protected and no PIN was given.
	ErrPINRequired = errors.New("verify: reference PIN required")
	// ErrTooLarge: the input exceeds MaxSealed or MaxText.
	ErrTooLarge = errors.New("verify: reference too large")
)

// PIN is the optional holder PIN layer: the PIN and the deployment secret
// it is mixed with.
type PIN struct {
	PIN    string
	Secret []byte // deployment secret, 32 bytes
}

// aead derives the PIN layer's key for a salt and returns its AEAD.
func (p *PIN) aead(salt []byte) (cipher.AEAD, error) {
	if len(p.Secret) != 32 {
		return nil, errors.New("reference: deployment secret must be 32 bytes")
	}
	stretched := argon2.IDKey([]byte(p.PIN), salt, argonTime, argonMemory, argonThreads, 32)
	defer clear(stretched)
	key, err := hkdf.Key(sha256.New, stretched, p.Secret, "oneface reference pin v1", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return chacha20poly1305.NewX(key)
}

// Seal encrypts a signed envelope to the verifiers' age recipients,
// optionally under a PIN layer first.
func Seal(signed []byte, recipients []age.Recipient, pin *PIN) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("reference: no verifier recipients")
	}
	flags := byte(0)
	inner := signed
	if pin != nil {
		flags |= flagPIN
		salt := make([]byte, saltSize)
		rand.Read(salt)
		aead, err := pin.aead(salt)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize())
		rand.Read(nonce)
		inner = append(append(salt, nonce...), aead.Seal(nil, nonce, signed, []byte{'O', 'F', 'R', '1', flags})...)
	}
	var buf bytes.Buffer
	buf.WriteString(Intro)
	buf.WriteByte(flags)
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append([]byte{flags}, inner...)); err != nil {
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

// HasPIN reports whether a container's header asks for a PIN.
func HasPIN(sealed []byte) bool {
	return len(sealed) > len(Intro) && string(sealed[:len(Intro)]) == Intro && sealed[len(Intro)]&flagPIN != 0
}

// Unseal opens a container with the verifier identities (and the PIN, when
// the container has a PIN layer) and returns the signed envelope.
func Unseal(sealed []byte, ids []age.Identity, pin *PIN) ([]byte, error) {
	if len(sealed) > MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(sealed), MaxSealed)
	}
	if len(sealed) < len(Intro)+1 || string(sealed[:len(Intro)]) != Intro {
		return nil, malformed("unexpected intro")
	}
	flags := sealed[len(Intro)]
	if flags&^flagPIN != 0 {
		return nil, malformed("unknown flags %#x", flags)
	}
	if flags&flagPIN != 0 && (pin == nil || pin.PIN == "") {
		return nil, ErrPINRequired
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
		return nil, ErrUnseal
	}
	inner := plain[1:]
	if flags&flagPIN == 0 {
		return inner, nil
	}
	if len(inner) < saltSize+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, ErrUnseal
	}
	salt, rest := inner[:saltSize], inner[saltSize:]
	aead, err := pin.aead(salt)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	signed, err := aead.Open(nil, rest[:n], rest[n:], []byte{'O', 'F', 'R', '1', flags})
	if err != nil {
		return nil, ErrUnseal
	}
	return signed, nil
}

var b64 = base64.RawURLEncoding.Strict()

// EncodeText returns the URL-safe text form: TextIntro followed by the
// container in unpadded base64url.
func EncodeText(sealed []byte) string { return TextIntro + b64.EncodeToString(sealed) }

// DecodeText parses the text form strictly: exact intro, canonical
// unpadded base64url, no whitespace.
func DecodeText(s string) ([]byte, error) {
	if len(s) > MaxText {
		return nil, fmt.Errorf("%w: %d characters, limit %d", ErrTooLarge, len(s), MaxText)
	}
	rest, ok := strings.CutPrefix(s, TextIntro)
	if !ok {
		return nil, malformed("text form: unexpected intro")
	}
	b, err := b64.DecodeString(rest)
	if err != nil {
		return nil, malformed("text form: %v", err)
	}
	// Go's base64 skips CR and LF even in strict mode: demand the
	// canonical encoding, so one reference has exactly one text form.
	if len(b) == 0 || b64.EncodeToString(b) != rest {
		return nil, malformed("text form: not canonical base64url")
	}
	return b, nil
}
