// Package textform reads the text forms that people and auditors carry —
// references, receipts, checkpoints, keys, recipients — tolerating exactly
// the changes that text transport makes to them, and nothing else.
//
// Mail clients, editors, chat apps and copy-paste change text in a few
// known ways: LF becomes CRLF (or a lone CR), spaces or tabs are added at
// line ends, a final newline is added or lost, a byte-order mark is
// prepended, blank lines are added around the text, and long lines are
// wrapped. None of these can change what a signature covers as long as the
// reader undoes them before checking: [Lines] maps a multi-line form back
// to its canonical text (the one the signer produced), and [Token] joins a
// single-token form (base64, bech32) that was wrapped. Every other byte —
// a control character, invalid UTF-8, an oversized input — is an [*Error]
// that names the line and column, never silently dropped: a signature is
// then checked over the canonical text, so a reader can never accept two
// different texts as the same signed object.
//
// Letter case is left to the caller: only the caller knows whether its
// encoding is case-insensitive (bech32 is; base64 is not).
package textform

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrTooLarge is returned (wrapped in an [*Error]) for an input longer
// than the caller's limit.
var ErrTooLarge = errors.New("textform: too large")

// ErrMalformed is returned (wrapped in an [*Error]) for a byte no text
// transport produces: a control character other than tab, CR and LF, or
// invalid UTF-8.
var ErrMalformed = errors.New("textform: malformed text")

// Error names the exact problem in a text form. Line and Column are
// 1-based and count bytes of the input as given (before normalisation);
// both are 0 when the problem concerns the whole input.
type Error struct {
	Line, Column int
	Problem      string
	Err          error // ErrTooLarge or ErrMalformed
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return "textform: " + e.Problem
	}
	return fmt.Sprintf("textform: line %d, column %d: %s", e.Line, e.Column, e.Problem)
}

func (e *Error) Unwrap() error { return e.Err }

const bom = "\ufeff"

// check bounds the input and rejects bytes that text transport never
// produces, naming where they are. A byte-order mark is allowed only as
// the first character.
func check(b []byte, limit int) error {
	if len(b) > limit {
		return &Error{Problem: fmt.Sprintf("%d bytes, limit %d", len(b), limit), Err: ErrTooLarge}
	}
	line, col := 1, 1
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\n':
			line, col = line+1, 1
			i++
			continue
		case c == '\r' || c == '\t':
		case c < 0x20 || c == 0x7f:
			return &Error{Line: line, Column: col, Problem: fmt.Sprintf("control character %#02x", c), Err: ErrMalformed}
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return &Error{Line: line, Column: col, Problem: "invalid UTF-8", Err: ErrMalformed}
			}
			if r == 0xfeff && i > 0 {
				return &Error{Line: line, Column: col, Problem: "byte-order mark inside the text", Err: ErrMalformed}
			}
			i += n
			col += n
			continue
		}
		i++
		col++
	}
	return nil
}

// Lines returns the canonical form of a multi-line text of at most limit
// bytes: a leading UTF-8 byte-order mark removed, CRLF and lone CR turned
// into LF, trailing spaces and tabs removed from every line, blank lines
// before the first and after the last line of text removed, and exactly
// one final newline. Blank lines inside the text (a signed note's
// separator) are kept, as are leading spaces. An empty or blank input
// gives "". The error is an [*Error].
func Lines(b []byte, limit int) (string, error) {
	if err := check(b, limit); err != nil {
		return "", err
	}
	b = bytes.TrimPrefix(b, []byte(bom))
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	for i := range lines {
		lines[i] = bytes.TrimRight(lines[i], " \t")
	}
	for len(lines) > 0 && len(lines[0]) == 0 {
		lines = lines[1:]
	}
	for len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return "", nil
	}
	var out bytes.Buffer
	for _, l := range lines {
		out.Write(l)
		out.WriteByte('\n')
	}
	return out.String(), nil
}

// Token returns a single-token text form of at most limit bytes (a
// base64 or bech32 string, possibly wrapped over several lines) with a
// leading byte-order mark and every space, tab, CR and LF removed. The
// error is an [*Error]; an input with no token gives "".
func Token(b []byte, limit int) (string, error) {
	if err := check(b, limit); err != nil {
		return "", err
	}
	b = bytes.TrimPrefix(b, []byte(bom))
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}
