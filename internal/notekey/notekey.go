// Package notekey reads the Ed25519 keys inside signed-note key strings
// (golang.org/x/mod/sumdb/note), which note itself validates but does not
// expose: oneface signs COSE references and derives public keys with them.
package notekey

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

const algEd25519 = 1

// ErrFormat is returned for a malformed or non-Ed25519 key.
var ErrFormat = errors.New("malformed signed-note key")

// Private parses "PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>" after
// note has validated it, and returns the key name, the Ed25519 private key
// and the matching verifier key text.
func Private(skey string) (name string, priv ed25519.PrivateKey, vkey string, err error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", nil, "", fmt.Errorf("%w: %v", ErrFormat, err)
	}
	f := strings.SplitN(skey, "+", 5) // the base64 key may itself contain '+'
	raw, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return "", nil, "", fmt.Errorf("%w: not an Ed25519 key", ErrFormat)
	}
	priv = ed25519.NewKeyFromSeed(raw[1:])
	clear(raw)
	vkey, err = note.NewEd25519VerifierKey(f[2], priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", nil, "", fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return f[2], priv, vkey, nil
}

// Public parses "<name>+<hash>+<base64(0x01 || key)>" after note has
// validated it, and returns the verifier and the Ed25519 public key.
func Public(vkey string) (note.Verifier, ed25519.PublicKey, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	f := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return nil, nil, fmt.Errorf("%w: not an Ed25519 key", ErrFormat)
	}
	return v, ed25519.PublicKey(raw[1:]), nil
}
