package embed

import (
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestFivePoints(t *testing.T) {
	lm := make([]image.Point, 68)
	for i := range lm {
		lm[i] = image.Pt(1000+i, 2000-i) // every point distinct, so a wrong index shows
	}
	for i := 36; i <= 41; i++ {
		lm[i] = image.Pt(10+i-36, 20) // mean (12.5, 20)
	}
	for i := 42; i <= 47; i++ {
		lm[i] = image.Pt(40, 30+2*(i-42)) // mean (40, 35)
	}
	lm[30] = image.Pt(25, 40)
	lm[48] = image.Pt(15, 60)
	lm[54] = image.Pt(37, 61)
	got, err := FivePoints(lm)
	if err != nil {
		t.Fatal(err)
	}
	want := [5][2]float64{{12.5, 20}, {40, 35}, {25, 40}, {15, 60}, {37, 61}}
	if got != want {
		t.Fatalf("FivePoints = %v, want %v", got, want)
	}
	for _, n := range []int{0, 5, 67, 69} {
		if _, err := FivePoints(make([]image.Point, n)); !errors.Is(err, ErrLandmarks) {
			t.Errorf("%d landmarks: err = %v, want ErrLandmarks", n, err)
		}
	}
	// All 68 at one place: no transform, refused.
	if _, err := Align(image.NewRGBA(image.Rect(0, 0, 10, 10)), make([]image.Point, 68)); !errors.Is(err, ErrLandmarks) {
		t.Errorf("degenerate landmarks: err = %v, want ErrLandmarks", err)
	}
}

// A similarity applied to the template is recovered exactly, and the fit
// maps the points back onto the template.
func TestSimilarityExact(t *testing.T) {
	for _, c := range []struct{ s, deg, tx, ty float64 }{
		{1, 0, 0, 0}, {2.5, 30, 100, -40}, {0.3, -170, 5, 7}, {1.7, 90, -12.5, 300},
	} {
		th := c.deg * math.Pi / 180
		a, b := c.s*math.Cos(th), c.s*math.Sin(th)
		fwd := Transform{{a, -b, c.tx}, {b, a, c.ty}}
		var src [5][2]float64
		for i, p := range Template {
			src[i][0], src[i][1] = fwd.Apply(p[0], p[1])
		}
		got, ok := Similarity(src, Template)
		if !ok {
			t.Fatalf("%+v: no transform", c)
		}
		for i := range src {
			x, y := got.Apply(src[i][0], src[i][1])
			if math.Hypot(x-Template[i][0], y-Template[i][1]) > 1e-9 {
				t.Errorf("%+v: point %d maps to (%g, %g), want %v", c, i, x, y, Template[i])
			}
		}
		inv, ok := got.invert()
		if !ok {
			t.Fatal("not invertible")
		}
		for i := range 2 {
			for j := range 3 {
				if math.Abs(inv[i][j]-fwd[i][j]) > 1e-9*max(1, math.Abs(fwd[i][j])) {
					t.Errorf("%+v: inverse %v, want %v", c, inv, fwd)
				}
			}
		}
	}
}

type alignCase struct {
	Name    string        `json:"name"`
	Src     [5][2]float64 `json:"src"`
	OpenCV  Transform     `json:"opencv"`
	Skimage *Transform    `json:"skimage"`
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pixDiff compares a crop with a reference image: max and mean absolute
// difference over R, G, B, and how many values differ by more than 1.
type pixDiff struct {
	max, over1, n int
	sum           float64
}

func (d *pixDiff) add(got *image.RGBA, want image.Image) {
	for y := 0; y < CropSize; y++ {
		for x := 0; x < CropSize; x++ {
			wr, wg, wb, _ := want.At(x, y).RGBA()
			i := got.PixOffset(x, y)
			for k, w := range [3]uint32{wr >> 8, wg >> 8, wb >> 8} {
				v := int(got.Pix[i+k]) - int(w)
				if v < 0 {
					v = -v
				}
				d.max = max(d.max, v)
				d.sum += float64(v)
				d.n++
				if v > 1 {
					d.over1++
				}
			}
		}
	}
}

func (d *pixDiff) mean() float64 { return d.sum / float64(d.n) }

// TestWarpMatchesOpenCV checks [Similarity] against OpenCV's
// estimateAffinePartial2D (least squares over all five points, refined by
// Levenberg-Marquardt) and scikit-image's SimilarityTransform (Umeyama),
// and [Warp] against scikit-image's exact bilinear warp and OpenCV's
// warpAffine (INTER_LINEAR, BORDER_CONSTANT 0), on a synthetic test card
// under six transforms, two of them with the face partly outside the
// frame. The vectors come from testdata/align/gen_align.py (Debian
// python3-opencv 4.6, python3-skimage 0.19).
func TestWarpMatchesOpenCV(t *testing.T) {
	dir := filepath.Join("testdata", "align")
	b, err := os.ReadFile(filepath.Join(dir, "align.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Template [5][2]float64 `json:"template"`
		Cases    []alignCase   `json:"cases"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if data.Template != Template {
		t.Fatalf("template %v, want %v", data.Template, Template)
	}
	if len(data.Cases) < 6 {
		t.Fatalf("%d cases", len(data.Cases))
	}
	card := readPNG(t, filepath.Join(dir, "card.png"))
	var worstCV, worstSk float64
	var vsCV, vsExact pixDiff
	for _, c := range data.Cases {
		if c.Skimage == nil {
			t.Fatalf("%s: no scikit-image reference", c.Name)
		}
		m, ok := Similarity(c.Src, Template)
		if !ok {
			t.Fatalf("%s: no transform", c.Name)
		}
		for i := range 2 {
			for j := range 3 {
				worstCV = max(worstCV, math.Abs(m[i][j]-c.OpenCV[i][j]))
				worstSk = max(worstSk, math.Abs(m[i][j]-c.Skimage[i][j]))
			}
		}
		// Warp with OpenCV's own matrix so only the sampling is compared.
		got, ok := Warp(card, c.OpenCV)
		if !ok {
			t.Fatalf("%s: not invertible", c.Name)
		}
		vsCV.add(got, readPNG(t, filepath.Join(dir, "crop_"+c.Name+".png")))
		vsExact.add(got, readPNG(t, filepath.Join(dir, "exact_"+c.Name+".png")))
	}
	t.Logf("matrix: max |Go − scikit-image| = %.2g, max |Go − OpenCV| = %.2g", worstSk, worstCV)
	t.Logf("warp vs scikit-image (exact bilinear): max %d grey levels, mean %.4f, %d of %d values off by > 1", vsExact.max, vsExact.mean(), vsExact.over1, vsExact.n)
	t.Logf("warp vs OpenCV warpAffine: max %d grey levels, mean %.4f, %d of %d values off by > 1", vsCV.max, vsCV.mean(), vsCV.over1, vsCV.n)
	if worstSk > 1e-9 {
		t.Errorf("similarity differs from scikit-image's by %g", worstSk)
	}
	// OpenCV's Levenberg-Marquardt refinement stops at its own tolerance.
	if worstCV > 1e-4 {
		t.Errorf("similarity differs from OpenCV's by %g", worstCV)
	}
	if vsExact.max > 1 {
		t.Errorf("warp differs from exact bilinear: max %d", vsExact.max)
	}
	// OpenCV quantises source positions to 1/32 px and weights to 15 bits:
	// across the card's steepest edges (255 levels a pixel) that moves a
	// value by up to 255/32 ≈ 8 levels; on average it is far less.
	if vsCV.max > 8 || vsCV.mean() > 0.25 {
		t.Errorf("warp differs from OpenCV's: max %d, mean %.3f", vsCV.max, vsCV.mean())
	}
}
