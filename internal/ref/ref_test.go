package ref

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/fxamacker/cbor/v2"
)

func testBody() *Body {
	var d [DescriptorDims]float32
	for i := range d {
		d[i] = float32(i%16-8) / 64
	}
	enc, err := EncodeDescriptors([][DescriptorDims]float32{d})
	if err != nil {
		panic(err)
	}
	return &Body{
		Version:     1,
		ID:          bytes.Repeat([]byte{0x11}, 16),
		Subject:     bytes.Repeat([]byte{0x22}, 16),
		IssuerKeyID: 0x01020304,
		IssuedAt:    1_800_000_000,
		ExpiresAt:   1_831_536_000,
		Purposes:    []string{"door-main", "locker"},
		ModelID:     bytes.Repeat([]byte{0x33}, 16),
		Descriptors: enc,
		Quality:     Quality{Photos: 2, MinFacePx: 104, SpreadMilli: 412},
	}
}

// TestBodyGolden pins the v1 body encoding byte by byte (descriptor bytes
// elided: they are pinned by TestDescriptorEncoding).
func TestBodyGolden(t *testing.T) {
	got, err := testBody().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0xaa,       // map, 10 pairs
		0x01, 0x01, // 1 version: 1
		0x02, 0x50, // 2 reference ID: bytes(16)
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x03, 0x50, // 3 subject pseudonym: bytes(16)
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x04, 0x1a, 0x01, 0x02, 0x03, 0x04, // 4 issuer key ID: uint32
		0x05, 0x1a, 0x6b, 0x49, 0xd2, 0x00, // 5 issued at: 1800000000
		0x06, 0x1a, 0x6d, 0x2b, 0x05, 0x80, // 6 expires at: 1831536000
		0x07, 0x82, // 7 purposes: array(2)
		0x69, 'd', 'o', 'o', 'r', '-', 'm', 'a', 'i', 'n', // text(9)
		0x66, 'l', 'o', 'c', 'k', 'e', 'r', // text(6)
		0x08, 0x50, // 8 model ID: bytes(16)
		0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
		0x09, 0x59, 0x01, 0x00, // 9 descriptors: bytes(256), then the 256 bytes
	}
	tail := []byte{
		0x0a, 0xa3, // 10 quality: map(3)
		0x01, 0x02, // 1 photos: 2
		0x02, 0x18, 0x68, // 2 min face: 104
		0x03, 0x19, 0x01, 0x9c, // 3 spread: 412
	}
	if len(got) != len(want)+256+len(tail) || !bytes.Equal(got[:len(want)], want) || !bytes.Equal(got[len(want)+256:], tail) {
		t.Fatalf("v1 body encoding changed:\n%x", got)
	}
	back, err := UnmarshalBody(got)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if !bytes.Equal(again, got) {
		t.Fatal("round trip changed the bytes")
	}
}

func TestDescriptorEncoding(t *testing.T) {
	var d [DescriptorDims]float32
	d[0], d[1], d[2], d[127] = 1, -2, 0.1, 65504
	b, err := EncodeDescriptors([][DescriptorDims]float32{d})
	if err != nil {
		t.Fatal(err)
	}
	// 1.0 = 0x3c00, -2 = 0xc000, 0.1 ≈ 0x2e66, 65504 = 0x7bff; little-endian.
	if hex.EncodeToString(b[:6]) != "003c00c0662e" || hex.EncodeToString(b[254:]) != "ff7b" || len(b) != 256 {
		t.Fatalf("encoding changed: %x...%x", b[:6], b[254:])
	}
	back, err := DecodeDescriptors(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d {
		if math.Abs(float64(back[0][i]-d[i])) > 1e-3*max(1, math.Abs(float64(d[i]))) {
			t.Fatalf("component %d: %v became %v", i, d[i], back[0][i])
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), 70000} {
		d[5] = bad
		if _, err := EncodeDescriptors([][DescriptorDims]float32{d}); !errors.Is(err, ErrMalformed) {
			t.Errorf("encoded %v", bad)
		}
	}
	nan := bytes.Clone(b)
	nan[10], nan[11] = 0x00, 0x7e // half-precision NaN
	if _, err := DecodeDescriptors(nan); !errors.Is(err, ErrMalformed) {
		t.Error("decoded a NaN")
	}
	inf := bytes.Clone(b)
	inf[10], inf[11] = 0x00, 0x7c
	if _, err := DecodeDescriptors(inf); !errors.Is(err, ErrMalformed) {
		t.Error("decoded an infinity")
	}
}

func TestBodyStrict(t *testing.T) {
	good, _ := testBody().Marshal()
	mutate := func(f func(m map[int]any)) []byte {
		var m map[int]any
		if err := cbor.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := encMode.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string][]byte{
		"unknown key":          mutate(func(m map[int]any) { m[11] = 1 }),
		"missing key":          mutate(func(m map[int]any) { delete(m, 9) }),
		"version 2":            mutate(func(m map[int]any) { m[1] = 2 }),
		"short ID":             mutate(func(m map[int]any) { m[2] = []byte{1} }),
		"expiry before issue":  mutate(func(m map[int]any) { m[6] = 1 }),
		"no purposes":          mutate(func(m map[int]any) { m[7] = []string{} }),
		"unsorted purposes":    mutate(func(m map[int]any) { m[7] = []string{"b", "a"} }),
		"purpose with a space": mutate(func(m map[int]any) { m[7] = []string{"a b"} }),
		"half a descriptor":    mutate(func(m map[int]any) { m[9] = make([]byte, 128) }),
		"zero photos":          mutate(func(m map[int]any) { m[10] = map[int]int{1: 0, 2: 1, 3: 0} }),
		"float field":          mutate(func(m map[int]any) { m[5] = 1.5 }),
		"trailing byte":        append(bytes.Clone(good), 0),
		"duplicate key":        append([]byte{0xab, 0x01, 0x01}, good[1:]...),
		"non-canonical int":    bytes.Replace(good, []byte{0x01, 0x01}, []byte{0x01, 0x18, 0x01}, 1),
		"indefinite map":       append(append([]byte{0xbf}, good[1:]...), 0xff),
		"empty":                nil,
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if body, err := UnmarshalBody(b); !errors.Is(err, ErrMalformed) || body != nil {
				t.Fatalf("got %v, %v", body, err)
			}
		})
	}
}

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestSignVerify(t *testing.T) {
	pub, priv := testKey(t)
	body, _ := testBody().Marshal()
	signed, err := Sign(body, 7, priv)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(id uint32) []ed25519.PublicKey {
		if id == 7 {
			return []ed25519.PublicKey{pub}
		}
		return nil
	}
	payload, id, err := Verify(signed, keys)
	if err != nil || id != 7 || !bytes.Equal(payload, body) {
		t.Fatalf("verify: %v %d", err, id)
	}
	other, _ := testKey(t)
	if _, _, err := Verify(signed, func(uint32) []ed25519.PublicKey { return []ed25519.PublicKey{other} }); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, _, err := Verify(signed, func(uint32) []ed25519.PublicKey { return nil }); !errors.Is(err, ErrUnknownIssuer) {
		t.Fatalf("unknown issuer: %v", err)
	}
	// Every single-bit flip and every truncation fails, none panics.
	for i := range signed {
		b := bytes.Clone(signed)
		b[i] ^= 1
		if p, _, err := Verify(b, keys); err == nil || p != nil {
			t.Fatalf("flip at byte %d accepted", i)
		}
	}
	for n := range len(signed) {
		if p, _, err := Verify(signed[:n], keys); err == nil || p != nil {
			t.Fatalf("truncation to %d accepted", n)
		}
	}
}

func recipients(t testing.TB, n int) ([]age.Recipient, []age.Identity) {
	var rs []age.Recipient
	var ids []age.Identity
	for range n {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, id.Recipient())
		ids = append(ids, id)
	}
	return rs, ids
}

func TestSealUnseal(t *testing.T) {
	rs, ids := recipients(t, 3)
	secret := bytes.Repeat([]byte{9}, 32)
	msg := []byte("signed envelope stand-in")
	for _, pin := range []*PIN{nil, {PIN: "4711", Secret: secret}} {
		a, err := Seal(msg, rs, pin)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Seal(msg, rs, pin)
		if bytes.Equal(a, b) {
			t.Fatal("two seals of the same envelope are equal")
		}
		if HasPIN(a) != (pin != nil) {
			t.Fatal("HasPIN wrong")
		}
		for _, id := range ids { // each verifier opens it alone
			got, err := Unseal(a, []age.Identity{id}, pin)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("unseal: %v", err)
			}
		}
		_, stranger := recipients(t, 1)
		if _, err := Unseal(a, stranger, pin); !errors.Is(err, ErrUnseal) {
			t.Fatalf("stranger: %v", err)
		}
		text := EncodeText(a)
		back, err := DecodeText(text)
		if err != nil || !bytes.Equal(back, a) {
			t.Fatalf("text round trip: %v", err)
		}
	}
	sealed, _ := Seal(msg, rs, &PIN{PIN: "4711", Secret: secret})
	cases := map[string]*PIN{
		"no PIN":          nil,
		"wrong PIN":       {PIN: "4712", Secret: secret},
		"wrong secret":    {PIN: "4711", Secret: bytes.Repeat([]byte{8}, 32)},
		"short secret":    {PIN: "4711", Secret: secret[:31]},
		"empty PIN given": {PIN: "", Secret: secret},
	}
	want := map[string]error{"no PIN": ErrPINRequired, "wrong PIN": ErrUnseal, "wrong secret": ErrUnseal, "empty PIN given": ErrPINRequired}
	for name, pin := range cases {
		_, err := Unseal(sealed, ids, pin)
		if w := want[name]; w != nil && !errors.Is(err, w) || err == nil {
			t.Errorf("%s: got %v, want %v", name, err, want[name])
		}
	}
}

func TestSealedMutations(t *testing.T) {
	rs, ids := recipients(t, 1)
	secret := bytes.Repeat([]byte{9}, 32)
	for _, pin := range []*PIN{nil, {PIN: "4711", Secret: secret}} {
		sealed, err := Seal([]byte("envelope"), rs, pin)
		if err != nil {
			t.Fatal(err)
		}
		for i := range sealed {
			for _, bit := range []byte{0x01, 0x80} {
				b := bytes.Clone(sealed)
				b[i] ^= bit
				if got, err := Unseal(b, ids, pin); err == nil || got != nil {
					t.Fatalf("pin=%v: flip %#x at byte %d accepted", pin != nil, bit, i)
				}
			}
		}
		for n := range len(sealed) {
			if got, err := Unseal(sealed[:n], ids, pin); err == nil || got != nil {
				t.Fatalf("truncation to %d accepted", n)
			}
		}
		for n := 1; n <= 100; n++ {
			if _, err := Unseal(append(bytes.Clone(sealed), make([]byte, n)...), ids, pin); err == nil {
				t.Fatalf("extension by %d accepted", n)
			}
		}
	}
}

func TestTextStrict(t *testing.T) {
	sealed := []byte("OFR1\x00whatever")
	good := EncodeText(sealed)
	for _, bad := range []string{
		"", "oneface-ref2:" + good[len(TextIntro):], strings.ToUpper(good), good + "=", good + " ", " " + good,
		TextIntro + "a",                                           // impossible base64 length
		TextIntro + "\r", TextIntro, good[:20] + "\n" + good[20:], // found by FuzzDecodeText: base64 skips CR/LF
		TextIntro + strings.Repeat("A", MaxText),
	} {
		if _, err := DecodeText(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzUnmarshalBody(f *testing.F) {
	good, _ := testBody().Marshal()
	f.Add(good)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := UnmarshalBody(data)
		if err != nil {
			if b != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v with body %v", err, b)
			}
			return
		}
		again, err := b.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("Marshal output different from input")
		}
	})
}

func FuzzVerify(f *testing.F) {
	pub, priv := testKey(f)
	body, _ := testBody().Marshal()
	signed, _ := Sign(body, 7, priv)
	f.Add(signed)
	f.Add([]byte{0xd2, 0x84})
	keys := func(uint32) []ed25519.PublicKey { return []ed25519.PublicKey{pub} }
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := Verify(data, keys)
		if err != nil && p != nil {
			t.Fatal("payload returned with an error")
		}
		if err == nil && !bytes.Equal(data, signed) {
			t.Fatal("accepted a different envelope") // Ed25519 is deterministic and encoding canonical
		}
	})
}

func FuzzUnseal(f *testing.F) {
	rs, ids := recipients(f, 1)
	sealed, _ := Seal([]byte("envelope"), rs, nil)
	f.Add(sealed)
	f.Add([]byte("OFR1\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Unseal(data, ids, nil)
		if err != nil && got != nil {
			t.Fatal("plaintext returned with an error")
		}
	})
}

func FuzzDecodeText(f *testing.F) {
	f.Add(EncodeText([]byte("OFR1\x00abc")))
	f.Add("oneface-ref1:")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeText(s)
		if err != nil {
			if b != nil {
				t.Fatal("bytes returned with an error")
			}
			return
		}
		if EncodeText(b) != s {
			t.Fatal("text form is not canonical")
		}
	})
}
