package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The published weights and the file they convert to (pins of
// scripts/models.sources and internal/facerec/models.sha256).
const (
	npmPackage    = "@vladmandic/face-api@1.7.15"
	npmTarball    = "vladmandic-face-api-1.7.15.tgz"
	tarballSHA256 = "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
	modelFile     = "dlib_face_recognition_resnet_model_v1.dat"
)

// pinnedSHA256 reads the model's pin from internal/facerec/models.sha256.
func pinnedSHA256(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../facerec/models.sha256")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == modelFile {
			return f[0]
		}
	}
	t.Fatalf("no pin for %s", modelFile)
	return ""
}

// TestConvertNPM is the proof: the real package from the npm registry,
// converted, gives exactly the pinned model file. It needs npm and the
// registry; under ONEFACE_REQUIRE_ENGINE=1 (make test) their absence is
// a failure.
func TestConvertNPM(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 12.7 MB from the npm registry")
	}
	require := os.Getenv("ONEFACE_REQUIRE_ENGINE") == "1"
	npm, err := exec.LookPath("npm")
	if err != nil {
		if require {
			t.Fatal("npm not found and ONEFACE_REQUIRE_ENGINE=1")
		}
		t.Skip("npm not found")
	}
	dir := t.TempDir()
	cmd := exec.Command(npm, "pack", "--silent", "--pack-destination", dir, npmPackage)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		if require {
			t.Fatalf("npm pack %s: %v\n%s", npmPackage, err, out)
		}
		t.Skipf("npm pack %s: %v\n%s", npmPackage, err, out)
	}
	tgz := filepath.Join(dir, npmTarball)
	if got := fileSHA256(t, tgz); got != tarballSHA256 {
		t.Fatalf("%s: SHA-256 %s, pinned %s", npmTarball, got, tarballSHA256)
	}
	out := filepath.Join(dir, modelFile)
	var stdout bytes.Buffer
	if err := run([]string{"-tgz", tgz, "-o", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	want := pinnedSHA256(t)
	if got := fileSHA256(t, out); got != want {
		t.Fatalf("converted %s: SHA-256 %s, pinned %s", modelFile, got, want)
	}
	if !strings.HasPrefix(stdout.String(), want+"  ") {
		t.Errorf("stdout %q does not report the hash", stdout.String())
	}
	t.Logf("%s → %s: SHA-256 %s (the pin)", npmTarball, modelFile, want)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestEncoderGolden pins the primitives on bytes read from the real model
// file (see TestEncoderMatchesDlib for dlib's own encoder).
func TestEncoderGolden(t *testing.T) {
	cases := []struct {
		name string
		put  func(*encoder)
		want string
	}{
		{"int 0", func(e *encoder) { e.int(0) }, "01 00"},                   // one magnitude byte, even for 0
		{"int 1", func(e *encoder) { e.int(1) }, "01 01"},                   // record version 1
		{"int 300", func(e *encoder) { e.int(300) }, "02 2c 01"},            // two bytes, little-endian
		{"int -28", func(e *encoder) { e.int(-28) }, "81 1c"},               // bit 7: negative
		{"bool", func(e *encoder) { e.bool(true); e.bool(false) }, "31 30"}, // '1', '0'
		{"string", func(e *encoder) { e.string("relu_") }, "01 05 72 65 6c 75 5f"},
		// float 0.04 = 0xa3d70a·2^-28: mantissa 3 bytes, exponent -28 (loss margin).
		{"float32 0.04", func(e *encoder) { e.float32(0.04) }, "03 0a d7 a3 81 1c"},
		// float 122.782 = 0xf59062·2^-17 (input mean of red).
		{"float32 122.782", func(e *encoder) { e.float32(122.782) }, "03 62 90 f5 81 11"},
		// double 1 = 2^52·2^-52, six zero bytes shifted out: 0x10·2^-4.
		{"float64 1", func(e *encoder) { e.float64(1) }, "01 10 81 04"},
		// double 0: mantissa 0, exponent -53 + 8·8 = 11.
		{"float64 0", func(e *encoder) { e.float64(0) }, "01 00 01 0b"},
		// tensor version 2, dims 1,1,1,2, then raw little-endian float32.
		{"tensor", func(e *encoder) { e.tensor(1, 1, 1, 2, []float32{1, -2}) }, "01 02 01 01 01 01 01 01 01 02 00 00 80 3f 00 00 00 c0"},
		{"alias", func(e *encoder) { e.aliasTensor(1, 32, 1, 1) }, "01 01 01 01 01 20 01 01 01 01"},
	}
	for _, c := range cases {
		var e encoder
		c.put(&e)
		if got := hexBytes(e.b); got != c.want {
			t.Errorf("%s: % x, want %s", c.name, e.b, c.want)
		}
	}
}

func hexBytes(b []byte) string {
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(s, " ")
}

// spec lists face-api's FaceRecognitionNet tensors (names and tfjs
// shapes), in the manifest's order.
func spec() (names []string, shapes [][]int) {
	add := func(n string, s ...int) { names, shapes = append(names, n), append(shapes, s) }
	conv := func(p string, size, in, out int) {
		add(p+"/conv/filters", size, size, in, out)
		add(p+"/conv/bias", out)
		add(p+"/scale/weights", out)
		add(p+"/scale/biases", out)
	}
	conv("conv32_down", 7, 3, 32)
	in := 32
	for _, b := range []struct {
		n     int
		names []string
	}{
		{32, []string{"conv32_1", "conv32_2", "conv32_3"}},
		{64, []string{"conv64_down", "conv64_1", "conv64_2", "conv64_3"}},
		{128, []string{"conv128_down", "conv128_1", "conv128_2"}},
		{256, []string{"conv256_down", "conv256_1", "conv256_2", "conv256_down_out"}},
	} {
		for _, name := range b.names {
			conv(name+"/conv1", 3, in, b.n)
			conv(name+"/conv2", 3, b.n, b.n)
			in = b.n
		}
	}
	add("fc", 256, 128)
	return names, shapes
}

type synthTensor struct {
	Name         string         `json:"name"`
	Shape        []int          `json:"shape"`
	Dtype        string         `json:"dtype"`
	Quantization map[string]any `json:"quantization,omitempty"`
}

// synthetic builds a manifest and weights file with face-api's layout:
// the first convolution's filters as distinct raw float32 values (so the
// transposition can be checked element by element), one uint16 tensor,
// the rest uint8 from a seeded generator.
func synthetic(t testing.TB, edit func([]synthTensor) []synthTensor) (manifest, weights []byte) {
	names, shapes := spec()
	var ts []synthTensor
	for i, n := range names {
		st := synthTensor{Name: n, Shape: shapes[i], Dtype: "float32"}
		switch {
		case i == 0:
		case n == "conv32_1/conv1/scale/weights":
			st.Quantization = map[string]any{"dtype": "uint16", "scale": 1e-4, "min": 0.5}
		default:
			st.Quantization = map[string]any{"dtype": "uint8", "scale": 0.01 + float64(i)*1e-5, "min": -0.3}
		}
		ts = append(ts, st)
	}
	if edit != nil {
		ts = edit(ts)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]byte, 0, 6<<20)
	for _, st := range ts {
		n := 1
		for _, d := range st.Shape {
			n *= d
		}
		switch {
		case st.Quantization == nil:
			for j := range n {
				w = binary.LittleEndian.AppendUint32(w, math.Float32bits(float32(j)+0.25))
			}
		case st.Quantization["dtype"] == "uint16":
			for range n {
				w = binary.LittleEndian.AppendUint16(w, uint16(rng.Uint32()))
			}
		default:
			q := make([]byte, (n+7)/8*8)
			for j := 0; j < len(q); j += 8 {
				binary.LittleEndian.PutUint64(q[j:], rng.Uint64())
			}
			w = append(w, q[:n]...)
		}
	}
	m, err := json.Marshal([]any{map[string]any{"paths": []string{"face_recognition_model.bin"}, "weights": ts}})
	if err != nil {
		t.Fatal(err)
	}
	return m, w
}

func TestConvertSynthetic(t *testing.T) {
	m, w := synthetic(t, nil)
	a, err := convert(m, w)
	if err != nil {
		t.Fatal(err)
	}
	b, err := convert(m, w)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two conversions differ")
	}
	// The first convolution: "con_5", then its params tensor: version 2,
	// dims (7·7·3·32 + 32 = 4736, 1, 1, 1), floats. tfjs [y][x][i][o]
	// holds j+0.25 at j = ((y·7+x)·3+i)·32+o; dlib wants [o][i][y][x].
	at := bytes.Index(a, []byte("\x01\x05con_5"))
	if at < 0 {
		t.Fatal("no con_5 record")
	}
	hdr := "01 02 02 80 12 01 01 01 01 01 01" // 4736 = 0x1280
	p := at + 7
	if got := hexBytes(a[p : p+11]); got != hdr {
		t.Fatalf("params header % x, want %s", a[p:p+11], hdr)
	}
	p += 11
	for o := range 32 {
		for i := range 3 {
			for y := range 7 {
				for x := range 7 {
					got := math.Float32frombits(binary.LittleEndian.Uint32(a[p:]))
					if want := float32(((y*7+x)*3+i)*32+o) + 0.25; got != want {
						t.Fatalf("filter o=%d i=%d y=%d x=%d: %v, want %v", o, i, y, x, got, want)
					}
					p += 4
				}
			}
		}
	}
	// Then the 32 biases: uint8 dequantised q·scale+min.
	q := w[7*7*3*32*4] // first bias byte
	if got, want := math.Float32frombits(binary.LittleEndian.Uint32(a[p:])), float32(float64(q)*(0.01+1e-5)-0.3); got != want {
		t.Fatalf("first bias %v, want %v", got, want)
	}
}

func TestConvertRefuses(t *testing.T) {
	drop := func(name string) func([]synthTensor) []synthTensor {
		return func(ts []synthTensor) []synthTensor {
			var out []synthTensor
			for _, st := range ts {
				if st.Name != name {
					out = append(out, st)
				}
			}
			return out
		}
	}
	cases := map[string]func([]synthTensor) []synthTensor{
		"missing tensor": drop("conv128_1/conv2/scale/biases"),
		"extra tensor": func(ts []synthTensor) []synthTensor {
			return append(ts, synthTensor{Name: "extra", Shape: []int{2}, Dtype: "float32"})
		},
		"wrong shape": func(ts []synthTensor) []synthTensor { ts[len(ts)-1].Shape = []int{128, 256}; return ts },
		"repeated name": func(ts []synthTensor) []synthTensor {
			ts[2].Name = ts[3].Name
			return ts
		},
		"int32 dtype": func(ts []synthTensor) []synthTensor { ts[5].Dtype = "int32"; return ts },
		"float16 quantization": func(ts []synthTensor) []synthTensor {
			ts[5].Quantization["dtype"] = "float16"
			return ts
		},
		"no scale":       func(ts []synthTensor) []synthTensor { delete(ts[5].Quantization, "scale"); return ts },
		"zero dimension": func(ts []synthTensor) []synthTensor { ts[5].Shape = []int{0}; return ts },
		"rank 5":         func(ts []synthTensor) []synthTensor { ts[5].Shape = []int{1, 1, 1, 1, 32}; return ts },
	}
	for name, edit := range cases {
		m, w := synthetic(t, edit)
		if _, err := convert(m, w); !errors.Is(err, errFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, w := synthetic(t, nil)
	if _, err := convert(m, w[:len(w)-1]); !errors.Is(err, errFormat) {
		t.Errorf("truncated weights: %v", err)
	}
	if _, err := convert(m, append(w, 0)); !errors.Is(err, errFormat) {
		t.Errorf("extra weight bytes: %v", err)
	}
	nan := binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.NaN())))
	w2 := append(append([]byte{}, nan...), w[4:]...)
	if _, err := convert(m, w2); !errors.Is(err, errFormat) {
		t.Errorf("NaN weight: %v", err)
	}
}

// FuzzDecodeWeights: the parser of outside bytes never panics, returns
// nothing with an error, and decodes every byte it accepts.
func FuzzDecodeWeights(f *testing.F) {
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"x","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1}}]}]`), []byte{0, 255})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"x","shape":[1],"dtype":"float32"}]}]`), []byte{0, 0, 128, 63})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"x","shape":[1,2],"dtype":"float32","quantization":{"dtype":"uint16","scale":1,"min":0}}]}]`), []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, manifest, data []byte) {
		ts, order, err := decodeWeights(manifest, data)
		if err != nil {
			if ts != nil || order != nil {
				t.Fatal("result with an error")
			}
			if !errors.Is(err, errFormat) {
				t.Fatalf("error not errFormat: %v", err)
			}
			return
		}
		if len(order) != len(ts) {
			t.Fatal("order and map differ")
		}
		n := 0
		for _, name := range order {
			for _, v := range ts[name].data {
				if !finite(float64(v)) {
					t.Fatalf("%s: %v accepted", name, v)
				}
			}
			n += len(ts[name].data)
		}
		if n > len(data) {
			t.Fatalf("%d values from %d bytes", n, len(data))
		}
	})
}
