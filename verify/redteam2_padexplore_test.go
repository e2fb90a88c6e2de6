//go:build cgo

package verify

import (
	"context"
	"encoding/csv"
	"image"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"

	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/testenv"
)

// rtPrints lists spoof-dev's print attack files.
func rtPrints(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(testenv.FacesDir(), "spoof-dev")
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		testenv.Missing(t, "spoof-dev", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows[1:] {
		if r[1] == "spoof" {
			out = append(out, filepath.Join(dir, r[0]))
		}
	}
	return out
}

func rtScale(img image.Image, f float64) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, int(float64(b.Dx())*f), int(float64(b.Dy())*f)))
	draw.BiLinear.Scale(out, out.Bounds(), img, b, draw.Src, nil)
	return out
}

// rtPADScore is the PAD score Verify would give the one face of img.
func rtPADScore(t testing.TB, e *Engine, img image.Image) (float64, bool) {
	ctx := context.Background()
	a, err := e.analyzeFrame(ctx, Frame{Image: img})
	if err != nil {
		return 0, false
	}
	f, err := a.Single()
	if err != nil {
		return 0, false
	}
	s, err := e.pad.Score(ctx, img, f.Box)
	if err != nil {
		t.Fatal(err)
	}
	return s.Live, true
}

// TestRedteam2ExplorePrintVariants (opt-in: REDTEAM2_SEARCH=1): PAD
// scores of spoof-dev prints under simple capture changes (distance,
// exposure, blur): how many land between the floor and the shipped
// threshold.
func TestRedteam2ExplorePrintVariants(t *testing.T) {
	if os.Getenv("REDTEAM2_SEARCH") == "" {
		t.Skip("REDTEAM2_SEARCH=1 to run")
	}
	e := padEngine(t)
	variants := map[string]func(image.Image) image.Image{
		"as is": func(i image.Image) image.Image { return i },
		"x0.6":  func(i image.Image) image.Image { return rtScale(i, 0.6) },
		"x1.6":  func(i image.Image) image.Image { return rtScale(i, 1.6) },
		"brighter": func(i image.Image) image.Image {
			return transform(i, func(r, g, b uint8) (uint8, uint8, uint8) { return sat(r, 40), sat(g, 40), sat(b, 40) })
		},
		"darker": func(i image.Image) image.Image {
			return transform(i, func(r, g, b uint8) (uint8, uint8, uint8) { return sat(r, -40), sat(g, -40), sat(b, -40) })
		},
		"blur 1": func(i image.Image) image.Image { return boxBlur(i, 1) },
	}
	between := map[string]int{}
	n := 0
	for i, p := range rtPrints(t) {
		if i%2 != 0 {
			continue
		}
		img, _, err := imageio.Decode(readFile(t, p), imageio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		n++
		for name, v := range variants {
			s, ok := rtPADScore(t, e, v(img))
			if ok && s >= pad.Shipped.Floor && s < pad.Shipped.Threshold {
				between[name]++
				t.Logf("%s %s: %.4f", name, p, s)
			}
		}
	}
	t.Logf("%d prints; scoring in [floor %v, shipped %v): %v", n, pad.Shipped.Floor, pad.Shipped.Threshold, between)
}

func sat(v uint8, d int) uint8 { return uint8(max(0, min(255, int(v)+d))) }
