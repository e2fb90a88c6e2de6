package facerec

import (
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func box(x, y, side int) image.Rectangle { return image.Rect(x, y, x+side, y+side) }

func TestSingle(t *testing.T) {
	frame := image.Rect(0, 0, 400, 400)
	cases := []struct {
		name  string
		boxes []image.Rectangle
		want  error
		pick  int
	}{
		{"none", nil, ErrNoFace, 0},
		{"one", []image.Rectangle{box(10, 10, 50)}, nil, 0},
		{"two comparable", []image.Rectangle{box(100, 100, 100), box(250, 100, 90)}, ErrMultipleFaces, 0},
		{"dominant central with small bystander", []image.Rectangle{box(150, 150, 120), box(10, 10, 60)}, nil, 0},
		{"just under the ratio", []image.Rectangle{box(150, 150, 149), box(10, 10, 100)}, ErrMultipleFaces, 0},
		{"large face off-centre, small face central", []image.Rectangle{box(0, 0, 150), box(180, 180, 40)}, ErrMultipleFaces, 0},
		{"three, one dominant", []image.Rectangle{box(10, 10, 40), box(140, 140, 150), box(330, 330, 50)}, nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &Analysis{Bounds: frame}
			for _, b := range c.boxes {
				a.Faces = append(a.Faces, Face{Box: b})
			}
			want := Face{}
			if len(c.boxes) > 0 {
				want.Box = c.boxes[c.pick]
			}
			sortFaces(a.Faces, frame)
			f, err := a.Single()
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if err == nil && f.Box != want.Box {
				t.Fatalf("picked %v, want %v", f.Box, want.Box)
			}
		})
	}
}

func TestCentral(t *testing.T) {
	frame := image.Rect(0, 0, 250, 250)
	a := &Analysis{Bounds: frame, Faces: []Face{{Box: box(0, 0, 150)}, {Box: box(95, 95, 60)}}}
	f, err := a.Central()
	if err != nil || f.Box != box(95, 95, 60) {
		t.Fatalf("got %v %v", f.Box, err)
	}
	if _, err := (&Analysis{Bounds: frame}).Central(); !errors.Is(err, ErrNoFace) {
		t.Fatal(err)
	}
}

func TestEuclidean(t *testing.T) {
	var a, b Descriptor
	if Euclidean(&a, &b) != 0 {
		t.Fatal("distance to itself")
	}
	b[0], b[127] = 3, 4
	if d := Euclidean(&a, &b); d != 5 {
		t.Fatalf("3-4-5: %v", d)
	}
	// Not the squared distance go-face's ClassifyThreshold uses.
	for i := range b {
		a[i], b[i] = 0, float32(0.6/math.Sqrt(128))
	}
	if d := Euclidean(&a, &b); math.Abs(d-0.6) > 1e-6 {
		t.Fatalf("got %v, want 0.6", d)
	}
}

func TestCheckModels(t *testing.T) {
	dir := t.TempDir()
	pins := Pins()
	if len(pins) != 3 {
		t.Fatalf("%d pins, want 3", len(pins))
	}
	_, err := CheckModels(dir)
	var me *ModelError
	if !errors.Is(err, ErrModel) || !errors.As(err, &me) || me.File != pins[0].File || me.Expected != pins[0].SHA256 {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, pins[0].File), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = CheckModels(dir)
	if !errors.As(err, &me) || me.Got == "" || me.Got == me.Expected {
		t.Fatalf("wrong file: %v", err)
	}
}

func TestModelIDString(t *testing.T) {
	id := ModelID{0xde, 0xad}
	back, err := ParseModelID(id.String())
	if err != nil || back != id {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "zz", id.String()[:30], id.String() + "00"} {
		if _, err := ParseModelID(bad); err == nil {
			t.Errorf("ParseModelID(%q) accepted", bad)
		}
	}
}
