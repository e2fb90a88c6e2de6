//go:build cgo

package embed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

func TestModelID(t *testing.T) {
	var a, b facerec.ModelID
	b[0] = 1
	if ModelID(a) == ModelID(b) {
		t.Fatal("different engines, same embedding model ID")
	}
	if ModelID(a) == a || ModelID(b) == b {
		t.Fatal("embedding model ID equals the engine's")
	}
	// Pin the derivation: a change of Settings, pin or format must show here.
	pre := "oneface embedding model id v1\nengine 00000000000000000000000000000000\n" +
		"87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581 fr_feature.onnx\nsettings " + Settings + "\n"
	sum := sha256.Sum256([]byte(pre))
	if got := ModelID(a); !bytes.Equal(got[:], sum[:16]) {
		t.Errorf("ModelID(zero engine) = %s, want the documented derivation %x", got, sum[:16])
	}
	if got, want := ModelID(a).String(), "7746b07da8fdcbc10595ac3937197548"; got != want {
		t.Errorf("ModelID(zero engine) = %s, want %s (update only with a deliberate change)", got, want)
	}
}

func TestEmbedSameAndDifferentPeople(t *testing.T) {
	e := embedder(t)
	lfw := facesDir(t, "lfw-dev")
	emb := func(rel string) Embedding {
		f, err := analyse(t, filepath.Join(lfw, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		v, err := e.Embed(context.Background(), f.img, f.face.Landmarks)
		if err != nil {
			t.Fatal(err)
		}
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-6 {
			t.Fatalf("%s: norm² %g", rel, n)
		}
		return v
	}
	a1 := emb("lfw/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg")
	a3 := emb("lfw/Akhmed_Zakayev/Akhmed_Zakayev_0003.jpg")
	b := emb("lfw/Amber_Tamblyn/Amber_Tamblyn_0001.jpg")
	same, diff := CosineDistance(&a1, &a3), CosineDistance(&a1, &b)
	t.Logf("same person %.3f, different people %.3f", same, diff)
	if !(same < diff) || CosineDistance(&a1, &a1) > 1e-6 {
		t.Fatalf("same %.3f, different %.3f", same, diff)
	}
}

func TestEmbedRejects(t *testing.T) {
	e := embedder(t)
	ctx := context.Background()
	img := image.NewRGBA(image.Rect(0, 0, 200, 200))
	if _, err := e.Embed(ctx, img, make([]image.Point, 5)); !errors.Is(err, ErrLandmarks) {
		t.Errorf("5 landmarks: %v", err)
	}
	for _, crop := range []*image.RGBA{nil, image.NewRGBA(image.Rect(0, 0, 111, 112)), image.NewRGBA(image.Rect(1, 1, 113, 113))} {
		if _, err := e.EmbedAligned(ctx, crop); err == nil {
			t.Errorf("crop %v accepted", crop)
		}
	}
}

// Close while embeddings run: calls in flight finish, later ones fail with
// ErrClosed, Close is idempotent. Run with -race.
func TestEmbedderClose(t *testing.T) {
	e, err := Open(testenv.ModelDir(), Options{PoolSize: 2})
	if err != nil {
		testenv.Missing(t, "ArcFace embedder", err)
	}
	crop := image.NewRGBA(image.Rect(0, 0, CropSize, CropSize))
	for i := range crop.Pix {
		crop.Pix[i] = uint8(i * 7)
	}
	want, err := e.EmbedAligned(context.Background(), crop)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got, err := e.EmbedAligned(context.Background(), crop)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil || got != want {
					t.Errorf("concurrent embed: %v", err)
					return
				}
			}
		}()
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := e.EmbedAligned(context.Background(), crop); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenWrongModel(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open without a model file succeeded")
	}
}
