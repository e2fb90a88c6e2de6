//go:build !cgo

package embed

import (
	"errors"
	"testing"

	"github.com/oneface/oneface/internal/onnx"
)

func TestOpenUnavailable(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{}); !errors.Is(err, onnx.ErrUnavailable) {
		t.Fatalf("Open = %v, want onnx.ErrUnavailable", err)
	}
}
