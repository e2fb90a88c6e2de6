// Package ref is the wire format of oneface references, version 1: the
// signed, sealed template a person holds. Package verify is its only user
// and documents the keys; this package holds the spec.
//
// # Layers
//
// From the inside out:
//
//  1. Body: a CBOR map with integer keys (see [Body] for the fields and
//     the rules for changing them), in RFC 8949 core deterministic
//     encoding. The template is one or more descriptors stored as 128
//     IEEE 754 half-precision values each, little-endian (256 bytes):
//     measured on the LFW dev pairs, half precision moves distances by at
//     most 1e-4 and flips no decision.
//  2. Signature: a tagged COSE_Sign1 (RFC 9052) with EdDSA (Ed25519), as
//     EU digital COVID certificates use. The protected header holds exactly
//     the algorithm (-8) and a 4-byte key ID (the issuer key's signed-note
//     key hash); the unprotected header is empty; the external AAD is
//     "oneface reference v1", so the signature cannot be lifted into
//     another format. The body names the same key ID.
//  3. Optional PIN layer ("type 2" reference): XChaCha20-Poly1305 under a
//     key derived from the holder's PIN with Argon2id (t=3, m=64 MiB, p=1,
//     random 16-byte salt), then HKDF-SHA256 with the deployment secret as
//     salt. Without the deployment secret, a stolen card cannot be
//     brute-forced offline; the verifier's lockout bounds online guesses.
//  4. Seal: age (filippo.io/age) X25519 encryption to every verifier of the
//     deployment, one recipient stanza per verifier (≈98 bytes each).
//  5. Container: the intro "OFR1", a flags byte (bit 0: PIN layer; other
//     bits must be zero), then the age file. Text form: "oneface-ref1:"
//     followed by the container in unpadded base64url; QR codes carry the
//     text form.
//
// # Opening
//
// A verifier checks, in order: size limits ([MaxSealed], [MaxText]); the
// intro and flags; age decryption with its identities (the age header MAC
// and payload tags authenticate the ciphertext); the PIN layer's tag; the
// COSE_Sign1 structure, its headers and canonical encoding; the signature
// against the trusted key named by the key ID. Only then is the body
// decoded — strictly: no unknown or duplicate keys, no indefinite lengths
// or tags, canonical bytes only, every length and range checked, no NaN or
// infinite descriptor values.
//
// Failures of the age layer, the PIN layer and the signature are reported
// as one opaque error by package verify: they all mean "not authentic".
//
// # Sizes
//
// One verifier without PIN: about 650 bytes sealed (target ≤ 700), 880
// characters of text. Each further verifier adds about 98 bytes; the PIN
// layer adds 56. TestSizes in package verify prints the table.
//
// # Backwards compatibility
//
// A v1 reader accepts exactly this format. A change to any layer — a new
// body field, another signature algorithm, another seal — is a new version
// with a new intro ("OFR2", "oneface-ref2:") and a new external AAD; v1
// stays readable by v1 code for as long as v1 references are unexpired.
package ref
