package calibgen

import (
	"testing"

	"github.com/oneface/oneface/internal/facerec"
)

func TestCombos(t *testing.T) {
	got := combos(4, 2, 20)
	if len(got) != 6 || got[0][0] != 0 || got[0][1] != 1 || got[5][0] != 2 || got[5][1] != 3 {
		t.Fatalf("%v", got)
	}
	if len(combos(10, 3, 20)) != 20 {
		t.Fatal("limit")
	}
}

func TestComputeByHand(t *testing.T) {
	d := func(x float32) facerec.Descriptor { var v facerec.Descriptor; v[0] = x; return v }
	// Two people, 3 images each (k=1: 6 genuine, 9 impostor pairs).
	people := map[string][]facerec.Descriptor{"a": {d(0), d(0.1), d(0.2)}, "b": {d(1), d(1.1), d(1.3)}}
	s := compare(people, 1)
	if len(s.Genuine) != 6 || len(s.Impostor) != 9 {
		t.Fatalf("k=1: %d genuine, %d impostor", len(s.Genuine), len(s.Impostor))
	}
	s = compare(people, 2) // 3 templates per person, 1 probe each; 3 impostors each
	if len(s.Genuine) != 6 || len(s.Impostor) != 18 {
		t.Fatalf("k=2: %d genuine, %d impostor", len(s.Genuine), len(s.Impostor))
	}
}
