//go:build ignore

// gen_calibration regenerates calibration.json: go generate ./internal/calib
// (after `make setup`; it reads ../shared/faces/{lfw-dev,spoof-dev} and
// .models, and caches per-image results under the user cache folder).
package main

import (
	"context"
	"log"
	"os"

	"github.com/oneface/oneface/internal/calib/calibgen"
	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

func main() {
	e, err := facerec.Open(testenv.ModelDir(), facerec.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	em, err := embed.Open(testenv.ModelDir(), embed.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer em.Close()
	a := &calibgen.Analyser{Engine: e, Embedder: em, Cache: calibgen.CacheDir(e.ModelID())}
	b, err := calibgen.Generate(context.Background(), a, testenv.FacesDir())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("calibration.json", b, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("calibration.json: %d bytes", len(b))
}
