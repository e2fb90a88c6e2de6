package embed_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"os"

	_ "image/jpeg"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
)

// Embed the subject of two photos and compare them. (No "Output:" line: it
// needs the models that `make setup` installs, and real photos.)
func Example() {
	ctx := context.Background()
	eng, err := facerec.Open(".models", facerec.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	emb, err := embed.Open(".models", embed.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer emb.Close()

	embedFile := func(path string) embed.Embedding {
		f, err := os.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		img, _, err := image.Decode(f)
		if err != nil {
			log.Fatal(err)
		}
		// The engine sees the same decoded image, so its landmarks are in
		// img's coordinates.
		a, err := eng.Analyze(ctx, facerec.Image(img))
		if err != nil {
			log.Fatal(err)
		}
		face, err := a.Single()
		if err != nil {
			log.Fatal(err)
		}
		e, err := emb.Embed(ctx, img, face.Landmarks)
		if err != nil {
			log.Fatal(err)
		}
		return e
	}
	a, b := embedFile("a.jpg"), embedFile("b.jpg")
	fmt.Printf("model %s, cosine distance %.3f\n", embed.ModelID(eng.ModelID()), embed.CosineDistance(&a, &b))
}
