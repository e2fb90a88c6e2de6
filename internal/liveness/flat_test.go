package liveness

import (
	"math"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
)

// TestFlatMeasuresDev measures, over every ordered pair of frames within
// each spoof-dev session, what the checker's flat-picture measures do on
// real prints moved, tilted and bent by hand, and on real live frames:
// the blink closure must stay above ClosedRatio and the turn beyond a flat
// picture below TurnBeyondFlat for the prints. It also measures the
// smallest non-affine change between two real frames (the StaticResidual
// margin) and, for the docs, how dlib's descriptor separates the
// spoof-dev subjects.
func TestFlatMeasuresDev(t *testing.T) {
	if testing.Short() {
		t.Skip("analyses every spoof-dev frame")
	}
	for _, label := range []string{"spoof", "live"} {
		minClosure, maxTurn, minFlat := math.Inf(1), 0.0, math.Inf(1)
		pairs := 0
		for _, rows := range sessions(t, label) {
			var ls [][]vec
			for _, r := range rows {
				ls = append(ls, vecs(spoofFace(t, r.File).lm))
			}
			for i := range ls {
				for j := range ls {
					if i == j {
						continue
					}
					pairs++
					minClosure = math.Min(minClosure, closure(ls[i], ls[j]))
					maxTurn = math.Max(maxTurn, math.Abs(turnBeyondFlat(ls[i], ls[j])))
					minFlat = math.Min(minFlat, flatResidual(ls[i], ls[j]))
				}
			}
		}
		t.Logf("%s: %d frame pairs within sessions: closure ≥ %.3f, |turn beyond flat| ≤ %.3f, non-affine change ≥ %.4f",
			label, pairs, minClosure, maxTurn, minFlat)
		if label == "spoof" && (minClosure <= lim0.ClosedRatio || maxTurn >= lim0.TurnBeyondFlat) {
			t.Errorf("prints reach a blink (closure %.3f ≤ %.2f) or a turn (%.3f ≥ %.2f)", minClosure, lim0.ClosedRatio, maxTurn, lim0.TurnBeyondFlat)
		}
		if minFlat < lim0.StaticResidual {
			t.Errorf("two real %s frames differ by %.4f < StaticResidual %.4f", label, minFlat, lim0.StaticResidual)
		}
	}
	// dlib's descriptor on spoof-dev live frames: largest distance within
	// a session vs smallest between subjects.
	within, across := 0.0, math.Inf(1)
	var all []face
	var subj []string
	for key, rows := range sessions(t, "live") {
		var fs []face
		for _, r := range rows {
			fs = append(fs, spoofFace(t, r.File))
			subj = append(subj, r.Subject)
		}
		for i := range fs {
			for j := i + 1; j < len(fs); j++ {
				within = math.Max(within, facerec.Euclidean(&fs[i].desc, &fs[j].desc))
			}
		}
		all = append(all, fs...)
		_ = key
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if subj[i] != subj[j] {
				across = math.Min(across, facerec.Euclidean(&all[i].desc, &all[j].desc))
			}
		}
	}
	t.Logf("dlib descriptor, live spoof-dev frames: largest distance within a session %.3f, smallest between subjects %.3f", within, across)
}
