//go:build cgo

package embed

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// Real-engine fixtures shared by the tests of this package: the dlib engine
// (detector and landmarks) and the embedder, built once per test process.

var sharedEngine = sync.OnceValues(func() (*facerec.Engine, error) {
	return facerec.Open(testenv.ModelDir(), facerec.Options{})
})

var sharedEmbedder = sync.OnceValues(func() (*Embedder, error) {
	return Open(testenv.ModelDir(), Options{})
})

func engine(t testing.TB) *facerec.Engine {
	t.Helper()
	e, err := sharedEngine()
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	return e
}

func embedder(t testing.TB) *Embedder {
	t.Helper()
	e, err := sharedEmbedder()
	if err != nil {
		testenv.Missing(t, "ArcFace embedder", err)
	}
	return e
}

// face is one analysed image: the decoded frame, and its subject (the face
// nearest the centre, the evaluation rule of internal/eval).
type face struct {
	img  image.Image
	face facerec.Face
}

// analyse decodes a file in Go and runs the engine on the decoded image, so
// the landmarks are in the image's own coordinates.
func analyse(t testing.TB, path string) (face, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return face{}, err
	}
	a, err := engine(t).Analyze(context.Background(), facerec.Image(img))
	if err != nil {
		return face{}, err
	}
	f, err := a.Central()
	if err != nil {
		return face{}, err
	}
	return face{img, f}, nil
}

func facesDir(t testing.TB, sub string) string {
	t.Helper()
	d := filepath.Join(testenv.FacesDir(), sub)
	if _, err := os.Stat(d); err != nil {
		testenv.Missing(t, sub, err)
	}
	return d
}
