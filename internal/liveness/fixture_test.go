package liveness

import (
	"context"
	"encoding/csv"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// Real-engine fixtures: dlib's 68 landmarks and descriptors of real dev
// faces. internal/testenv says where they are and what happens when they
// are missing.

var sharedEngine = sync.OnceValues(func() (*facerec.Engine, error) {
	return facerec.Open(testenv.ModelDir(), facerec.Options{})
})

func engine(t testing.TB) *facerec.Engine {
	t.Helper()
	e, err := sharedEngine()
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	return e
}

// face is one analysed real frame.
type face struct {
	name string
	lm   []image.Point
	desc facerec.Descriptor
	box  image.Rectangle
}

var faceCache sync.Map // name → face

// analyse runs the engine on img and returns its single face.
func analyse(t testing.TB, name string, img image.Image) face {
	t.Helper()
	if f, ok := faceCache.Load(name); ok {
		return f.(face)
	}
	a, err := engine(t).Analyze(context.Background(), facerec.Image(img))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fc, err := a.Single()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(fc.Landmarks) != LandmarkCount {
		t.Fatalf("%s: %d landmarks; the 68-point predictor is needed (make setup)", name, len(fc.Landmarks))
	}
	f := face{name: name, lm: fc.Landmarks, desc: fc.Descriptor, box: fc.Box}
	faceCache.Store(name, f)
	return f
}

// decodeFile reads a JPEG from disk.
func decodeFile(t testing.TB, path string) image.Image {
	t.Helper()
	r, err := os.Open(path)
	if err != nil {
		testenv.Missing(t, "dev faces", err)
	}
	defer r.Close()
	img, err := jpeg.Decode(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func spoofDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(testenv.FacesDir(), "spoof-dev")
	if _, err := os.Stat(filepath.Join(d, "labels.csv")); err != nil {
		testenv.Missing(t, "spoof-dev set", err)
	}
	return d
}

// spoofRow is one line of spoof-dev/labels.csv.
type spoofRow struct {
	File, Label, Attack, Subject, Session string
	Picture                               int
}

func spoofRows(t testing.TB) []spoofRow {
	t.Helper()
	f, err := os.Open(filepath.Join(spoofDir(t), "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []spoofRow
	for _, r := range recs[1:] {
		base := strings.TrimSuffix(filepath.Base(r[0]), ".jpg")
		pic, err := strconv.Atoi(base[strings.LastIndexByte(base, '_')+1:])
		if err != nil {
			t.Fatalf("%s: %v", r[0], err)
		}
		rows = append(rows, spoofRow{r[0], r[1], r[2], r[3], r[4], pic})
	}
	return rows
}

// sessions groups spoof-dev rows of one label by (subject, session), each
// in capture order.
func sessions(t testing.TB, label string) map[string][]spoofRow {
	t.Helper()
	m := map[string][]spoofRow{}
	for _, r := range spoofRows(t) {
		if r.Label == label {
			k := r.Subject + "/" + r.Session
			m[k] = append(m[k], r)
		}
	}
	for _, v := range m {
		slices.SortFunc(v, func(a, b spoofRow) int { return a.Picture - b.Picture })
	}
	return m
}

func spoofFace(t testing.TB, rel string) face {
	t.Helper()
	return analyse(t, "spoof-dev/"+rel, decodeFile(t, filepath.Join(spoofDir(t), rel)))
}

func lfwImage(t testing.TB, rel string) image.Image {
	t.Helper()
	return decodeFile(t, filepath.Join(testenv.LFWDir(t), rel))
}

func lfwFace(t testing.TB, rel string) face {
	t.Helper()
	return analyse(t, "lfw-dev/"+rel, lfwImage(t, rel))
}

// mirror flips img left to right.
func mirror(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Set(b.Dx()-1-x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// rotate turns img by deg degrees about its centre (bilinear), on a grey
// background, keeping its size.
func rotate(img image.Image, deg float64) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	xdraw.Draw(out, out.Bounds(), image.NewUniform(color.Gray{128}), image.Point{}, xdraw.Src)
	s, c := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	// Source → destination: rotate about the centre.
	m := f64.Aff3{c, -s, cx - c*cx + s*cy, s, c, cy - s*cx - c*cy}
	xdraw.BiLinear.Transform(out, m, img, b, xdraw.Over, nil)
	return out
}

// closeEyes moves each eye's upper and lower lid points towards each
// other by fraction f (0 open as detected, 1 lids meet), as in a blink:
// the synthetic closed frame of a real face.
func closeEyes(lm []image.Point, f float64) []image.Point {
	out := slices.Clone(lm)
	for _, pair := range [][2]int{{37, 41}, {38, 40}, {43, 47}, {44, 46}} {
		a, b := lm[pair[0]], lm[pair[1]]
		mx, my := float64(a.X+b.X)/2, float64(a.Y+b.Y)/2
		move := func(p image.Point) image.Point {
			return image.Pt(int(math.Round(float64(p.X)+f*(mx-float64(p.X)))), int(math.Round(float64(p.Y)+f*(my-float64(p.Y)))))
		}
		out[pair[0]], out[pair[1]] = move(a), move(b)
	}
	return out
}

// squash maps the landmarks by an affine map about their centroid: what
// tilting (sy < 1) or turning (sx < 1, shear) a printed photo does to them.
func squash(lm []image.Point, sx, sy, shear float64) []image.Point {
	var cx, cy float64
	for _, p := range lm {
		cx += float64(p.X)
		cy += float64(p.Y)
	}
	cx /= float64(len(lm))
	cy /= float64(len(lm))
	out := make([]image.Point, len(lm))
	for i, p := range lm {
		x, y := float64(p.X)-cx, float64(p.Y)-cy
		out[i] = image.Pt(int(math.Round(cx+sx*x+shear*y)), int(math.Round(cy+sy*y)))
	}
	return out
}
