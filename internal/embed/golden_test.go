//go:build cgo

package embed

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// goldenCount is the number of LFW dev crops the golden file covers.
const goldenCount = 24

// goldenFiles picks the first image of each LFW dev person (in name order)
// whose subject the engine finds, until goldenCount are found.
func goldenFiles(t *testing.T) []string {
	dir := facesDir(t, "lfw-dev")
	people, err := os.ReadDir(filepath.Join(dir, "lfw"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range people {
		imgs, err := filepath.Glob(filepath.Join(dir, "lfw", p.Name(), "*.jpg"))
		if err != nil || len(imgs) == 0 {
			continue
		}
		sort.Strings(imgs)
		if _, err := analyse(t, imgs[0]); err != nil {
			continue
		}
		rel, _ := filepath.Rel(dir, imgs[0])
		files = append(files, rel)
		if len(files) == goldenCount {
			break
		}
	}
	return files
}

// rgbBytes is the crop as 112×112×3 bytes, rows top to bottom, R G B.
func rgbBytes(crop *image.RGBA) []byte {
	b := make([]byte, 0, CropSize*CropSize*3)
	for y := 0; y < CropSize; y++ {
		for x := 0; x < CropSize; x++ {
			i := crop.PixOffset(x, y)
			b = append(b, crop.Pix[i:i+3]...)
		}
	}
	return b
}

func alignFile(t *testing.T, path string) *image.RGBA {
	f, err := analyse(t, path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	crop, err := Align(f.img, f.face.Landmarks)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return crop
}

// TestDumpCrops writes the golden crops for testdata/golden/golden.mjs when
// ONEFACE_DUMP_CROPS names a folder (never inside the repository: the crops
// are faces).
func TestDumpCrops(t *testing.T) {
	out := os.Getenv("ONEFACE_DUMP_CROPS")
	if out == "" {
		t.Skip("set ONEFACE_DUMP_CROPS to a folder to dump the golden crops")
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		File       string `json:"file"`
		Crop       string `json:"crop"`
		CropSHA256 string `json:"crop_sha256"`
	}
	var m struct {
		Crops []entry `json:"crops"`
	}
	lfw := facesDir(t, "lfw-dev")
	for _, rel := range goldenFiles(t) {
		b := rgbBytes(alignFile(t, filepath.Join(lfw, rel)))
		sum := sha256.Sum256(b)
		name := filepath.Join(out, filepath.Base(rel)+".rgb")
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		m.Crops = append(m.Crops, entry{rel, filepath.Base(name), hex.EncodeToString(sum[:])})
	}
	j, _ := json.MarshalIndent(m, "", " ")
	if err := os.WriteFile(filepath.Join(out, "manifest.json"), j, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d crops in %s", len(m.Crops), out)
}

type golden struct {
	Generator   string `json:"generator"`
	ModelSHA256 string `json:"model_sha256"`
	Crops       []struct {
		File       string `json:"file"`
		CropSHA256 string `json:"crop_sha256"`
		Output     string `json:"output"`
	} `json:"crops"`
}

func decodeVector(t *testing.T, s string) []float32 {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 4*Size {
		t.Fatalf("golden vector: %d bytes, %v", len(b), err)
	}
	v := make([]float32, Size)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestGolden checks the whole path on real LFW dev faces against an
// independent runtime: the engine's landmarks and this package's alignment
// must reproduce the crops whose SHA-256 the golden file pins, and OpenCV
// dnn's raw output must match onnxruntime's (testdata/golden/golden.mjs)
// within 1e-4 per component; so must the normalised embeddings.
func TestGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.ModelSHA256 != ModelSHA256() {
		t.Fatalf("golden file is for model %s, pinned %s", g.ModelSHA256, ModelSHA256())
	}
	if len(g.Crops) < 20 {
		t.Fatalf("%d golden crops, want ≥ 20", len(g.Crops))
	}
	e := embedder(t)
	lfw := facesDir(t, "lfw-dev")
	var worstRaw, worstNorm float64
	for _, c := range g.Crops {
		crop := alignFile(t, filepath.Join(lfw, c.File))
		sum := sha256.Sum256(rgbBytes(crop))
		if got := hex.EncodeToString(sum[:]); got != c.CropSHA256 {
			t.Errorf("%s: crop SHA-256 %s, golden %s (alignment or landmarks changed)", c.File, got, c.CropSHA256)
			continue
		}
		want := decodeVector(t, c.Output)
		raw, err := e.raw(context.Background(), crop)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			worstRaw = max(worstRaw, math.Abs(float64(raw[i])-float64(want[i])))
		}
		gotN, err := normalise(raw)
		if err != nil {
			t.Fatal(err)
		}
		wantN, err := normalise(want)
		if err != nil {
			t.Fatal(err)
		}
		for i := range gotN {
			worstNorm = max(worstNorm, math.Abs(float64(gotN[i])-float64(wantN[i])))
		}
	}
	t.Logf("%d crops vs %s: max |Go − reference| raw %.3g, normalised %.3g", len(g.Crops), g.Generator, worstRaw, worstNorm)
	if worstRaw > 1e-4 || worstNorm > 1e-4 {
		t.Errorf("max difference raw %g, normalised %g; want ≤ 1e-4", worstRaw, worstNorm)
	}
}
