package ref

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/x448/float16"
)

// Version is the body version of this format.
const Version = 1

// Sizes of the fixed-length fields.
const (
	IDSize         = 16
	PseudonymSize  = 16
	ModelIDSize    = 16
	DescriptorDims = 128
	// DescriptorBytes is one descriptor as 128 IEEE 754 half-precision
	// values, little-endian.
	DescriptorBytes = 2 * DescriptorDims

	MaxDescriptors = 4  // descriptors per reference
	MaxPurposes    = 8  // purposes per reference
	MaxPurposeLen  = 64 // bytes per purpose
)

// Body is the signed content of a v1 reference, encoded as a CBOR map with
// integer keys in RFC 8949 core deterministic encoding.
//
// Rules for changing it: the CBOR keys below must never be renumbered,
// reused or change type; Do NOT reorder them. A v1 parser rejects unknown
// keys, so adding a field means a new Version and a new container intro.
// No floats in CBOR: the descriptors are a byte string of fixed-layout
// half-precision values, and quality figures are integers.
type Body struct {
	Version     uint64   `cbor:"1,keyasint"`  // always 1
	ID          []byte   `cbor:"2,keyasint"`  // random reference ID, 16 bytes: the revocation handle
	Subject     []byte   `cbor:"3,keyasint"`  // per-deployment subject pseudonym, 16 bytes
	IssuerKeyID uint32   `cbor:"4,keyasint"`  // key hash of the issuer's signing key
	IssuedAt    int64    `cbor:"5,keyasint"`  // Unix seconds
	ExpiresAt   int64    `cbor:"6,keyasint"`  // Unix seconds, > IssuedAt
	Purposes    []string `cbor:"7,keyasint"`  // 1..8 allowed purposes, sorted, unique
	ModelID     []byte   `cbor:"8,keyasint"`  // 16 bytes
	Descriptors []byte   `cbor:"9,keyasint"`  // n × 256 bytes, 1 ≤ n ≤ 4
	Quality     Quality  `cbor:"10,keyasint"` // enrolment quality summary
}

// Quality summarises the enrolment. Rules as for [Body].
type Quality struct {
	Photos      uint64 `cbor:"1,keyasint"` // photos that passed the gate
	MinFacePx   uint64 `cbor:"2,keyasint"` // smallest face box width among them, pixels
	SpreadMilli uint64 `cbor:"3,keyasint"` // largest Euclidean distance between them ×1000 (0 for one photo)
}

// ErrMalformed is returned for bytes that do not follow the format. Its
// text says "verify:", the package that re-exports it to callers.
var ErrMalformed = errors.New("verify: malformed reference")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

var (
	encMode = func() cbor.EncMode {
		m, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	decMode = func() cbor.DecMode {
		m, err := cbor.DecOptions{
			DupMapKey:         cbor.DupMapKeyEnforcedAPF,
			IndefLength:       cbor.IndefLengthForbidden,
			TagsMd:            cbor.TagsForbidden,
			MaxNestedLevels:   4,
			MaxArrayElements:  16,
			MaxMapPairs:       16,
			ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
			UTF8:              cbor.UTF8RejectInvalid,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// Marshal validates b and encodes it deterministically.
func (b *Body) Marshal() ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	return encMode.Marshal(b)
}

// UnmarshalBody decodes a body strictly: no unknown or duplicate keys, no
// indefinite lengths or tags, and the bytes must be exactly the
// deterministic encoding of the result (so every body has one encoding).
func UnmarshalBody(data []byte) (*Body, error) {
	var b Body
	if err := decMode.Unmarshal(data, &b); err != nil {
		return nil, malformed("body: %v", err)
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	again, err := encMode.Marshal(&b)
	if err != nil || !bytes.Equal(again, data) {
		return nil, malformed("body: not in deterministic encoding")
	}
	return &b, nil
}

func (b *Body) validate() error {
	switch {
	case b.Version != Version:
		return malformed("body: version %d, want %d", b.Version, Version)
	case len(b.Descriptors) == 0 || len(b.Descriptors)%DescriptorBytes != 0 || len(b.Descriptors)/DescriptorBytes > MaxDescriptors:
		return malformed("body: descriptors of %d bytes", len(b.Descriptors))
	}
	if err := b.validateCommon(); err != nil {
		return err
	}
	if _, err := DecodeDescriptors(b.Descriptors); err != nil {
		return err
	}
	return nil
}

// validateCommon checks the fields v1 and v2 share.
func (b *Body) validateCommon() error {
	switch {
	case len(b.ID) != IDSize:
		return malformed("body: reference ID of %d bytes", len(b.ID))
	case len(b.Subject) != PseudonymSize:
		return malformed("body: subject pseudonym of %d bytes", len(b.Subject))
	case len(b.ModelID) != ModelIDSize:
		return malformed("body: model ID of %d bytes", len(b.ModelID))
	case b.ExpiresAt <= b.IssuedAt:
		return malformed("body: expires at %d, not after issued at %d", b.ExpiresAt, b.IssuedAt)
	case len(b.Purposes) == 0 || len(b.Purposes) > MaxPurposes:
		return malformed("body: %d purposes (1..%d)", len(b.Purposes), MaxPurposes)
	case b.Quality.Photos == 0 || b.Quality.Photos > 255 || b.Quality.MinFacePx > 1<<16 || b.Quality.SpreadMilli > 1<<16:
		return malformed("body: quality summary out of range")
	}
	for i, p := range b.Purposes {
		if err := CheckPurpose(p); err != nil {
			return err
		}
		if i > 0 && b.Purposes[i-1] >= p {
			return malformed("body: purposes not sorted and unique")
		}
	}
	return nil
}

// CheckPurpose accepts 1..64 bytes of printable ASCII without spaces.
func CheckPurpose(p string) error {
	if len(p) == 0 || len(p) > MaxPurposeLen || !utf8.ValidString(p) {
		return malformed("purpose %q: 1..%d bytes", p, MaxPurposeLen)
	}
	for _, r := range p {
		if r <= ' ' || r > '~' {
			return malformed("purpose %q: printable ASCII without spaces only", p)
		}
	}
	return nil
}

// EncodeDescriptors packs float32 descriptors as half-precision values,
// little-endian. Values are rounded to nearest even; a value that is not
// finite or overflows half precision is an error.
func EncodeDescriptors(ds [][DescriptorDims]float32) ([]byte, error) {
	if len(ds) == 0 || len(ds) > MaxDescriptors {
		return nil, malformed("%d descriptors (1..%d)", len(ds), MaxDescriptors)
	}
	out := make([]byte, 0, len(ds)*DescriptorBytes)
	for _, d := range ds {
		for _, v := range d {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 65504 {
				return nil, malformed("descriptor value %v not representable", v)
			}
			out = binary.LittleEndian.AppendUint16(out, float16.Fromfloat32(v).Bits())
		}
	}
	return out, nil
}

// DecodeDescriptors unpacks half-precision descriptors, rejecting NaN and
// infinities.
func DecodeDescriptors(b []byte) ([][DescriptorDims]float32, error) {
	if len(b) == 0 || len(b)%DescriptorBytes != 0 || len(b)/DescriptorBytes > MaxDescriptors {
		return nil, malformed("descriptors of %d bytes", len(b))
	}
	ds := make([][DescriptorDims]float32, len(b)/DescriptorBytes)
	for i := range ds {
		for j := range DescriptorDims {
			h := float16.Frombits(binary.LittleEndian.Uint16(b[(i*DescriptorDims+j)*2:]))
			if h.IsNaN() || h.IsInf(0) {
				return nil, malformed("descriptor %d value %d is not finite", i, j)
			}
			ds[i][j] = h.Float32()
		}
	}
	return ds, nil
}
