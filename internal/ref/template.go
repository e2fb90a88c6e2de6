package ref

import (
	"encoding/binary"
	"math"

	"github.com/x448/float16"
)

// Encoding names how a v2 template stores its values. Do NOT renumber:
// the number is in signed references.
type Encoding uint64

// Template encodings of version 2.
const (
	// EncodingFloat16: each value as an IEEE 754 half-precision number,
	// little-endian, 2 bytes a value; rounded to nearest even; values that
	// are not finite or exceed ±65504 are refused. Used for the 128-D dlib
	// descriptor (measured on the LFW dev pairs: distances move by at most
	// 1e-4 and no decision flips).
	EncodingFloat16 Encoding = 1
	// EncodingInt8: symmetric per-vector quantisation. Each vector is a
	// little-endian IEEE 754 float32 scale s, then one two's-complement
	// int8 q[i] per value: s = max|v[i]| / 127, q[i] =
	// RoundToEven(v[i] / s) (so q is in [-127, 127]; -128 is never
	// written and refused when read), and v[i] is read back as
	// float32(q[i]) * s. s must be finite and > 0 (an all-zero vector is
	// refused), and no value may be NaN or infinite. 4 + dims bytes a
	// vector: 516 for a 512-D embedding, which fits the QR budget where
	// float16 (1,024 bytes) does not.
	EncodingInt8 Encoding = 2
)

// Dimensions a v2 template may have: dlib's 128-D descriptor and the
// 512-D ArcFace-class embedding.
var templateDims = map[uint64]bool{128: true, 512: true}

// Template is the biometric template inside a v2 body: 1..MaxDescriptors
// vectors of Dims values each, in one Encoding. Rules as for [BodyV2].
type Template struct {
	Encoding Encoding `cbor:"1,keyasint"` // EncodingFloat16 or EncodingInt8
	Dims     uint64   `cbor:"2,keyasint"` // 128 or 512
	Data     []byte   `cbor:"3,keyasint"` // n vectors in Encoding, 1 ≤ n ≤ MaxDescriptors
}

// vectorBytes is the size of one encoded vector, or 0 for an unknown
// encoding or dimension.
func vectorBytes(enc Encoding, dims uint64) int {
	if !templateDims[dims] {
		return 0
	}
	switch enc {
	case EncodingFloat16:
		return 2 * int(dims)
	case EncodingInt8:
		return 4 + int(dims)
	}
	return 0
}

// EncodeTemplate encodes 1..MaxDescriptors vectors of 128 or 512 values
// each (all the same length) in enc.
func EncodeTemplate(enc Encoding, vecs [][]float32) (Template, error) {
	if len(vecs) == 0 || len(vecs) > MaxDescriptors {
		return Template{}, malformed("%d template vectors (1..%d)", len(vecs), MaxDescriptors)
	}
	dims := uint64(len(vecs[0]))
	n := vectorBytes(enc, dims)
	if n == 0 {
		return Template{}, malformed("template: encoding %d with %d dimensions", enc, dims)
	}
	out := make([]byte, 0, n*len(vecs))
	for _, v := range vecs {
		if uint64(len(v)) != dims {
			return Template{}, malformed("template vectors of %d and %d values", dims, len(v))
		}
		var peak float64
		for _, x := range v {
			f := float64(x)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return Template{}, malformed("template value %v not finite", x)
			}
			peak = max(peak, math.Abs(f))
		}
		switch enc {
		case EncodingFloat16:
			if peak > 65504 {
				return Template{}, malformed("template value %v exceeds half precision", peak)
			}
			for _, x := range v {
				out = binary.LittleEndian.AppendUint16(out, float16.Fromfloat32(x).Bits())
			}
		case EncodingInt8:
			s := float32(peak / 127)
			if peak == 0 || s == 0 || math.IsInf(float64(s), 0) {
				return Template{}, malformed("template vector with scale %v", s)
			}
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(s))
			for _, x := range v {
				q := math.RoundToEven(float64(x) / float64(s))
				q = max(-127, min(127, q)) // float32 rounding of s can put peak/s a hair above 127
				out = append(out, byte(int8(q)))
			}
		}
	}
	return Template{Encoding: enc, Dims: dims, Data: out}, nil
}

// Count is the number of vectors, or 0 if the template is malformed.
func (t *Template) Count() int {
	n := vectorBytes(t.Encoding, t.Dims)
	if n == 0 || len(t.Data) == 0 || len(t.Data)%n != 0 || len(t.Data)/n > MaxDescriptors {
		return 0
	}
	return len(t.Data) / n
}

// Decode returns the template's vectors, refusing malformed data,
// non-finite values, a non-positive int8 scale and the int8 value -128.
// The caller owns (and should wipe) the result.
func (t *Template) Decode() ([][]float32, error) {
	count := t.Count()
	if count == 0 {
		return nil, malformed("template: %d bytes of encoding %d, %d dimensions", len(t.Data), t.Encoding, t.Dims)
	}
	dims, n := int(t.Dims), vectorBytes(t.Encoding, t.Dims)
	out := make([][]float32, count)
	for i := range out {
		v := make([]float32, dims)
		b := t.Data[i*n : (i+1)*n]
		switch t.Encoding {
		case EncodingFloat16:
			for j := range v {
				h := float16.Frombits(binary.LittleEndian.Uint16(b[2*j:]))
				if h.IsNaN() || h.IsInf(0) {
					return nil, wipeAll(out, malformed("template vector %d value %d is not finite", i, j))
				}
				v[j] = h.Float32()
			}
		case EncodingInt8:
			s := math.Float32frombits(binary.LittleEndian.Uint32(b))
			if !(s > 0) || math.IsInf(float64(s), 0) {
				return nil, wipeAll(out, malformed("template vector %d has scale %v", i, s))
			}
			for j := range v {
				q := int8(b[4+j])
				if q == -128 {
					return nil, wipeAll(out, malformed("template vector %d value %d is -128", i, j))
				}
				v[j] = float32(q) * s
				if math.IsInf(float64(v[j]), 0) {
					return nil, wipeAll(out, malformed("template vector %d value %d overflows", i, j))
				}
			}
		}
		out[i] = v
	}
	return out, nil
}

// wipeAll zeroes decoded vectors before an error is returned.
func wipeAll(vs [][]float32, err error) error {
	for _, v := range vs {
		clear(v)
	}
	return err
}
