package facerec_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/oneface/oneface/internal/facerec"
)

// Compare the subjects of two photos. This needs the dlib models
// (`make setup`), so it is compiled but not run.
func Example() {
	e, err := facerec.Open(".models", facerec.Options{})
	if err != nil {
		log.Fatal(err) // errors.Is(err, facerec.ErrModel): run `make setup`
	}
	defer e.Close()

	subject := func(path string) facerec.Descriptor {
		b, err := os.ReadFile(path)
		if err != nil {
			log.Fatal(err)
		}
		a, err := e.Analyze(context.Background(), facerec.Bytes(b))
		if err != nil {
			log.Fatal(err) // ErrTooLarge, ErrCorruptImage, ErrUnsupportedFormat...
		}
		f, err := a.Single()
		switch {
		case errors.Is(err, facerec.ErrNoFace):
			log.Fatalf("%s: no face: ask the person to face the camera", path)
		case errors.Is(err, facerec.ErrMultipleFaces):
			log.Fatalf("%s: several faces: one person at a time", path)
		}
		return f.Descriptor
	}
	a, b := subject("a.jpg"), subject("b.jpg")
	// A distance, not a decision: thresholds come from calibration at a
	// target false-match rate.
	fmt.Printf("Euclidean distance: %.3f\n", facerec.Euclidean(&a, &b))
}
