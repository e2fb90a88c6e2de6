//go:build ignore

// gen_calibration regenerates calibration.json: go generate ./internal/calib
// (after `make setup`; it reads ../shared/faces/lfw-dev and .models).
package main

import (
	"context"
	"log"
	"os"

	"github.com/oneface/oneface/internal/calib/calibgen"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

func main() {
	e, err := facerec.Open(testenv.ModelDir(), facerec.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	b, err := calibgen.Generate(context.Background(), eval.EngineDescriber{E: e}, testenv.FacesDir()+"/lfw-dev")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("calibration.json", b, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("calibration.json: %d bytes", len(b))
}
