package onnx_test

import (
	"context"
	"fmt"
	"log"

	"github.com/oneface/oneface/internal/onnx"
)

// Load a network against its pinned SHA-256 and run one 1×3×112×112 input.
// (No "Output:" line: it needs the model file that `make setup` installs.)
func ExampleLoad() {
	net, err := onnx.Load(".models/fr_feature.onnx",
		"87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581")
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()

	input := make([]float32, 1*3*112*112) // NCHW, filled by the caller
	out, shape, err := net.RunShape(context.Background(), input, []int{1, 3, 112, 112})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, len(out)) // [1 512] 512
}
