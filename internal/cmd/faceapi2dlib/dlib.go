package main

import (
	"encoding/binary"
	"math"
)

// encoder writes dlib's serialization format (dlib/serialize.h,
// dlib/float_details.h, dlib/cuda/tensor.h of dlib 19.24), the subset a
// dlib DNN needs. Everything is appended to b.
type encoder struct{ b []byte }

// int writes an integer as dlib's pack_int does: a control byte holding
// the number of magnitude bytes (bit 7 set for negative values), then the
// magnitude little-endian, at least one byte (0 is 01 00).
func (e *encoder) int(v int64) {
	var ctl byte
	m := uint64(v)
	if v < 0 {
		ctl, m = 0x80, uint64(-v)
	}
	var buf [8]byte
	n := 0
	for {
		buf[n] = byte(m)
		n++
		m >>= 8
		if m == 0 || n == 8 {
			break
		}
	}
	e.b = append(e.b, ctl|byte(n))
	e.b = append(e.b, buf[:n]...)
}

// bool writes '1' or '0'.
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, '1')
	} else {
		e.b = append(e.b, '0')
	}
}

// string writes the length as an integer, then the bytes.
func (e *encoder) string(s string) {
	e.int(int64(len(s)))
	e.b = append(e.b, s...)
}

// floatDetails is dlib's float_details conversion: value = mantissa ·
// 2^exponent with digits bits of mantissa (24 for float, 53 for double),
// trailing zero bytes of the mantissa shifted out (at most 8).
func floatDetails(v float64, digits int) (mantissa int64, exponent int64) {
	switch {
	case math.IsInf(v, 1):
		return 0, 32000
	case math.IsInf(v, -1):
		return 0, 32001
	case math.IsNaN(v):
		return 0, 32002
	}
	frac, exp := math.Frexp(v)
	mantissa = int64(frac * float64(uint64(1)<<digits))
	exponent = int64(exp - digits)
	for i := 0; i < 8 && mantissa&0xFF == 0; i++ {
		mantissa >>= 8
		exponent += 8
	}
	return mantissa, exponent
}

// float32 writes a C++ float in dlib's portable form.
func (e *encoder) float32(v float32) {
	m, x := floatDetails(float64(v), 24)
	e.int(m)
	e.int(x)
}

// float64 writes a C++ double in dlib's portable form.
func (e *encoder) float64(v float64) {
	m, x := floatDetails(v, 53)
	e.int(m)
	e.int(x)
}

// tensor writes a resizable_tensor (record version 2): its four
// dimensions, then the values as little-endian IEEE 754 float32.
func (e *encoder) tensor(n, k, nr, nc int, data []float32) {
	if len(data) != n*k*nr*nc {
		panic("faceapi2dlib: tensor size mismatch") // programmer error
	}
	e.int(2)
	for _, d := range []int{n, k, nr, nc} {
		e.int(int64(d))
	}
	for _, f := range data {
		e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(f))
	}
}

// emptyTensor writes a tensor of no elements (a cleaned buffer).
func (e *encoder) emptyTensor() { e.tensor(0, 0, 0, 0, nil) }

// aliasTensor writes an alias_tensor (record version 1): its dimensions.
func (e *encoder) aliasTensor(n, k, nr, nc int) {
	e.int(1)
	for _, d := range []int{n, k, nr, nc} {
		e.int(int64(d))
	}
}
