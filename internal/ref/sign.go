package ref

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"

	"github.com/veraison/go-cose"
)

// MaxSigned bounds a COSE_Sign1 envelope: a body with 4 descriptors is
// about 1.2 KB.
const MaxSigned = 2048

// externalAAD binds every signature to this format and version, so a v1
// signature can never be replayed as another format's.
var (
	externalAAD   = []byte("oneface reference v1")
	externalAADv2 = []byte("oneface reference v2")
)

// Errors of the signature layer.
var (
	// ErrUnknownIssuer: the key ID names no trusted issuer key.
	ErrUnknownIssuer = errors.New("verify: reference issuer not trusted")
	// ErrSignature: the signature does not verify under the trusted key.
	ErrSignature = errors.New("reference: bad signature")
)

func kid(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }

// Sign wraps body in a tagged COSE_Sign1 envelope signed with EdDSA
// (Ed25519). The protected header holds exactly the algorithm and the key
// ID (4 bytes, big-endian); the unprotected header is empty.
func Sign(body []byte, keyID uint32, priv ed25519.PrivateKey) ([]byte, error) {
	return sign(body, keyID, priv, externalAAD)
}

// SignV2 is [Sign] for version 2: the external AAD is
// "oneface reference v2".
func SignV2(body []byte, keyID uint32, priv ed25519.PrivateKey) ([]byte, error) {
	return sign(body, keyID, priv, externalAADv2)
}

func sign(body []byte, keyID uint32, priv ed25519.PrivateKey, aad []byte) ([]byte, error) {
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		return nil, err
	}
	msg := &cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA,
			cose.HeaderLabelKeyID:     kid(keyID),
		}},
		Payload: body,
	}
	if err := msg.Sign(rand.Reader, aad, signer); err != nil {
		return nil, err
	}
	return msg.MarshalCBOR()
}

// Verify checks a COSE_Sign1 envelope and returns its payload, which is not
// parsed here: callers decode it only after this returns nil. keys returns
// the trusted public keys for a key ID (several if key hashes collide).
func Verify(signed []byte, keys func(keyID uint32) []ed25519.PublicKey) (payload []byte, keyID uint32, err error) {
	return verify(signed, keys, externalAAD)
}

// VerifyV2 is [Verify] for version 2 (external AAD "oneface reference v2"):
// a v1 signature never verifies as v2, nor the other way round.
func VerifyV2(signed []byte, keys func(keyID uint32) []ed25519.PublicKey) (payload []byte, keyID uint32, err error) {
	return verify(signed, keys, externalAADv2)
}

func verify(signed []byte, keys func(keyID uint32) []ed25519.PublicKey, aad []byte) (payload []byte, keyID uint32, err error) {
	if len(signed) > MaxSigned {
		return nil, 0, malformed("signed envelope of %d bytes, limit %d", len(signed), MaxSigned)
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(signed); err != nil {
		return nil, 0, malformed("COSE_Sign1: %v", err)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmEdDSA {
		return nil, 0, malformed("COSE_Sign1: algorithm must be EdDSA")
	}
	k, ok := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if !ok || len(k) != 4 || len(msg.Headers.Protected) != 2 || len(msg.Headers.Unprotected) != 0 {
		return nil, 0, malformed("COSE_Sign1: headers must be exactly alg and a 4-byte kid")
	}
	// One encoding per envelope: what we would have written.
	again, err := msg.MarshalCBOR()
	canonical := err == nil && bytes.Equal(again, signed)
	clear(again) // it holds the payload, the template
	if !canonical {
		return nil, 0, malformed("COSE_Sign1: non-canonical encoding")
	}
	keyID = binary.BigEndian.Uint32(k)
	pubs := keys(keyID)
	if len(pubs) == 0 {
		return nil, keyID, ErrUnknownIssuer
	}
	for _, pub := range pubs {
		v, err := cose.NewVerifier(cose.AlgorithmEdDSA, pub)
		if err != nil {
			return nil, keyID, err
		}
		if msg.Verify(aad, v) == nil {
			return msg.Payload, keyID, nil
		}
	}
	return nil, keyID, ErrSignature
}
