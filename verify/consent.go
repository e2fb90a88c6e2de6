package verify

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oneface/oneface/internal/ref"
	"golang.org/x/mod/sumdb/note"
)

// ErrConsentStatement is returned by [CheckConsentStatement] for a
// statement that does not verify under the kiosk's key or is malformed.
var ErrConsentStatement = errors.New("verify: consent statement does not verify")

// ConsentStatement is what a kiosk signs about one consent it acted on.
//
// # Format
//
// A signed note (golang.org/x/mod/sumdb/note, Ed25519) whose text is
// exactly these lines, each ending in a newline:
//
//	oneface consent v1
//	reference <reference ID, 32 hex digits>
//	purpose <purpose>
//	notice <notice version>
//	notice-sha256 <SHA-256 of the notice text, 64 hex digits>
//	nonce <consent nonce, 32 hex digits>
//	given <consent time, RFC 3339 UTC, whole seconds>
//	decision <match|no_match|refused>
//	reason <reason code>
//
// followed by the note's blank line and signature line. The key is the
// kiosk's Ed25519 signed-note key — the one that signs its audit log's
// checkpoints (the CLI uses the -log-key file) — so whoever can check the
// person's audit receipt can check the statement, offline, with
// [CheckConsentStatement]. The first line keeps a statement from being
// read as a checkpoint (whose second line is a tree size) or the other
// way round. A future format is a new first line.
type ConsentStatement struct {
	ReferenceID   ReferenceID
	Purpose       string
	NoticeVersion string
	NoticeHash    [32]byte
	Nonce         [16]byte
	GivenAt       time.Time
	Decision      string // "match", "no_match" or "refused"
	Reason        Reason
}

const consentIntro = "oneface consent v1"

// MaxConsentStatement bounds a signed statement's size.
const MaxConsentStatement = 2048

func (s *ConsentStatement) text() (string, error) {
	for _, f := range []string{s.Purpose, s.NoticeVersion, s.Decision, string(s.Reason)} {
		if ref.CheckPurpose(f) != nil { // 1..64 printable ASCII, no spaces
			return "", fmt.Errorf("verify: consent statement field %q is not a token", f)
		}
	}
	return fmt.Sprintf("%s\nreference %s\npurpose %s\nnotice %s\nnotice-sha256 %s\nnonce %s\ngiven %s\ndecision %s\nreason %s\n",
		consentIntro, s.ReferenceID, s.Purpose, s.NoticeVersion, hex.EncodeToString(s.NoticeHash[:]),
		hex.EncodeToString(s.Nonce[:]), s.GivenAt.UTC().Format(time.RFC3339), s.Decision, s.Reason), nil
}

// signConsent signs a statement with the kiosk's note signer.
func signConsent(s *ConsentStatement, signer note.Signer) ([]byte, error) {
	text, err := s.text()
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: text}, signer)
}

// CheckConsentStatement verifies a signed consent statement against the
// kiosk's public key (signed-note verifier key text, as `oneface keygen
// log` prints it) and returns its fields. Any change to the text or the
// signature, or another key, is [ErrConsentStatement].
func CheckConsentStatement(signed []byte, kioskPublicKey string) (*ConsentStatement, error) {
	if len(signed) > MaxConsentStatement {
		return nil, fmt.Errorf("%w: %d bytes", ErrConsentStatement, len(signed))
	}
	v, err := note.NewVerifier(strings.TrimSpace(kioskPublicKey))
	if err != nil {
		return nil, fmt.Errorf("verify: kiosk public key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsentStatement, err)
	}
	// One statement has one text: exactly the kiosk's signature, in
	// canonical base64 (note accepts non-zero padding bits, so a flipped
	// last character could otherwise still verify).
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return nil, fmt.Errorf("%w: want exactly the kiosk's signature", ErrConsentStatement)
	}
	if raw, err := base64.StdEncoding.DecodeString(n.Sigs[0].Base64); err != nil || base64.StdEncoding.EncodeToString(raw) != n.Sigs[0].Base64 {
		return nil, fmt.Errorf("%w: signature is not canonical base64", ErrConsentStatement)
	}
	// The signature is good: it is now safe to parse.
	var s ConsentStatement
	var id, hash, nonce, given, reason string
	k, err := fmt.Sscanf(n.Text, consentIntro+"\nreference %s\npurpose %s\nnotice %s\nnotice-sha256 %s\nnonce %s\ngiven %s\ndecision %s\nreason %s\n",
		&id, &s.Purpose, &s.NoticeVersion, &hash, &nonce, &given, &s.Decision, &reason)
	if err != nil || k != 8 {
		return nil, fmt.Errorf("%w: malformed text", ErrConsentStatement)
	}
	s.Reason = Reason(reason)
	if s.ReferenceID, err = ParseReferenceID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsentStatement, err)
	}
	for _, f := range []struct {
		s   string
		dst []byte
	}{{hash, s.NoticeHash[:]}, {nonce, s.Nonce[:]}} {
		raw, err := hex.DecodeString(f.s)
		if err != nil || len(raw) != len(f.dst) {
			return nil, fmt.Errorf("%w: malformed hex %q", ErrConsentStatement, f.s)
		}
		copy(f.dst, raw)
	}
	if s.GivenAt, err = time.Parse(time.RFC3339, given); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsentStatement, err)
	}
	if again, err := s.text(); err != nil || again != n.Text {
		return nil, fmt.Errorf("%w: not canonical", ErrConsentStatement)
	}
	return &s, nil
}

// KioskKey is the kiosk's Ed25519 signing key for consent statements: a
// signed-note private key ("PRIVATE+KEY+<name>+<hash>+..."). Use the key
// that signs the kiosk's audit checkpoints (audit.GenerateKey makes one),
// so one public key checks both. It must be kept secret.
type KioskKey struct{ signer note.Signer }

// ParseKioskKey parses a signed-note private key.
func ParseKioskKey(s string) (*KioskKey, error) {
	signer, err := note.NewSigner(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: kiosk key: %v", ErrKeyFormat, err)
	}
	return &KioskKey{signer}, nil
}
