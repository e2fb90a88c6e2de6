package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Limits on the inputs (the real files: a 19.6 kB manifest of 117
// tensors, 6.4 MB of weights).
const (
	maxManifest = 1 << 20  // bytes of weights manifest JSON
	maxWeights  = 64 << 20 // bytes of weights data
	maxTensors  = 4096     // tensors in a manifest
	maxRank     = 4        // dimensions of a tensor
)

var errFormat = errors.New("faceapi2dlib: malformed tfjs weights")

// manifestEntry is one tensor of a tfjs weights manifest
// (tfjs-core io/types.ts WeightsManifestEntry).
type manifestEntry struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype string   `json:"dtype"`
		Scale *float64 `json:"scale"`
		Min   *float64 `json:"min"`
	} `json:"quantization"`
}

// tensor is one decoded float32 tensor.
type tensor struct {
	shape []int
	data  []float32
	used  bool
}

// decodeWeights reads a tfjs weights manifest with a single group of a
// single weights file, and that file's bytes, into float32 tensors by
// name. It dequantises as tfjs-core's decodeWeights does: value =
// float32(q·scale + min), computed in float64.
func decodeWeights(manifest, data []byte) (map[string]*tensor, []string, error) {
	if len(manifest) > maxManifest {
		return nil, nil, fmt.Errorf("%w: manifest larger than %d bytes", errFormat, maxManifest)
	}
	if len(data) > maxWeights {
		return nil, nil, fmt.Errorf("%w: weights larger than %d bytes", errFormat, maxWeights)
	}
	var groups []struct {
		Paths   []string        `json:"paths"`
		Weights []manifestEntry `json:"weights"`
	}
	if err := json.Unmarshal(manifest, &groups); err != nil {
		return nil, nil, fmt.Errorf("%w: manifest: %v", errFormat, err)
	}
	if len(groups) != 1 || len(groups[0].Paths) != 1 {
		return nil, nil, fmt.Errorf("%w: want one group of one weights file", errFormat)
	}
	entries := groups[0].Weights
	if len(entries) > maxTensors {
		return nil, nil, fmt.Errorf("%w: more than %d tensors", errFormat, maxTensors)
	}
	out := make(map[string]*tensor, len(entries))
	var order []string
	off := 0
	for _, w := range entries {
		if _, dup := out[w.Name]; dup || w.Name == "" {
			return nil, nil, fmt.Errorf("%w: tensor name %q empty or repeated", errFormat, w.Name)
		}
		if w.Dtype != "float32" {
			return nil, nil, fmt.Errorf("%w: %s: dtype %q", errFormat, w.Name, w.Dtype)
		}
		if len(w.Shape) > maxRank {
			return nil, nil, fmt.Errorf("%w: %s: rank %d", errFormat, w.Name, len(w.Shape))
		}
		n := 1
		for _, d := range w.Shape {
			if d <= 0 || d > maxWeights || n > maxWeights/d {
				return nil, nil, fmt.Errorf("%w: %s: shape %v", errFormat, w.Name, w.Shape)
			}
			n *= d
		}
		size := 4
		var scale, min float64
		if q := w.Quantization; q != nil {
			switch q.Dtype {
			case "uint8":
				size = 1
			case "uint16":
				size = 2
			default:
				return nil, nil, fmt.Errorf("%w: %s: quantization %q", errFormat, w.Name, q.Dtype)
			}
			if q.Scale == nil || q.Min == nil || !finite(*q.Scale) || !finite(*q.Min) {
				return nil, nil, fmt.Errorf("%w: %s: quantization without finite scale and min", errFormat, w.Name)
			}
			scale, min = *q.Scale, *q.Min
		}
		if n > (len(data)-off)/size {
			return nil, nil, fmt.Errorf("%w: %s: weights file too short", errFormat, w.Name)
		}
		raw := data[off : off+n*size]
		off += n * size
		t := &tensor{shape: w.Shape, data: make([]float32, n)}
		for i := range t.data {
			switch size {
			case 1:
				t.data[i] = dequant(float64(raw[i]), scale, min)
			case 2:
				t.data[i] = dequant(float64(binary.LittleEndian.Uint16(raw[2*i:])), scale, min)
			case 4:
				t.data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			if !finite(float64(t.data[i])) {
				return nil, nil, fmt.Errorf("%w: %s: value %d is not a finite float32", errFormat, w.Name, i)
			}
		}
		out[w.Name] = t
		order = append(order, w.Name)
	}
	if off != len(data) {
		return nil, nil, fmt.Errorf("%w: %d bytes of weights left over", errFormat, len(data)-off)
	}
	return out, order, nil
}

// dequant is tfjs's q*scale + min in float64, rounded once to float32.
// The explicit conversions keep the compiler from fusing the multiply
// and add (the Go spec allows fusion otherwise), so the result is the
// same on every platform.
func dequant(q, scale, min float64) float32 {
	return float32(float64(q*scale) + min)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
