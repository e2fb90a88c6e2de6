package textform

import (
	"errors"
	"strings"
	"testing"
)

const note = "kiosk-qa.example\n1\nEdJdkbUSFbZA9ig+G3YT4A5mnM++53xAWZu9i8mIk+E=\n\n— kiosk-qa.example qBfQ4dyA=\n"

func TestLinesUndoesTransport(t *testing.T) {
	for name, in := range map[string]string{
		"canonical":        note,
		"crlf":             strings.ReplaceAll(note, "\n", "\r\n"),
		"lone cr":          strings.ReplaceAll(note, "\n", "\r"),
		"no final newline": strings.TrimSuffix(note, "\n"),
		"extra newlines":   note + "\n\n\r\n",
		"leading blank":    "\n\r\n" + note,
		"trailing spaces":  strings.ReplaceAll(note, "\n", " \t \n"),
		"bom":              bom + note,
		"everything":       bom + "\r\n" + strings.ReplaceAll(strings.TrimSuffix(note, "\n"), "\n", "  \r\n"),
	} {
		got, err := Lines([]byte(in), 1<<10)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != note {
			t.Errorf("%s: got %q, want %q", name, got, note)
		}
	}
}

func TestLinesKeepsWhatSignaturesCover(t *testing.T) {
	// Inner blank lines and leading spaces are content: they must survive.
	in := "a\n\n  b\n\n\nc\n"
	got, err := Lines([]byte(in), 100)
	if err != nil || got != in {
		t.Fatalf("Lines(%q) = %q, %v", in, got, err)
	}
	if got, _ := Lines([]byte(" \r\n\t\n"), 100); got != "" {
		t.Fatalf("blank input gave %q", got)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct {
		in        string
		limit     int
		want      error
		line, col int
	}{
		{"abc\nd\x00e\n", 100, ErrMalformed, 2, 2},
		{"abc\r\nxy\x1b", 100, ErrMalformed, 2, 3},
		{"ok\n\xff\xfe", 100, ErrMalformed, 2, 1},
		{"é\x7f", 100, ErrMalformed, 1, 3},
		{strings.Repeat("a", 101), 100, ErrTooLarge, 0, 0},
		{bom + "a\n" + bom, 100, ErrMalformed, 2, 1},
	} {
		for _, f := range []func([]byte, int) (string, error){Lines, Token} {
			_, err := f([]byte(tc.in), tc.limit)
			var e *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &e) || e.Line != tc.line || e.Column != tc.col {
				t.Errorf("%q: got %v, want %v at %d:%d", tc.in, err, tc.want, tc.line, tc.col)
			}
		}
	}
}

func TestToken(t *testing.T) {
	const tok = "oneface-ref1:QUJDREVGR0hJSktMTU5PUA"
	wrapped := bom + tok[:10] + "\r\n" + tok[10:25] + " \n\t" + tok[25:] + "\n"
	got, err := Token([]byte(wrapped), 100)
	if err != nil || got != tok {
		t.Fatalf("Token = %q, %v", got, err)
	}
}

func FuzzLines(f *testing.F) {
	for _, s := range []string{note, strings.ReplaceAll(note, "\n", "\r\n"), "", "\r", "a\x00", bom} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Lines(b, 4096)
		if err != nil {
			if got != "" {
				t.Fatal("text returned with an error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		// Canonical text is a fixed point and never grows.
		again, err := Lines([]byte(got), 4096)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q (%v)", got, again, err)
		}
		if len(got) > len(b)+1 || strings.ContainsAny(got, "\r") || (got != "" && !strings.HasSuffix(got, "\n")) {
			t.Fatalf("not canonical: %q", got)
		}
		tok, err := Token(b, 4096)
		if err != nil || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("Token(%q) = %q, %v", b, tok, err)
		}
	})
}
