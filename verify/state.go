package verify

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/state"
)

// State errors, for errors.Is.
var (
	// ErrStateMissing: the state file does not exist and OpenState was
	// told one is expected.
	ErrStateMissing = state.ErrMissing
	// ErrStateCorrupt: the state file exists but is damaged, truncated, or
	// of another format. It is never silently replaced.
	ErrStateCorrupt = state.ErrCorrupt
	// ErrStateKey: the state file was made under another verifier key.
	ErrStateKey = state.ErrKey
)

// State is a verifier's durable state: consent nonces until they expire,
// the lockout's attempt counters, withdrawals and revocations, and the
// kiosk's unseal budget. It is one bbolt file (go.etcd.io/bbolt) whose
// every update is an fsynced transaction, made together with the decision
// it belongs to: see [Verifier.Verify]. Reference IDs are stored only
// keyed-hashed. It is safe for concurrent use; one process at a time holds
// the file.
type State struct {
	s *state.Store
}

// OpenState opens the state file at path. Its hashing key is derived from
// the kiosk's key (HKDF-SHA256 of the age identity's text, info "oneface
// verifier state v1"), so the file opens only with that key. With create,
// a missing file is created; without, a missing file is
// [ErrStateMissing]. A damaged file is [ErrStateCorrupt], never a reset:
// restore it from a backup, or, knowing that the kiosk forgets consents,
// lockouts and withdrawals, move it away.
func OpenState(path string, key *VerifierKey, create bool) (*State, error) {
	if key == nil {
		return nil, errors.New("verify: OpenState needs the kiosk's verifier key")
	}
	k, err := hkdf.Key(sha256.New, []byte(key.id.String()), nil, "oneface verifier state v1", 32)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	s, err := state.Open(path, k, create)
	if err != nil {
		return nil, err
	}
	return &State{s}, nil
}

// Close closes the state file; it is safe to call more than once.
func (s *State) Close() error { return s.s.Close() }

// Revoke blocks a reference on this kiosk, durably, then records a
// "revoke" entry in the audit log (subject may be zero when unknown). The
// block holds even if the audit append fails; the error says so.
func (s *State) Revoke(ctx context.Context, log AuditLog, id ReferenceID, subject Pseudonym, reason string) error {
	return s.block(ctx, log, id, subject, state.Revoked, audit.KindRevoke, reason)
}

// Withdraw records that the holder of a reference withdrew consent: the
// reference is blocked on this kiosk, durably, then a
// "consent-withdrawn" entry is audited. The holder's audit entries can
// then be erased with audit.Log.Erase.
func (s *State) Withdraw(ctx context.Context, log AuditLog, id ReferenceID, subject Pseudonym) error {
	return s.block(ctx, log, id, subject, state.Withdrawn, audit.KindConsentWithdrawn, "holder_request")
}

func (s *State) block(ctx context.Context, log AuditLog, id ReferenceID, subject Pseudonym, kind state.Kind, ak audit.Kind, reason string) error {
	if log == nil {
		return errors.New("verify: no audit log")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.s.Block(id, kind, time.Now()); err != nil {
		return err
	}
	_, err := log.Append(ctx, audit.Entry{Kind: ak, Purpose: "-", Decision: audit.DecisionNone, Reason: tokenOr(reason), ModelID: "-"},
		&audit.Personal{ReferenceID: id, Subject: subject, Notice: "-"})
	if err != nil {
		return fmt.Errorf("verify: reference %s is %s on this kiosk, but the audit entry failed: %w", id, kind, err)
	}
	return nil
}

// Blocked reports whether a reference is revoked or withdrawn here.
func (s *State) Blocked(id ReferenceID) (bool, error) {
	_, ok, err := s.s.IsBlocked(id)
	return ok, err
}

// Attempts is how many attempts against a reference ID fall in the
// window before now (failures, and attempts still in flight): what the
// lockout counts for comparisons. Wrong PINs are counted separately,
// against the sealed card they were tried on (see [Verifier.Verify]), so
// they are not in this number.
func (s *State) Attempts(id ReferenceID, now time.Time, window time.Duration) (int, error) {
	return s.s.Attempts(id, now, window)
}
