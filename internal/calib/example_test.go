package calib_test

import (
	"fmt"

	"github.com/oneface/oneface/internal/calib"
)

// A verifier takes its threshold for the embedding model, one enrolment
// photo and FMR 1e-3 from the shipped table; the answer names the metric
// and the population that set it.
func ExampleLookup() {
	const arcface = "2108d174a30190a4ef5c212296cdf2f0" // embed.ModelID of the pinned engine and network
	p, err := calib.Lookup(arcface, 1, 1e-3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("match iff distance < %v (set by %s)\n", p.Threshold, p.SetBy)
	for _, b := range p.Evidence {
		fmt.Printf("%s: FMR %d/%d, FNMR %d/%d\n", b.Population, b.Impostor.Errors, b.Impostor.Trials, b.Genuine.Errors, b.Genuine.Trials)
	}
	_, err = calib.Lookup(arcface, 1, 1e-6)
	fmt.Println(err)
	// Output:
	// match iff distance < 0.5757 (set by spoof-dev-live)
	// lfw-dev: FMR 18/322681, FNMR 54/929
	// lfw-dev-deepfunneled: FMR 24/322681, FNMR 48/929
	// spoof-dev-live: FMR 5/5041, FNMR 2/657
	// calib: the calibration does not support that false-match rate: FMR 1e-06 is stricter than any calibrated target for model 2108d174a30190a4ef5c212296cdf2f0
}
