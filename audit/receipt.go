package audit

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/oneface/oneface/internal/textform"
)

// ErrBadProof means a signature or proof does not verify.
var ErrBadProof = errors.New("audit: signature or proof does not verify")

const (
	receiptIntro = "oneface audit receipt v1"
	// MaxReceiptSize bounds a receipt.
	MaxReceiptSize = 16 << 10
	maxProofLen    = 64
)

// formatReceipt writes the v1 receipt:
//
//	oneface audit receipt v1
//	entry <base64 of the entry>
//	opening <base64 of the opening key> <base64 of the personal part>   (or "opening -")
//	proof <k>
//	<base64 hash>                                                       (k lines)
//	<empty line>
//	<the signed checkpoint>
//
// It is checkable offline with the log's public key alone ([CheckReceipt]).
func formatReceipt(entry, opening, personal []byte, proof tlog.RecordProof, cp []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(receiptIntro + "\n")
	b.WriteString("entry " + base64.StdEncoding.EncodeToString(entry) + "\n")
	if opening != nil {
		b.WriteString("opening " + base64.StdEncoding.EncodeToString(opening) + " " + base64.StdEncoding.EncodeToString(personal) + "\n")
	} else {
		b.WriteString("opening -\n")
	}
	fmt.Fprintf(&b, "proof %d\n", len(proof))
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(cp)
	if b.Len() > MaxReceiptSize {
		return nil, malformed("receipt of %d bytes", b.Len())
	}
	return b.Bytes(), nil
}

// ReceiptInfo is what a valid receipt proves.
type ReceiptInfo struct {
	Record         *Record
	Personal       *Personal // nil when the receipt carries no opening
	CheckpointSize int64
}

// CheckReceipt verifies a receipt offline with the log's public key: the
// checkpoint's signature, then the entry's inclusion in it, then — when the
// receipt carries one — that the personal part opens the entry's
// commitment. Nothing from the kiosk needs to be trusted.
//
// Text transport may change a receipt: CRLF line ends, trailing spaces or
// tabs, a missing or extra final newline are normalised away before the
// signature is checked over the canonical text; any other change is an
// error naming the line and the problem.
func CheckReceipt(receipt []byte, logKey string) (*ReceiptInfo, error) {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return nil, fmt.Errorf("audit: log key: %w", err)
	}
	receipt, err = normalizeText(receipt, MaxReceiptSize)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return checkReceipt(receipt, v)
}

// checkReceipt checks a normalised receipt.
func checkReceipt(receipt []byte, v note.Verifier) (*ReceiptInfo, error) {
	head, cpText, ok := bytes.Cut(receipt, []byte("\n\n"))
	if !ok {
		return nil, malformed("receipt: no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != receiptIntro {
		return nil, malformed("receipt line 1: unexpected intro %.40q", lines[0])
	}
	if len(lines) < 4 {
		return nil, malformed("receipt: %d lines before the first empty line, want at least 4 (intro, entry, opening, proof)", len(lines))
	}
	b64 := canonicalB64{}
	entryB64, ok := strings.CutPrefix(lines[1], "entry ")
	if !ok {
		return nil, malformed("receipt line 2: want \"entry <base64>\", got %.40q", lines[1])
	}
	entry, err := b64.DecodeString(entryB64)
	if err != nil {
		return nil, malformed("receipt line 2: entry: %v", err)
	}
	var opening, personal []byte
	switch op, ok := strings.CutPrefix(lines[2], "opening "); {
	case !ok:
		return nil, malformed("receipt line 3: want \"opening -\" or \"opening <base64> <base64>\", got %.40q", lines[2])
	case op == "-":
	default:
		o, p, ok := strings.Cut(op, " ")
		if !ok {
			return nil, malformed("receipt line 3: opening without a personal part")
		}
		if opening, err = b64.DecodeString(o); err != nil || len(opening) != 32 {
			return nil, malformed("receipt line 3: opening key is not 32 bytes of canonical base64")
		}
		if personal, err = b64.DecodeString(p); err != nil {
			return nil, malformed("receipt line 3: personal part is not canonical base64")
		}
	}
	ks, ok := strings.CutPrefix(lines[3], "proof ")
	k, err := strconv.Atoi(ks)
	if !ok || err != nil || k < 0 || k > maxProofLen || strconv.Itoa(k) != ks || len(lines) != 4+k {
		return nil, malformed("receipt line 4: proof length %q (and %d hash lines follow)", ks, len(lines)-4)
	}
	proof := make(tlog.RecordProof, k)
	for i := range proof {
		h, err := b64.DecodeString(lines[4+i])
		if err != nil || len(h) != len(tlog.Hash{}) {
			return nil, malformed("receipt line %d: proof hash %d is not 32 bytes of canonical base64", 5+i, i)
		}
		copy(proof[i][:], h)
	}
	// Authenticate the checkpoint before reading it.
	cp, _, _, err := parseCheckpoint(cpText, v.Name(), v)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrBadProof, err)
	}
	if len(cp.Hash) != len(tlog.Hash{}) || cp.Size > 1<<62 {
		return nil, malformed("receipt: checkpoint hash")
	}
	rec, err := ParseRecord(entry)
	if err != nil {
		return nil, err
	}
	var root tlog.Hash
	copy(root[:], cp.Hash)
	if rec.Index >= int64(cp.Size) || tlog.CheckRecord(proof, int64(cp.Size), root, rec.Index, tlog.RecordHash(entry)) != nil {
		return nil, fmt.Errorf("%w: entry %d is not in the checkpoint of %d entries", ErrBadProof, rec.Index, cp.Size)
	}
	info := &ReceiptInfo{Record: rec, CheckpointSize: int64(cp.Size)}
	if opening != nil {
		p, err := parsePersonal(personal)
		if err != nil {
			return nil, err
		}
		if !hmac.Equal(rec.Commitment, commitment(opening, personal)) {
			return nil, fmt.Errorf("%w: the personal part does not open the entry's commitment", ErrBadProof)
		}
		info.Personal = p
	}
	return info, nil
}

// CheckConsistency verifies offline that the checkpoint newer extends
// older: both signed by the log key, and proof shows the older tree is a
// prefix of the newer one (no entry edited, removed or reordered).
//
// The checkpoints are normalised like receipts (see [CheckReceipt]).
func CheckConsistency(older, newer []byte, proof tlog.TreeProof, logKey string) error {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return fmt.Errorf("audit: log key: %w", err)
	}
	if older, err = normalizeText(older, maxCheckpoint); err != nil {
		return fmt.Errorf("older checkpoint: %w", err)
	}
	if newer, err = normalizeText(newer, maxCheckpoint); err != nil {
		return fmt.Errorf("newer checkpoint: %w", err)
	}
	a, _, _, err := parseCheckpoint(older, v.Name(), v)
	if err != nil {
		return fmt.Errorf("%w: older checkpoint: %v", ErrBadProof, err)
	}
	b, _, _, err := parseCheckpoint(newer, v.Name(), v)
	if err != nil {
		return fmt.Errorf("%w: newer checkpoint: %v", ErrBadProof, err)
	}
	if len(a.Hash) != 32 || len(b.Hash) != 32 || a.Size > b.Size || a.Size == 0 || b.Size > 1<<62 {
		return fmt.Errorf("%w: checkpoints of %d and %d entries", ErrBadProof, a.Size, b.Size)
	}
	var ha, hb tlog.Hash
	copy(ha[:], a.Hash)
	copy(hb[:], b.Hash)
	if err := tlog.CheckTree(proof, int64(b.Size), hb, int64(a.Size), ha); err != nil {
		return fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	return nil
}

// canonicalB64 decodes standard base64 and demands the canonical encoding
// (Go's decoder skips CR and LF even in strict mode), so that a receipt
// has exactly one text form.
type canonicalB64 struct{}

func (canonicalB64) DecodeString(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// parseCheckpoint authenticates a checkpoint note with the log's key, then
// parses it (transparency-dev/formats), and insists on one encoding per
// signature: note accepts base64 signatures with non-zero padding bits,
// which would let anyone re-encode a receipt into another valid one.
// C2SP extension lines (after the root hash, covered by the signature)
// are accepted and returned as rest; other signatures (witness
// cosignatures) are allowed.
func parseCheckpoint(cp []byte, origin string, v note.Verifier) (*tlogfmt.Checkpoint, []byte, *note.Note, error) {
	c, rest, n, err := tlogfmt.ParseCheckpoint(cp, origin, v)
	if err != nil {
		return nil, nil, n, err
	}
	for _, s := range n.Sigs {
		if _, err := base64.StdEncoding.Strict().DecodeString(s.Base64); err != nil {
			return nil, nil, n, fmt.Errorf("signature of %s is not canonical base64", s.Name)
		}
	}
	for _, s := range n.UnverifiedSigs {
		if _, err := base64.StdEncoding.Strict().DecodeString(s.Base64); err != nil {
			return nil, nil, n, fmt.Errorf("signature of %s is not canonical base64", s.Name)
		}
	}
	return c, rest, n, nil
}

// normalizeText undoes what text transport does to a receipt or
// checkpoint, with the project's one reader of carried text forms
// (internal/textform): a byte-order mark, CRLF or lone CR line ends,
// trailing spaces and tabs, blank lines around the text, a missing or
// extra final newline. Any other oddity (a control character, invalid
// UTF-8, more than limit bytes) is an error naming line and column.
func normalizeText(b []byte, limit int) ([]byte, error) {
	s, err := textform.Lines(b, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if s == "" {
		return nil, malformed("empty text")
	}
	return []byte(s), nil
}
