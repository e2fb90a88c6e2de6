package ref

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"

	"filippo.io/age"
)

// TestTemplateInt8Golden pins the int8 encoding byte by byte.
func TestTemplateInt8Golden(t *testing.T) {
	v := make([]float32, 128)
	v[0], v[1], v[2], v[3], v[4] = 0.5, -0.5, 0.25, 0.001, -0.0019685 // peak 0.5: s = 0.5/127
	tm, err := EncodeTemplate(EncodingInt8, [][]float32{v})
	if err != nil {
		t.Fatal(err)
	}
	// s = float32(0.5/127) = 0x3b810204 (little-endian 04 02 81 3b);
	// 0.5/s = 127 → 0x7f; -127 → 0x81; 0.25/s = 63.5 → ties to even 64
	// (0x40); 0.001/s = 0.254 → 0; -0.0019685/s = -0.49999 → -0 → 0.
	want := "0402813b" + "7f814000" + "00"
	if got := hex.EncodeToString(tm.Data[:9]); got != want || len(tm.Data) != 4+128 || tm.Dims != 128 || tm.Encoding != EncodingInt8 {
		t.Fatalf("int8 encoding changed: %s (%d bytes)", got, len(tm.Data))
	}
	back, err := tm.Decode()
	if err != nil {
		t.Fatal(err)
	}
	s := math.Float32frombits(0x3b810204)
	if back[0][0] != 127*s || back[0][1] != -127*s || back[0][2] != 64*s || back[0][3] != 0 {
		t.Fatalf("decoded %v", back[0][:5])
	}
	// Refused: NaN/Inf on encode; zero vector; bad scales and -128 on
	// decode; wrong dimension.
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		v[9] = bad
		if _, err := EncodeTemplate(EncodingInt8, [][]float32{v}); !errors.Is(err, ErrMalformed) {
			t.Errorf("encoded %v", bad)
		}
	}
	if _, err := EncodeTemplate(EncodingInt8, [][]float32{make([]float32, 128)}); !errors.Is(err, ErrMalformed) {
		t.Error("encoded an all-zero vector")
	}
	if _, err := EncodeTemplate(EncodingFloat16, [][]float32{make([]float32, 100)}); !errors.Is(err, ErrMalformed) {
		t.Error("encoded 100 dimensions")
	}
	for name, edit := range map[string]func([]byte){
		"scale 0":   func(b []byte) { copy(b, []byte{0, 0, 0, 0}) },
		"scale < 0": func(b []byte) { b[3] |= 0x80 },
		"scale NaN": func(b []byte) { copy(b, []byte{0, 0, 0xc0, 0x7f}) },
		"scale Inf": func(b []byte) { copy(b, []byte{0, 0, 0x80, 0x7f}) },
		"q = -128":  func(b []byte) { b[10] = 0x80 },
	} {
		bad := Template{Encoding: EncodingInt8, Dims: 128, Data: bytes.Clone(tm.Data)}
		edit(bad.Data)
		if _, err := bad.Decode(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s decoded", name)
		}
	}
}

// TestTemplateInt8Loss: on 512-D unit vectors, int8 with a per-vector
// scale moves Euclidean distances by little (measured, printed).
func TestTemplateInt8Loss(t *testing.T) {
	rnd := uint64(1)
	next := func() float64 { // xorshift, deterministic
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return float64(rnd%2000001)/1e6 - 1
	}
	unit := func() []float32 {
		v := make([]float32, 512)
		var n float64
		for i := range v {
			v[i] = float32(next())
			n += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	dist := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			d := float64(a[i]) - float64(b[i])
			s += d * d
		}
		return math.Sqrt(s)
	}
	var worst float64
	for range 200 {
		a, b := unit(), unit()
		ta, _ := EncodeTemplate(EncodingInt8, [][]float32{a})
		qa, _ := ta.Decode()
		worst = max(worst, math.Abs(dist(qa[0], b)-dist(a, b)))
	}
	t.Logf("int8, 512-D unit vectors: largest change of a Euclidean distance over 200 pairs: %.2g", worst)
	if worst > 5e-3 {
		t.Fatalf("int8 moved a distance by %g", worst)
	}
}

func testBodyV2() *BodyV2 {
	v := make([]float32, 512)
	for i := range v {
		v[i] = float32(i%16-8) / 64
	}
	tm, err := EncodeTemplate(EncodingInt8, [][]float32{v})
	if err != nil {
		panic(err)
	}
	return &BodyV2{Version: 2, ID: bytes.Repeat([]byte{0x11}, 16), Subject: bytes.Repeat([]byte{0x22}, 16), IssuerKeyID: 0x01020304,
		IssuedAt: 1_800_000_000, ExpiresAt: 1_831_536_000, Purposes: []string{"door-main"}, ModelID: bytes.Repeat([]byte{0x33}, 16),
		Template: tm, Quality: Quality{Photos: 1, MinFacePx: 104}, PINRequired: true, Deployment: bytes.Repeat([]byte{0x44}, 8)}
}

// TestBodyV2Golden pins the fields v2 adds and the template's header
// (the shared fields are pinned by TestBodyGolden).
func TestBodyV2Golden(t *testing.T) {
	got, err := testBodyV2().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	head := []byte{0xac, 0x01, 0x02} // map, 12 pairs; 1 version: 2
	tmpl := []byte{
		0x09, 0xa3, // 9 template: map(3)
		0x01, 0x02, // 1 encoding: int8
		0x02, 0x19, 0x02, 0x00, // 2 dims: 512
		0x03, 0x59, 0x02, 0x04, // 3 data: bytes(516)
	}
	tail := []byte{
		0x0a, 0xa3, 0x01, 0x01, 0x02, 0x18, 0x68, 0x03, 0x00, // 10 quality
		0x0b, 0xf5, // 11 PIN required: true
		0x0c, 0x48, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, // 12 deployment: bytes(8)
	}
	i := bytes.Index(got, tmpl)
	if !bytes.HasPrefix(got, head) || i < 0 || !bytes.Equal(got[i+len(tmpl)+516:], tail) {
		t.Fatalf("v2 body encoding changed:\n%x", got)
	}
	back, err := UnmarshalBodyV2(got)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := back.Marshal(); !bytes.Equal(again, got) {
		t.Fatal("round trip changed the bytes")
	}
	// A v1 body is not a v2 body, nor the other way round.
	v1, _ := testBody().Marshal()
	if _, err := UnmarshalBodyV2(v1); !errors.Is(err, ErrMalformed) {
		t.Fatal("v1 body parsed as v2")
	}
	if _, err := UnmarshalBody(got); !errors.Is(err, ErrMalformed) {
		t.Fatal("v2 body parsed as v1")
	}
}

// FuzzBodyV2 is the v2 parser after authentication: never panics, nil on
// error, and what it accepts re-encodes to the same bytes and decodes.
func FuzzBodyV2(f *testing.F) {
	good, _ := testBodyV2().Marshal()
	f.Add(good)
	b := testBodyV2()
	b.Template, _ = EncodeTemplate(EncodingFloat16, [][]float32{make([]float32, 128)})
	b.Template.Data[0] = 1
	b.PINRequired = false
	small, _ := b.Marshal()
	f.Add(small)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := UnmarshalBodyV2(data)
		if err != nil {
			if body != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("body %v with error %v", body, err)
			}
			return
		}
		again, err := body.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes do not round-trip: %v", err)
		}
		if _, err := body.Template.Decode(); err != nil {
			t.Fatalf("accepted body's template does not decode: %v", err)
		}
	})
}

// FuzzUnsealOuter: the v2 container parser before authentication.
func FuzzUnsealOuter(f *testing.F) {
	id, _ := age.GenerateX25519Identity()
	sealed, err := SealV2([]byte("signed"), bytes.Repeat([]byte{1}, 16), []age.Recipient{id.Recipient()}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte("OFR2\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := UnsealOuter(data, []age.Identity{id})
		if (err == nil) == (o == nil) {
			t.Fatalf("outer %v with error %v", o, err)
		}
		if err == nil && !bytes.Equal(data, sealed) {
			// Only something sealed to id can open: the fuzzer cannot
			// forge age, so anything else accepted is a bug.
			t.Fatalf("opened a container that was never sealed")
		}
		if _, err := DecodeTextAny(string(data)); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
}
