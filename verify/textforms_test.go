package verify

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// transport returns what text transport does to a one-token text form s:
// the form as written by the CLI (final newline), CRLF, a byte-order
// mark, surrounding blank lines and spaces, and wrapping (at n characters,
// CRLF or LF).
func transport(s string, n int) map[string]string {
	wrap := func(sep string) string {
		var b strings.Builder
		for i := 0; i < len(s); i += n {
			b.WriteString(s[i:min(i+n, len(s))])
			b.WriteString(sep)
		}
		return b.String()
	}
	return map[string]string{
		"as is":           s,
		"final newline":   s + "\n",
		"CRLF":            s + "\r\n",
		"extra newlines":  s + "\n\n\n",
		"BOM":             "\ufeff" + s + "\n",
		"blank lines":     "\n\n" + s + "  \t\n\n",
		"wrapped LF":      wrap("\n"),
		"wrapped CRLF":    wrap("\r\n"),
		"wrapped, spaces": "  " + wrap("   \r\n  "),
	}
}

func TestParseKeysTextTransport(t *testing.T) {
	ik, err := GenerateIssuerKey("issuer.example")
	if err != nil {
		t.Fatal(err)
	}
	vk, err := GenerateVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	ds := GenerateDeploymentSecret()
	type parser func(string) (string, error)
	forms := []struct {
		name  string
		canon string
		parse parser
	}{
		{"issuer key", ik.String(), func(s string) (string, error) { k, err := ParseIssuerKey(s); return str(k, err) }},
		{"issuer public key", ik.Public().String(), func(s string) (string, error) { k, err := ParseIssuerPublicKey(s); return str(k, err) }},
		{"verifier key", vk.String(), func(s string) (string, error) { k, err := ParseVerifierKey(s); return str(k, err) }},
		{"verifier recipient", vk.Recipient().String(), func(s string) (string, error) { k, err := ParseVerifierRecipient(s); return str(k, err) }},
		{"deployment secret", ds.String(), func(s string) (string, error) { k, err := ParseDeploymentSecret(s); return str(k, err) }},
	}
	for _, f := range forms {
		for how, text := range transport(f.canon, 17) {
			got, err := f.parse(text)
			if err != nil || got != f.canon {
				t.Errorf("%s, %s: got %q, %v; want %q", f.name, how, got, err, f.canon)
			}
		}
		// Refused, each by name: an empty text, a control character, a
		// stray character inside, an oversized text.
		for how, c := range map[string]struct{ text, want string }{
			"empty":      {" \r\n", "empty"},
			"control":    {f.canon[:5] + "\x00" + f.canon[5:], "line 1, column 6"},
			"control L2": {f.canon[:5] + "\n" + f.canon[5:9] + "\x1b" + f.canon[9:], "line 2, column 5"},
			"too large":  {strings.Repeat(" ", maxKeyText) + f.canon, "limit 4096"},
			"truncated":  {f.canon[:len(f.canon)-3], f.name},
			"extra":      {f.canon + "x", f.name},
		} {
			_, err := f.parse(c.text)
			if !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), f.name) {
				t.Errorf("%s, %s: error %v, want ErrKeyFormat naming %q", f.name, how, err, c.want)
			}
		}
	}
}

func str(k interface{ String() string }, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return k.String(), nil
}

// Bech32 is case-insensitive but never mixed (BIP 173): a recipient in
// upper case, as a QR code in alphanumeric mode carries it, is the same
// recipient; an identity in lower case is the same identity.
func TestBech32Case(t *testing.T) {
	vk, err := GenerateVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	rec := vk.Recipient().String()
	r, err := ParseVerifierRecipient(strings.ToUpper(rec) + "\r\n")
	if err != nil || r.String() != rec {
		t.Fatalf("upper-case recipient: %v, %v", r, err)
	}
	k, err := ParseVerifierKey(strings.ToLower(vk.String()))
	if err != nil || k.String() != vk.String() {
		t.Fatalf("lower-case identity: %v", err)
	}
	for name, s := range map[string]string{
		"recipient": "AGE1" + rec[4:],
		"identity":  strings.ToLower(vk.String()[:10]) + vk.String()[10:],
	} {
		var err error
		if name == "recipient" {
			_, err = ParseVerifierRecipient(s)
		} else {
			_, err = ParseVerifierKey(s)
		}
		if !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), "mixes upper and lower case") {
			t.Errorf("mixed-case %s: %v", name, err)
		}
	}
	// Case matters where the encoding is not case-insensitive: a
	// deployment secret in another case is another secret, or none.
	ds := GenerateDeploymentSecret()
	if d, err := ParseDeploymentSecret(strings.ToLower(ds.String())); err == nil && d.String() == ds.String() {
		t.Fatal("a lower-cased deployment secret parsed as the same secret")
	}
}

// fakeContainer is a v2 container's shape (intro, flags, age header);
// DecodeReference checks form only, so it needs nothing more.
func fakeContainer() []byte {
	b := []byte("OFR2\x00age-encryption.org/v1\n-> X25519 " + strings.Repeat("A", 43) + "\n")
	for i := range 200 {
		b = append(b, byte(i))
	}
	return b
}

// The reference text as text transport leaves it — including the final
// newline `oneface enroll -o` writes — decodes to the same container.
func TestDecodeReferenceTextTransport(t *testing.T) {
	raw := fakeContainer()
	text := EncodeText(raw)
	for how, s := range transport(text, 64) {
		got, err := DecodeReference([]byte(s))
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: %v", how, err)
		}
	}
	// Binary stays binary, untouched.
	if got, err := DecodeReference(raw); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("binary: %v", err)
	}
	for how, c := range map[string]struct {
		text string
		want error
		msg  string
	}{
		"control":        {text[:20] + "\x07" + text[20:] + "\n", ErrMalformed, "line 1, column 21"},
		"control L3":     {"\n\n" + text[:30] + "\x7f" + text[30:], ErrMalformed, "line 3, column 31"},
		"invalid UTF-8":  {text + "\xff\n", ErrMalformed, "text form"},
		"not base64url":  {text[:40] + "*" + text[41:], ErrMalformed, "text form"},
		"standard b64":   {text[:40] + "+" + text[41:], ErrMalformed, "text form"},
		"padding":        {text + "==", ErrMalformed, "text form"},
		"non-canonical":  {text[:len(text)-1] + nonCanonicalLast(text), ErrMalformed, "illegal base64 data"},
		"v1 intro":       {"oneface-ref1:" + text[len("oneface-ref2:"):], ErrMalformed, "v1 text holds no v1 container"},
		"oversized":      {text + strings.Repeat("A", 40<<10), ErrTooLarge, "limit"},
		"oversized wrap": {text + strings.Repeat("\n", 80<<10), ErrTooLarge, "limit"},
	} {
		_, err := DecodeReference([]byte(c.text))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v naming %q", how, err, c.want, c.msg)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "verify: ") {
			t.Errorf("%s: %q does not say verify:", how, err)
		}
	}
}

// nonCanonicalLast returns a last character that decodes to the same
// bytes as the canonical one but with non-zero padding bits.
func nonCanonicalLast(text string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, text[len(text)-1])
	return string(alphabet[i^1]) // 281 bytes: the last character has 2 padding bits
}

func FuzzDecodeReferenceText(f *testing.F) {
	text := EncodeText(fakeContainer())
	for _, s := range transport(text, 50) {
		f.Add([]byte(s))
	}
	f.Add([]byte("oneface-ref2:\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, err := DecodeReference(b)
		if err != nil || !isRefText(b) {
			return
		}
		// One container, one canonical text: what decodes re-encodes
		// to a text that decodes to the same bytes.
		again, err := DecodeReference([]byte(EncodeText(raw)))
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
	})
}

// FuzzParseKeyText: every key parser takes any bytes without panicking,
// and what it accepts has one canonical text that parses to itself.
func FuzzParseKeyText(f *testing.F) {
	ik, _ := GenerateIssuerKey("issuer.example")
	vk, _ := GenerateVerifierKey()
	for _, s := range []string{ik.String(), ik.Public().String(), vk.String(), vk.Recipient().String(), GenerateDeploymentSecret().String()} {
		for _, t := range transport(s, 13) {
			f.Add(t)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		parsers := []func(string) (string, error){
			func(s string) (string, error) { k, err := ParseIssuerKey(s); return str(k, err) },
			func(s string) (string, error) { k, err := ParseIssuerPublicKey(s); return str(k, err) },
			func(s string) (string, error) { k, err := ParseVerifierKey(s); return str(k, err) },
			func(s string) (string, error) { k, err := ParseVerifierRecipient(s); return str(k, err) },
			func(s string) (string, error) { k, err := ParseDeploymentSecret(s); return str(k, err) },
		}
		for i, parse := range parsers {
			canon, err := parse(s)
			if err != nil {
				if !errors.Is(err, ErrKeyFormat) {
					t.Fatalf("parser %d: error %v is not ErrKeyFormat", i, err)
				}
				continue
			}
			if again, err := parse(canon); err != nil || again != canon {
				t.Fatalf("parser %d: canonical text %q does not parse to itself: %q, %v", i, canon, again, err)
			}
		}
	})
}
