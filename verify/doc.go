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
// A reference (format version 2) binds a random [ReferenceID] (the
// revocation handle), a per-deployment subject [Pseudonym] (never a name),
// the issuer key ID, issued-at and expires-at, the allowed purposes, the
// [ModelID], the template (the mean vector of the enrolment photos under
// the issuer engine's [Model]: 512 values in int8 with a per-vector scale
// for the default ArcFace-class embedding, or dlib's 128 in half
// precision),
// an enrolment [Quality] summary, whether a PIN is required, and the
// deployment (an ID derived from the [DeploymentSecret]). It is signed
// (COSE_Sign1, Ed25519), optionally PIN-protected, and sealed with age to
// the deployment's verifiers, so a lost card leaks no biometrics and a
// forged, swapped, PIN-stripped or other deployment's one does not open.
// The byte format and its compatibility promise are specified in
// internal/ref. One verifier with PIN: 718 bytes (128-D), 979 bytes (512-D
// int8); TestSizes prints the table.
//
// What the PIN does not stop: whoever holds a kiosk's [VerifierKey] and
// the [DeploymentSecret] (a stolen kiosk) can try PINs offline against a
// card sealed to that kiosk, about 0.15 s a guess (Argon2id, 64 MiB): a
// 4-digit PIN falls in under half an hour on one core. The lockout bounds
// guesses only through [Verifier.Verify]; [Opener.Open] (and `oneface
// open`) counts nothing. Against that attacker the card's protection is
// the seal to the kiosk's key: retire a stolen kiosk's key and re-issue.
//
// Lockout without denial of service: a container's clear reference ID is
// authenticated by age alone, and anyone with a kiosk's public recipient
// can seal a container claiming someone else's ID. So wrong PINs count
// against the sealed card — a hash of the age plaintext, which a forger
// cannot reproduce without the kiosk's key, and which is the same in
// every form of one card (binary, text, wrapped text, QR) — and
// comparisons that do not match count against the reference ID once the
// PIN has opened the signed reference. A flood of forgeries claiming a
// holder's ID locks out only the forgeries
// (TestForgedContainersCannotLockOutHolder); a stolen card still gets
// MaxFailures guesses in the window, whatever form it is presented in
// (TestStolenCardFormsShareOneCount, TestPINBruteForceLocksOut). What
// remains: whoever holds a copy of the card's bytes (a photographed QR)
// can spend its PIN budget and so keep the holder waiting out the window
// — a copy is the card, as far as a kiosk can tell before the PIN — and
// separately sealed copies of one reference (re-issued cards) have a PIN
// budget each. A restored copy of the state file brings back what it
// held (the state is not yet bound to the audit log).
//
// [Opener.Open] checks, in order: size; the version (v1 only with
// [OpenerConfig].AllowV1, else [ErrV1]); unsealing and the PIN
// ([ErrAuthentication], opaque, or [ErrPINRequired]); the signature
// against the trusted issuers ([ErrUntrustedIssuer], [ErrAuthentication]) —
// only then is the content parsed ([ErrMalformed]) —; the bindings (PIN
// requirement, reference ID and deployment must match the container and
// the opener: [ErrAuthentication]); expiry ([ErrExpired],
// [ErrNotYetValid]); revocation ([ErrRevoked]); model
// ([ErrModelMismatch]); purpose ([ErrPurpose]).
//
// # Verification
//
// [Verifier.Verify] answers one question — is the person in front of the
// camera the holder of this reference? — cheap refusals first: the kiosk's
// unseal budget; the reference's age layer; the reference's other checks
// and the consent (present, for the request's purpose, a notice version
// the policy knows with the hash of its text, at most two minutes old);
// then one transaction in the kiosk's [State] that refuses a revoked or
// withdrawn reference, a consent nonce seen before, or a reference with
// MaxFailures attempts in the window, and otherwise records the nonce and
// the attempt — for a PIN-protected reference this happens before the PIN
// is tried, against the sealed card, so wrong PINs count toward the
// lockout and Argon2 runs only for attempts the lockout allows, and,
// once the PIN is right, a second one against the reference ID for the
// comparison; capture quality for each frame (exactly
// one subject, face at least 72 px wide, sharpness, exposure, and yaw from
// the 68 landmarks, each refusal saying retry or reject); then one
// comparison — on the good frame with the largest face, so the decision
// stays at the calibrated false-match rate — under the model the
// reference names (cosine distance for the embedding, Euclidean for dlib;
// a model [Policy].Models does not list is refused) against the threshold
// the calibration table gives for that model, the policy's target FMR
// (default 1e-3; a target the table does not hold makes [New] fail) and
// the reference's number of enrolment photos, or the stricter one of a
// signed site calibration ([VerifierConfig].SiteCalibration). The outcome,
// refusals included, is appended to the audit log before it is returned;
// if that fails, Verify returns an error and never a match. A match then
// clears the reference's attempts; a no-match leaves its attempt as a
// failure. The [Decision] carries machine-readable reasons, a
// [ConsentReceipt] with a [ConsentStatement] signed by the kiosk, and the
// person's audit receipt, and no distance unless [Policy].ExposeDistance
// asks for it (a score would give an attacker a gradient to climb).
//
// Liveness runs between the quality gate and the comparison, as
// [Policy].Liveness says (it must be set explicitly): [LivenessNone]
// accepts a good photo of the holder and its decisions say so;
// [LivenessPassive] scores the compared frame with the presentation-attack
// network ([EngineOptions].PAD) and refuses [ReasonPresentationAttack];
// [LivenessChallenge] checks the frame sequence against the challenge the
// kiosk got from [Verifier.Challenge] for the consent nonce (blink, head
// turns, capture times, the same face in every frame); [LivenessBoth] runs
// both. Liveness refusals count as failed attempts towards the lockout.
// What the checks detect and what they do not (screen replay of a video,
// 3-D masks, an injected camera feed) is in docs/liveness.md.
//
// # Models
//
// [OpenEngine] loads dlib (detector, 68 landmarks, its 128-D descriptor)
// and, by default, the ArcFace-class 512-D embedding ([ModelArcFace],
// internal/embed); [EngineOptions].Model = [ModelDlib] loads dlib alone.
// Enrolment uses the engine's model. A verifier compares under the models
// of [Policy].Models (default: the engine's), each at its own calibrated
// thresholds; list [ModelDlib] too (and both IDs in
// [OpenerConfig].ModelIDs) to accept dlib references, or leave it out to
// refuse the weaker model. The calibrated rates hold for populations and
// cameras like those measured (internal/calib, docs/accuracy.md);
// TestDevSetsFullPath measures both models through this package.
//
// # State
//
// Consent nonces (until they expire), attempt counters, withdrawals
// ([State.Withdraw], [Verifier.WithdrawConsent]) and revocations
// ([State.Revoke]) are durable: one bbolt file per kiosk ([OpenState]),
// every update an fsynced transaction made before the work it guards, so a
// restart, a kill -9 at any instant, or concurrent calls never lose a
// consent, a withdrawal or a failure. Reference IDs are stored only
// keyed-hashed under a key derived from the kiosk's [VerifierKey]. A
// missing (when expected) or damaged file is [ErrStateMissing] or
// [ErrStateCorrupt], never a fresh start.
//
// # Enrolment quality
//
// [Issuer.Enroll] refuses a photo with a *[QualityError] carrying a
// machine-readable [Reason]: unreadable, no face, several comparable faces,
// a face narrower than 80 px, or photos too far apart to be one person.
//
// # Memory
//
// Every buffer this package fills with a template or a descriptor is
// zeroed before the call that filled it returns: in [Opener.Open] and
// [Verifier.Verify], the age plaintext, the PIN layer's plaintext, the
// COSE payload and the parsed body's template; in Verify, every detected
// face's descriptor, the live descriptor or embedding and the reference's
// template;
// enrolment buffers in [Issuer.Enroll]; [Reference.Wipe] for a Reference
// a caller holds. The face engine zeroes the pixels and JPEG buffers it
// allocates. This is best effort, and Go cannot guarantee more: its
// garbage collector may move or copy memory before it is zeroed (stacks
// grow by copying), the CBOR and COSE libraries keep transient copies
// (go-cose builds the to-be-signed structure, payload included, to check
// the signature),
// dlib keeps short-lived copies of its own, memory may have been paged to
// swap, and the caller's frames and reference bytes belong to the caller.
package verify
