// Package verify is oneface's public API for both sides of 1:1 face
// verification: the issuer, who enrols a person into a reference the person
// holds, and the verifier (a kiosk), who opens a presented reference.
//
// Most callers need:
//   - issuer side: [OpenEngine], [NewIssuer], [Issuer.Enroll], then hand
//     [Enrollment].Reference to the person as a file, [EncodeText] string
//     or [QRCode];
//   - verifier side (a kiosk): [NewOpener], then [New] for a [Verifier]
//     with an audit log and a [Policy], and [Verifier.Verify] for each
//     person ([ReadQR] reads a card from a camera frame).
//
// # Keys
//
// An issuer signs with an Ed25519 [IssuerKey] (a signed-note key, text
// "PRIVATE+KEY+name+hash+..."); verifiers trust its [IssuerPublicKey]. Each
// verifier unseals with its own X25519 [VerifierKey] (an age identity,
// "AGE-SECRET-KEY-1..."), whose [VerifierRecipient] ("age1...") the issuer
// seals to: one key per kiosk, so a kiosk can be retired. A
// [DeploymentSecret] shared by the issuer and its verifiers keys the
// subject pseudonyms and is mixed into the optional holder PIN. All secret
// keys must be kept secret; DO NOT hardcode them.
//
// # References
//
// A reference binds a random [ReferenceID] (the revocation handle), a
// per-deployment subject [Pseudonym] (never a name), the issuer key ID,
// issued-at and expires-at, the allowed purposes, the [ModelID], the
// template (the mean descriptor of the enrolment photos, in half
// precision) and an enrolment [Quality] summary. It is signed (COSE_Sign1,
// Ed25519), optionally PIN-protected, and sealed with age to the
// deployment's verifiers, so a lost card leaks no biometrics and a forged
// or swapped one does not open. The byte format and its compatibility
// promise are specified in internal/ref. One verifier, no PIN: 651 bytes
// (881 characters of text), small enough for a QR code.
//
// [Opener.Open] checks, in order: size; unsealing and the PIN
// ([ErrAuthentication], opaque, or [ErrPINRequired]); the signature
// against the trusted issuers ([ErrUntrustedIssuer], [ErrAuthentication]) —
// only then is the content parsed ([ErrMalformed]) —; expiry
// ([ErrExpired], [ErrNotYetValid]); revocation ([ErrRevoked]); model
// ([ErrModelMismatch]); purpose ([ErrPurpose]).
//
// # Verification
//
// [Verifier.Verify] answers one question — is the person in front of the
// camera the holder of this reference? — in this order, cheap refusals
// first: open the reference (all the checks above); consent (present, for
// the request's purpose, a notice version the policy knows with the hash
// of its text, at most two minutes old, a nonce never seen before); lockout
// (five no-matches within fifteen minutes); capture quality for each frame
// (exactly one subject, face at least 72 px wide, sharpness, exposure, and
// yaw from the 68 landmarks, each refusal saying retry or reject); then one
// comparison — on the good frame with the largest face, so the decision
// stays at the calibrated false-match rate — of the Euclidean distance
// against the threshold the calibration table gives for the policy's
// target FMR (default 1e-3) and the reference's number of enrolment
// photos. The outcome, refusals included, is appended to the audit log
// before it is returned; if that fails, Verify returns an error and never a
// match. The [Decision] carries machine-readable reasons, a
// [ConsentReceipt] and the person's audit receipt, and no distance unless
// [Policy].ExposeDistance asks for it (a score would give an attacker a
// gradient to climb).
//
// Liveness is not implemented yet: [Policy].Liveness must say
// [LivenessNone] explicitly, and such a verifier accepts a good photo of
// the holder. Liveness checks will run over the frame sequence between the
// quality gate and the comparison.
//
// Consent nonces, lockout counters and withdrawals ([Verifier.WithdrawConsent])
// live in the Verifier's memory; a restart forgets them, so keep the
// revocation list persistent.
//
// # Enrolment quality
//
// [Issuer.Enroll] refuses a photo with a *[QualityError] carrying a
// machine-readable [Reason]: unreadable, no face, several comparable faces,
// a face narrower than 80 px, or photos too far apart to be one person.
//
// # Memory
//
// Templates and descriptors held by this package are zeroed when no longer
// needed ([Reference.Wipe]; enrolment buffers and, in Verify, the live
// descriptor and the template on return); the face engine zeroes the
// pixels and JPEG buffers it allocates. This is best effort: Go's garbage
// collector may have copied memory before, dlib keeps short-lived copies of
// its own, and the caller's frame bytes belong to the caller.
package verify
