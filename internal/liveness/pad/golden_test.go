package pad

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Golden vectors: the softmax of the ORIGINAL networks on real crops.
// testdata/golden.json is made by testdata/golden.py (PyTorch on the
// Silent-Face .pth weights; PyTorch running the fr_liveness ONNX graph's
// own weights op by op) from the very crop bytes this package makes, so
// the test checks the OpenCV dnn path end to end and pins the crops by
// their SHA-256. To regenerate (not run in CI; needs Debian's python3-torch,
// python3-onnx):
//
//	ONEFACE_PAD_DUMP=/tmp/padcrops go test -run TestGolden ./internal/liveness/pad
//	/usr/bin/python3 internal/liveness/pad/testdata/golden.py /tmp/padcrops ../shared/models/antispoof > internal/liveness/pad/testdata/golden.json

// goldenImages: every 12th row of spoof-dev/labels.csv (13 live, 13 print
// frames) and 6 LFW dev photos.
func goldenImages(t testing.TB) []struct{ rel, label string } {
	var out []struct{ rel, label string }
	for i, r := range spoofRows(t) {
		if i%12 == 0 {
			out = append(out, struct{ rel, label string }{"spoof-dev/" + r.file, r.label})
		}
	}
	for _, n := range []string{"Joseph_Blatter/Joseph_Blatter_0002.jpg", "Romano_Prodi/Romano_Prodi_0003.jpg", "Trent_Lott/Trent_Lott_0001.jpg",
		"Vaclav_Havel/Vaclav_Havel_0007.jpg", "Prince_Edward/Prince_Edward_0002.jpg", "Federico_Trillo/Federico_Trillo_0003.jpg"} {
		out = append(out, struct{ rel, label string }{"lfw-dev/lfw/" + n, "live"})
	}
	return out
}

type golden struct {
	Image   string    `json:"image"`
	Model   string    `json:"model"`
	Widen   float64   `json:"widen"`
	CropSHA string    `json:"crop_sha256"`
	Softmax []float64 `json:"softmax"`
}

func modelByName(n string) (Model, error) {
	for m := MiniFASNetV2; m <= FRLiveness; m++ {
		if m.String() == n {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown model %q", n)
}

func TestGolden(t *testing.T) {
	if dir := os.Getenv("ONEFACE_PAD_DUMP"); dir != "" {
		dumpCrops(t, dir)
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gs []golden
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatal(err)
	}
	if len(gs) < 3*20 {
		t.Fatalf("%d golden vectors, want at least 20 crops per network", len(gs))
	}
	d := detector(t)
	faces := map[string]devFace{}
	maxDiff := map[string]float64{}
	for _, g := range gs {
		f, ok := faces[g.Image]
		if !ok {
			f = loadFace(t, g.Image, "")
			faces[g.Image] = f
		}
		m, err := modelByName(g.Model)
		if err != nil {
			t.Fatal(err)
		}
		crop, err := Crop(f.img, f.box, m, g.Widen)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(crop); hex.EncodeToString(sum[:]) != g.CropSHA {
			t.Errorf("%s %s: crop SHA-256 %x, golden %s (decoder, dlib box or crop changed)", g.Image, m, sum, g.CropSHA)
			continue
		}
		p, err := d.Probabilities(context.Background(), m, crop)
		if err != nil {
			t.Fatal(err)
		}
		for k := range p {
			diff := math.Abs(p[k] - g.Softmax[k])
			maxDiff[g.Model] = math.Max(maxDiff[g.Model], diff)
			if diff > 1e-4 {
				t.Errorf("%s %s: softmax %v, PyTorch %v", g.Image, m, p, g.Softmax)
				break
			}
		}
	}
	for m, v := range maxDiff {
		t.Logf("%s: max |OpenCV dnn − PyTorch| over %d crops: %.2g", m, len(faces), v)
	}

	// The test can fail: the same crops with R and B swapped move every
	// network's softmax by far more than the tolerance on some crop.
	for m := MiniFASNetV2; m <= FRLiveness; m++ {
		worst := 0.0
		for _, g := range gs {
			if g.Model != m.String() {
				continue
			}
			f := faces[g.Image]
			crop, _ := Crop(f.img, f.box, m, g.Widen)
			for i := 0; i < len(crop); i += 3 {
				crop[i], crop[i+2] = crop[i+2], crop[i]
			}
			p, err := d.Probabilities(context.Background(), m, crop)
			if err != nil {
				t.Fatal(err)
			}
			for k := range p {
				worst = math.Max(worst, math.Abs(p[k]-g.Softmax[k]))
			}
		}
		if worst < 1e-2 {
			t.Errorf("%s: swapping R and B moved the softmax by at most %.2g: the golden test cannot see a channel-order error", m, worst)
		}
	}
}

// dumpCrops writes the golden images' crops for testdata/golden.py.
func dumpCrops(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Image, Label, Model, File, SHA256 string
		Widen                             float64
		Size                              int
	}
	var es []entry
	for i, g := range goldenImages(t) {
		f := loadFace(t, g.rel, g.label)
		for m := MiniFASNetV2; m <= FRLiveness; m++ {
			crop, err := Crop(f.img, f.box, m, 1)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(crop)
			name := fmt.Sprintf("%03d_%s.bgr", i, m)
			if err := os.WriteFile(filepath.Join(dir, name), crop, 0o644); err != nil {
				t.Fatal(err)
			}
			es = append(es, entry{g.rel, g.label, m.String(), name, hex.EncodeToString(sum[:]), 1, specs[m].size})
		}
	}
	b, _ := json.MarshalIndent(es, "", " ")
	if err := os.WriteFile(filepath.Join(dir, "crops.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d crops to %s", len(es), dir)
}
