package calibgen

import (
	"math"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
)

// dlibPop builds a population of one-component dlib descriptors.
func dlibPop(name string, people map[string][]float32, split map[string]string) *population {
	p := &population{person: map[string]string{}, samples: map[string]Sample{}}
	p.meta.Name = name
	for n, xs := range people {
		for i, x := range xs {
			r := n + "/" + string(rune('a'+i))
			var s Sample
			s.Dlib[0] = x
			p.files = append(p.files, r)
			p.person[r] = n
			p.samples[r] = s
		}
	}
	if split != nil {
		p.enrol = func(r string) bool { return split[r] == "e" }
		p.probe = func(r string) bool { return split[r] == "p" }
	}
	return p
}

func TestCompareByHand(t *testing.T) {
	m := dlibModel(facerec.ModelID{})
	// Two people, 3 images each (k=1: 6 genuine, 9 impostor pairs).
	p := dlibPop("x", map[string][]float32{"a": {0, 0.1, 0.2}, "b": {1, 1.1, 1.3}}, nil)
	s := compare(p, m, 1)
	if len(s.Genuine) != 6 || len(s.Impostor) != 9 {
		t.Fatalf("k=1: %d genuine, %d impostor", len(s.Genuine), len(s.Impostor))
	}
	s = compare(p, m, 2) // 3 templates per person, 1 probe each; 3 impostors each
	if len(s.Genuine) != 6 || len(s.Impostor) != 18 {
		t.Fatalf("k=2: %d genuine, %d impostor", len(s.Genuine), len(s.Impostor))
	}
	// Split: a/a, b/a enrol; a/b, a/c, b/b, b/c probe: k=1 gives 2×2
	// genuine and 2×2 impostor comparisons, enrolment images never probe.
	split := map[string]string{"a/a": "e", "b/a": "e", "a/b": "p", "a/c": "p", "b/b": "p", "b/c": "p"}
	p = dlibPop("y", map[string][]float32{"a": {0, 0.1, 0.2}, "b": {1, 1.1, 1.3}}, split)
	s = compare(p, m, 1)
	if len(s.Genuine) != 4 || len(s.Impostor) != 4 {
		t.Fatalf("split k=1: %d genuine, %d impostor", len(s.Genuine), len(s.Impostor))
	}
	if s.Genuine[0] != float64(float32(0.1)) || math.Abs(s.Impostor[0]-0.8) > 1e-6 {
		t.Fatalf("split distances %v %v", s.Genuine, s.Impostor)
	}
}

// TestComputeStrictest checks the table's rules on two synthetic
// populations: the strictest own threshold is shipped and named, a
// population too small for a target is marked unsupported but vetoes, and
// a stricter target never gets a looser threshold.
func TestComputeStrictest(t *testing.T) {
	old := photoCounts
	photoCounts = []int{1}
	defer func() { photoCounts = old }()
	m := dlibModel(facerec.ModelID{})
	// Population "big": 60 people at 1.0 apart, two images each, far
	// apart as impostors (1,770·4 impostor pairs) — supports 1e-3.
	big := map[string][]float32{}
	for i := range 60 {
		big[string(rune('A'+i))] = []float32{float32(i), float32(i) + 0.05}
	}
	// Population "small": two people close together (4 impostor pairs at
	// 0.3–0.4): supports no target, vetoes above 0.3.
	small := map[string][]float32{"p": {0, 0.02}, "q": {0.35, 0.32}}
	pb, ps := dlibPop("big", big, nil), dlibPop("small", small, nil)
	cm, err := compute(m, []*population{pb, ps})
	if err != nil {
		t.Fatal(err)
	}
	prev := math.Inf(1)
	for _, e := range cm.Entries {
		if e.Threshold > prev {
			t.Errorf("FMR %g: threshold %v looser than %v", e.TargetFMR, e.Threshold, prev)
		}
		prev = e.Threshold
		for _, b := range e.Basis {
			if e.Threshold > b.Own {
				t.Errorf("FMR %g: threshold %v above %s's own %v", e.TargetFMR, e.Threshold, b.Population, b.Own)
			}
			if b.Impostor.Value > e.TargetFMR {
				t.Errorf("FMR %g: %s measures %v", e.TargetFMR, b.Population, b.Impostor.Value)
			}
			if b.Population == "small" && b.Supported {
				t.Errorf("small supports %g on %d comparisons", e.TargetFMR, b.Impostor.Trials)
			}
		}
	}
	if len(cm.Entries) == 0 || cm.Entries[0].TargetFMR != 1e-2 {
		t.Fatalf("entries %+v", cm.Entries)
	}
	e := cm.Entries[0]
	if want := floor(compare(ps, m, 1).Impostor[0]); e.Threshold != want || e.SetBy != "small, unsupported: no false match allowed" {
		t.Errorf("FMR 1e-2: threshold %v set by %q; want %v by small (its smallest impostor distance, floored)", e.Threshold, e.SetBy, want)
	}
	for _, e := range cm.Entries {
		if e.TargetFMR < 1e-4 {
			t.Errorf("FMR %g listed on %d impostor comparisons", e.TargetFMR, e.Basis[0].Impostor.Trials)
		}
	}
}
