package audit

// # Witnesses
//
// A witness (C2SP tlog-witness) is a party outside the kiosk that keeps,
// for each log it follows, the last checkpoint it cosigned. The log submits
// every new checkpoint with a consistency proof from that size; the witness
// checks the log's signature and the proof (the old tree is a prefix of
// the new one), records the new size and root, and returns a cosignature
// (C2SP tlog-cosignature, "cosignature/v1": Ed25519 over
// "cosignature/v1\ntime <unix seconds>\n" followed by the checkpoint text).
// [NewHTTPWitness] is a client of that protocol; [NewDirWitness] is a
// collector that keeps the checkpoints in a directory for an auditor.
//
// What a cosignature proves: that when the witness signed (its timestamp),
// the log had shown it this checkpoint, and that every checkpoint the log
// had shown it before is a prefix of this one. So a log that has been
// cosigned can no longer drop, alter or reorder an entry covered by a
// cosigned checkpoint, nor show a different history to someone else who
// demands cosignatures from the same witness, without one of them holding
// a checkpoint that no consistent history explains: the witness refuses
// the fork or the rollback (HTTP 422, or a size larger than the log's),
// which [Witness.Cosign] reports as [ErrWitnessRefused], and an auditor
// who holds a cosigned checkpoint detects a shorter or different log.
// An auditor that requires k cosignatures from n witnesses trusts that
// fewer than k of them collude with the kiosk.
//
// What it does not prove: that the entries are true (the kiosk signs what
// it decides to log; a decision it never logged leaves no trace), that the
// checkpoint was submitted promptly (a kiosk can withhold entries until
// it next submits: witnessing bounds the window to the submission
// interval), that anything after the last cosigned checkpoint is there
// (a log cut back to its last cosigned size is caught, one cut within the
// unwitnessed tail is not), nor anything about the entries' contents or
// the personal data: a witness sees only the origin, the size and the
// root hash, never an entry. A witness that is offline or refuses makes
// the log keep its checkpoints uncosigned; it never changes the log.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
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
// checkpoint because it is inconsistent with what the witness saw before:
// a fork (another root for a size it saw, or a bad consistency proof) or a
// rollback (the witness saw a larger tree). It is evidence against the
// log, unlike an unreachable or misconfigured witness.
var ErrWitnessRefused = errors.New("audit: witness refused the checkpoint")

// maxCheckpointNote bounds a signed checkpoint handled by a witness client
// or collector (the log's own are about 200 bytes; cosignatures add about
// 120 bytes each).
const maxCheckpointNote = 16 << 10

// NewCosignatureVerifier returns a verifier of a witness's C2SP
// cosignature/v1 signatures from its verifier key ("name+hash+base64",
// key type 0x04, as litewitness prints it), for use with note.Open or
// [CosignedBy]. A plain Ed25519 note key (type 0x01) is refused: a witness
// key signs cosignatures, which carry a timestamp.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	_, rest, _ := strings.Cut(vkey, "+")
	_, key64, ok := strings.Cut(rest, "+")
	if !ok {
		return nil, fmt.Errorf("audit: witness key %q: want name+hash+key", vkey)
	}
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("audit: witness key %q: bad key encoding", vkey)
	}
	if key[0] == 0x01 {
		return nil, fmt.Errorf("audit: witness key %q is a plain Ed25519 note key, not a cosignature/v1 key (type 0x04)", vkey)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: witness key %q: %v", vkey, err)
	}
	return v, nil
}

// CosignedBy returns the names of the witnesses (each given by its
// cosignature verifier, see [NewCosignatureVerifier]) whose cosignature on
// checkpoint verifies, sorted and without duplicates. It does not check
// the log's own signature: verify the checkpoint with the log key first
// (VerifyDir, [CheckReceipt]). A witness whose signature line is present
// but invalid is not counted.
func CosignedBy(checkpoint []byte, witnesses []note.Verifier) []string {
	if len(checkpoint) > maxCheckpointNote {
		return nil
	}
	seen := map[string]bool{}
	for _, w := range witnesses {
		if w == nil || seen[w.Name()] {
			continue
		}
		// note.Open with only this witness's key: other signatures are
		// unknown and ignored; this one must verify.
		if _, err := note.Open(checkpoint, note.VerifierList(w)); err == nil {
			seen[w.Name()] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// noteText splits a signed note into its text (ending in "\n") and its
// signature block, as note.Open does.
func noteText(signed []byte) (text []byte, ok bool) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil, false
	}
	return signed[:i+1], true
}

// verifyCosignature checks that sigs (signature lines returned by a
// witness) hold a valid cosignature of checkpoint's text by v, and
// returns only the lines that verified, re-encoded canonically.
func verifyCosignature(checkpoint, sigs []byte, v note.Verifier) ([]byte, error) {
	text, ok := noteText(checkpoint)
	if !ok {
		return nil, fmt.Errorf("%w: checkpoint is not a signed note", ErrBadProof)
	}
	if len(sigs) == 0 || sigs[len(sigs)-1] != '\n' || bytes.Contains(sigs, []byte("\n\n")) {
		return nil, fmt.Errorf("%w: malformed cosignature lines from witness %s", ErrBadProof, v.Name())
	}
	msg := make([]byte, 0, len(text)+1+len(sigs))
	msg = append(append(append(msg, text...), '\n'), sigs...)
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%w: cosignature of witness %s: %v", ErrBadProof, v.Name(), err)
	}
	var out []byte
	for _, s := range n.Sigs {
		sig, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil {
			return nil, fmt.Errorf("%w: cosignature of witness %s: %v", ErrBadProof, v.Name(), err)
		}
		out = append(out, "— "+s.Name+" "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
	}
	return out, nil
}
