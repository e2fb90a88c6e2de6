package pad

import (
	"bytes"
	"context"
	"encoding/csv"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// modelDir is where the PAD networks are: $ONEFACE_PAD_MODELS, else
// $ONEFACE_MODELDIR/antispoof, else ../shared/models/antispoof.
func modelDir() string {
	if d := os.Getenv("ONEFACE_PAD_MODELS"); d != "" {
		return d
	}
	if d := filepath.Join(testenv.ModelDir(), "antispoof"); exists(filepath.Join(d, specs[MiniFASNetV2].file)) {
		return d
	}
	return filepath.Join(testenv.FacesDir(), "..", "models", "antispoof")
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

var sharedDetector = sync.OnceValues(func() (*Detector, error) {
	return Open(modelDir(), Options{Models: []Model{MiniFASNetV2, MiniFASNetV1SE, FRLiveness}})
})

func detector(t testing.TB) *Detector {
	t.Helper()
	d, err := sharedDetector()
	if err != nil {
		testenv.Missing(t, "PAD networks", err)
	}
	return d
}

var sharedEngine = sync.OnceValues(func() (*facerec.Engine, error) {
	return facerec.Open(testenv.ModelDir(), facerec.Options{})
})

// devFace is a real dev image with its dlib box.
type devFace struct {
	name  string // relative to ../shared/faces
	label string // live | spoof
	img   image.Image
	box   image.Rectangle
}

func loadFace(t testing.TB, rel, label string) devFace {
	t.Helper()
	e, err := sharedEngine()
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	b, err := os.ReadFile(filepath.Join(testenv.FacesDir(), rel))
	if err != nil {
		testenv.Missing(t, "dev faces", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	a, err := e.Analyze(context.Background(), facerec.Image(img))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	f, err := a.Single()
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return devFace{rel, label, img, f.Box}
}

type spoofRow struct{ file, label, attack, subject, session string }

func spoofRows(t testing.TB) []spoofRow {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.FacesDir(), "spoof-dev", "labels.csv"))
	if err != nil {
		testenv.Missing(t, "spoof-dev set", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []spoofRow
	for _, r := range recs[1:] {
		rows = append(rows, spoofRow{r[0], r[1], r[2], r[3], r[4]})
	}
	return rows
}
