package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

// TestEncoderMatchesDlib compares the encoder with dlib's own serialize()
// (Debian libdlib-dev's headers, compiled from testdata/dlibser.cc) on
// about 19,000 values: integers of every byte length and sign, float32 and
// float64 values from random bit patterns (subnormals, ±0, ±Inf and NaN
// included), booleans and strings.
func TestEncoderMatchesDlib(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles C++")
	}
	cxx, err := exec.LookPath("g++")
	if err != nil {
		testenv.Missing(t, "g++", err)
	}
	if _, err := os.Stat("/usr/include/dlib/serialize.h"); err != nil {
		testenv.Missing(t, "dlib headers (libdlib-dev)", err)
	}
	bin := filepath.Join(t.TempDir(), "dlibser")
	if out, err := exec.Command(cxx, "-O1", "-o", bin, "testdata/dlibser.cc").CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	var in bytes.Buffer
	var want []func(*encoder)
	var what []string
	add := func(line string, f func(*encoder)) {
		in.WriteString(line + "\n")
		want = append(want, f)
		what = append(what, line)
	}
	for i := range 5000 {
		v := int64(rng.Uint64() >> (rng.IntN(64)))
		if i%2 == 1 {
			v = -v
		}
		if v == math.MinInt64 {
			continue // dlib negates it: undefined behaviour
		}
		add(fmt.Sprintf("i %d", v), func(e *encoder) { e.int(v) })
	}
	specialF := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.SmallestNonzeroFloat32, math.MaxFloat32, 0.04, 0.6, 122.782}
	for i := range 7000 {
		var f float32
		if i < len(specialF) {
			f = specialF[i]
		} else {
			f = math.Float32frombits(rng.Uint32())
		}
		add(fmt.Sprintf("f %x", math.Float32bits(f)), func(e *encoder) { e.float32(f) })
	}
	specialD := []float64{0, 1, math.Copysign(0, -1), math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64, math.MaxFloat64, 0.1}
	for i := range 7000 {
		var d float64
		if i < len(specialD) {
			d = specialD[i]
		} else {
			d = math.Float64frombits(rng.Uint64())
		}
		add(fmt.Sprintf("d %x", math.Float64bits(d)), func(e *encoder) { e.float64(d) })
	}
	add("b 1", func(e *encoder) { e.bool(true) })
	add("b 0", func(e *encoder) { e.bool(false) })
	for _, s := range []string{"con_5", "affine_2", "input_rgb_image_sized", strings.Repeat("x", 300)} {
		add("s "+s, func(e *encoder) { e.string(s) })
	}

	cmd := exec.Command(bin)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dlibser: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		if n >= len(want) {
			t.Fatal("more output lines than inputs")
		}
		var e encoder
		want[n](&e)
		if got := hex.EncodeToString(e.b); got != sc.Text() {
			if bad++; bad <= 10 {
				t.Errorf("%s: Go %s, dlib %s", what[n], got, sc.Text())
			}
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d of %d values answered", n, len(want))
	}
	if bad > 0 {
		t.Fatalf("%d of %d differ", bad, n)
	}
}
