//go:build !cgo

package onnx

import (
	"context"
	"errors"
	"testing"
)

func TestStubUnavailable(t *testing.T) {
	if _, err := Load("any.onnx", "00"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Load = %v, want ErrUnavailable", err)
	}
	var n Net
	if _, err := n.Run(context.Background(), []float32{0}, []int{1}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Run = %v, want ErrUnavailable", err)
	}
}
