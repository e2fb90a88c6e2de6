package liveness

import (
	"context"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/testenv"
)

// TestMultiFrameDev measures whether comparing several frames of a probe
// lowers FNMR at the same FMR, with the ArcFace-class embedding
// (internal/embed) on the spoof-dev live frames: a reference is one frame;
// a probe is n = 5 consecutive frames of another capture session (the same
// subject: genuine; another subject: impostor). Three rules: the first
// frame alone, the mean embedding of the n frames, and the best (smallest)
// of the n distances; each with its threshold recalibrated on its own
// impostor distances for the target FMR. It also checks the trap: the
// single-frame threshold applied to best-of-n lets more impostors through
// than the target.
func TestMultiFrameDev(t *testing.T) {
	if testing.Short() {
		t.Skip("embeds every live spoof-dev frame")
	}
	em, err := embed.Open(testenv.ModelDir(), embed.Options{PoolSize: 1})
	if err != nil {
		testenv.Missing(t, "embedding network", err)
	}
	defer em.Close()
	type frame struct {
		subject, session string
		e                embed.Embedding
	}
	var frames []frame
	bySession := map[string][]int{}
	for key, rows := range sessions(t, "live") {
		for _, r := range rows {
			f := spoofFace(t, r.File)
			e, err := em.Embed(context.Background(), decodeFile(t, spoofDir(t)+"/"+r.File), f.lm)
			if err != nil {
				t.Fatal(err)
			}
			bySession[key] = append(bySession[key], len(frames))
			frames = append(frames, frame{r.Subject, r.Session, e})
		}
	}
	const n = 5
	type probe struct {
		subject, session string
		idx              []int
	}
	var probes []probe
	for key, idx := range bySession {
		for s := 0; s+n <= len(idx); s += n {
			f := frames[idx[s]]
			probes = append(probes, probe{f.subject, f.session, idx[s : s+n]})
		}
		_ = key
	}
	rules := []string{"single frame", "mean of 5", "best of 5"}
	gen := make([][]float64, 3)
	imp := make([][]float64, 3)
	for ri, r := range frames {
		for _, p := range probes {
			if p.subject == r.subject && p.session == r.session {
				continue // same session: not a verification
			}
			ds := make([]float64, n)
			es := make([]embed.Embedding, n)
			for k, i := range p.idx {
				es[k] = frames[i].e
				ds[k] = embed.CosineDistance(&frames[ri].e, &frames[i].e)
			}
			m, ok := embed.Mean(es)
			if !ok {
				t.Fatal("mean embedding failed")
			}
			scores := []float64{ds[0], embed.CosineDistance(&frames[ri].e, &m), slices.Min(ds)}
			for k, v := range scores {
				if p.subject == r.subject {
					gen[k] = append(gen[k], v)
				} else {
					imp[k] = append(imp[k], v)
				}
			}
		}
	}
	// Threshold for FMR ≤ target: the ⌊target·n⌋-th smallest impostor
	// distance; a match is distance < threshold.
	thr := func(imp []float64, target float64) float64 {
		s := slices.Sorted(slices.Values(imp))
		return s[int(math.Floor(target*float64(len(s))))]
	}
	rate := func(xs []float64, t float64, below bool) (int, int) {
		c := 0
		for _, x := range xs {
			if (x < t) == below {
				c++
			}
		}
		return c, len(xs)
	}
	for _, target := range []float64{0.01, 0.001} {
		single := thr(imp[0], target)
		for k, name := range rules {
			th := thr(imp[k], target)
			fm, ni := rate(imp[k], th, true)
			fnm, ng := rate(gen[k], th, false)
			t.Logf("FMR target %g, %-12s threshold %.4f: FMR %d/%d, FNMR %d/%d (%.2f%%)", target, name, th, fm, ni, fnm, ng, 100*float64(fnm)/float64(ng))
		}
		fm, ni := rate(imp[2], single, true)
		t.Logf("FMR target %g: best of 5 at the single-frame threshold %.4f: FMR %d/%d", target, single, fm, ni)
		if float64(fm)/float64(ni) <= target {
			t.Logf("(best of 5 did not exceed the target FMR at the single-frame threshold here)")
		}
	}
	sort.Float64s(gen[0])
	if len(gen[0]) == 0 || len(imp[0]) < 3000 {
		t.Fatalf("%d genuine, %d impostor comparisons: too few to measure FMR 1e-3", len(gen[0]), len(imp[0]))
	}
}
