// Package ref is the wire format of oneface references: the signed,
// sealed template a person holds. Package verify is its only user and
// documents the keys; this package holds the spec. Version 2 is written;
// version 1 is read (package verify opens it only under an explicit,
// weaker opt-in).
//
// # Layers (version 2)
//
// From the inside out:
//
//  1. Body: a CBOR map with integer keys (see [BodyV2] for the fields and
//     the rules for changing them), in RFC 8949 core deterministic
//     encoding. It binds, beside v1's fields, PINRequired and the
//     Deployment ID ([DeploymentID]: 8 bytes of HKDF-SHA256 of the
//     deployment secret, info "oneface deployment id v2"). The template
//     ([Template]) names its encoding and dimension: 128 or 512 values a
//     vector; [EncodingFloat16] (IEEE 754 half precision, little-endian)
//     or [EncodingInt8] (per vector: float32 scale s = max|v|/127,
//     little-endian, then int8 values RoundToEven(v/s) in [-127, 127];
//     read back as q·s; NaN, infinities, a scale that is not finite and
//     positive, and -128 are refused). Golden bytes: TestBodyV2Golden,
//     TestTemplateInt8Golden.
//  2. Signature: a tagged COSE_Sign1 (RFC 9052) with EdDSA (Ed25519). The
//     protected header holds exactly the algorithm (-8) and a 4-byte key
//     ID (the issuer key's signed-note key hash); the unprotected header
//     is empty; the external AAD is "oneface reference v2" (v1:
//     "oneface reference v1"), so a signature cannot be lifted from one
//     version into the other.
//  3. Optional PIN layer ("type 2" reference): salt(16) then
//     XChaCha20-Poly1305 with key ‖ nonce = HKDF-SHA256(Argon2id(PIN, salt,
//     t=3, m=64 MiB, p=1), salt = deployment secret, info "oneface
//     reference pin v2", 56 bytes) and associated data "OFR2" ‖ flags ‖
//     reference ID.
//  4. Seal: age (filippo.io/age) X25519 encryption to every verifier of
//     the deployment, one recipient stanza per verifier (≈98 bytes each).
//     The age plaintext is flags(1) ‖ reference ID(16) ‖ layer 3 or 2: the
//     ID lets a kiosk count a PIN attempt against its reference before
//     Argon2 runs; the AD binds it to the PIN layer, and the body must
//     repeat it.
//  5. Container: the intro "OFR2", a flags byte (bit 0: PIN layer; other
//     bits must be zero), then the age file. Text form: "oneface-ref2:"
//     followed by the container in unpadded base64url.
//
// # Opening
//
// A verifier checks, in order: size limits ([MaxSealed], [MaxText]); the
// intro and flags; age decryption ([UnsealOuter]); the PIN layer's tag
// ([Outer.Open]); the COSE_Sign1 structure, its headers and canonical
// encoding; the signature against the trusted key named by the key ID.
// Only then is the body decoded — strictly: no unknown or duplicate keys,
// no indefinite lengths or tags, canonical bytes only, every length and
// range checked, every template value finite. Then the bindings: the
// body's PINRequired must equal the container's PIN flag, its ID the
// container's ID, its Deployment the verifier's. A container and body
// that disagree — a PIN layer stripped by someone who holds a kiosk key
// and the deployment secret, a reference replayed in another deployment
// that trusts the same issuer, an ID swapped to dodge a lockout — are
// reported by package verify as the same opaque authentication failure as
// a bad seal, PIN or signature.
//
// # Version 1
//
// "OFR1" / "oneface-ref1:"; the age plaintext is flags ‖ layer 3 or 2; the
// PIN layer is salt(16) ‖ nonce(24) ‖ ciphertext under HKDF info "oneface
// reference pin v1", AD "OFR1" ‖ flags; the body ([Body]) has v1's ten
// fields and 128-D half-precision descriptors. Its body binds neither the
// PIN requirement nor the deployment: that is why v2 exists.
//
// # Sizes
//
// One verifier, PIN: 718 bytes sealed with a 128-D float16 template, 979
// with a 512-D int8 template (budget ≤ 1,024). Each further verifier adds
// about 98 bytes; the PIN layer adds 32. TestSizes in package verify
// prints the table.
//
// # Backwards compatibility
//
// A reader accepts exactly the formats above. A change to any layer — a
// new body field, another signature algorithm, another seal — is a new
// version with a new intro ("OFR3", "oneface-ref3:") and a new external
// AAD.
package ref
