package site_test

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/site"
)

// A deployment signs a site calibration with its own key; the verifier
// loads it with the public key and uses the (stricter) thresholds, and
// records the hash in its configuration audit entry.
func ExampleLoad() {
	// DO NOT hardcode the private key: it stays with the deployment.
	skey, vkey, _ := note.GenerateKey(rand.Reader, "lobby-1")
	const arcface = "2108d174a30190a4ef5c212296cdf2f0"
	shipped, _ := calib.Lookup(arcface, 1, 1e-3)
	c := &site.Calibration{Site: "lobby-1", ModelID: arcface, TargetFMR: 1e-3, Points: []site.Point{{
		Photos: 1, Threshold: 0.5105, Shipped: shipped.Threshold,
		FMR: calib.Rate{Errors: 9, Trials: 9926}, FNMR: calib.Rate{Errors: 15, Trials: 1399}, Supported: true,
	}}}
	signed, err := site.Sign(c, skey)
	if err != nil {
		fmt.Println(err)
		return
	}
	o, err := site.Load(signed, vkey)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("1 photo: threshold %v instead of %v\n", o.Thresholds[1], shipped.Threshold)

	c.Points[0].Threshold, c.Points[0].Shipped = 0.7, 0.7 // looser: refused even when signed
	signed, _ = site.Sign(c, skey)
	_, err = site.Load(signed, vkey)
	fmt.Println(err)
	// Output:
	// 1 photo: threshold 0.5105 instead of 0.5757
	// site: site calibration would loosen the shipped calibration: 1 photos: site threshold 0.7, file's shipped 0.7, table's 0.5757
}
