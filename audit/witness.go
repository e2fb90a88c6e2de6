package audit

import (
	"context"
	"errors"

	"golang.org/x/mod/sumdb/tlog"
)

// ProofFunc returns the consistency proof from oldSize to the checkpoint's size.
type ProofFunc func(oldSize int64) ([]tlog.Hash, error)

// Witness cosigns checkpoints (C2SP tlog-witness).
type Witness interface {
	Name() string
	// Cosign submits a signed checkpoint note; it returns the witness's cosignature lines
	// (signed-note signature lines, each ending in "\n") or an error. A refusal of an
	// inconsistent checkpoint is an error wrapping ErrWitnessRefused.
	Cosign(ctx context.Context, checkpoint []byte, proof ProofFunc) ([]byte, error)
}

// ErrWitnessRefused is wrapped by [Witness.Cosign] when a witness refuses a
// checkpoint because it is inconsistent with what the witness saw before.
var ErrWitnessRefused = errors.New("audit: witness refused the checkpoint")
