// Package calibgen generates internal/calib's calibration table from the
// LFW dev set with the real engine. It is a tool package: the runtime
// reads the committed table through package calib, which links nothing
// but the standard library; only the generator (gen_calibration.go, run
// by `go generate ./internal/calib` or `make calibrate`) and its tests
// link internal/eval and its plotting and statistics dependencies.
package calibgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
)

// Calibration settings: enrolment photo counts, targets, and how many
// photo combinations per person make templates (first ones in file order).
var (
	photoCounts   = []int{1, 2, 3}
	targets       = []float64{1e-2, 1e-3, 1e-4, 1e-5}
	maxCombos     = 20
	variants      = []string{"lfw", "lfw-deepfunneled"}
	thresholdStep = 1e-4 // thresholds are floored to this step (stricter, and stable across machines)
)

// Generate runs the engine over the LFW dev folder and returns the table
// as JSON, for the model the describer runs.
func Generate(ctx context.Context, d eval.Describer, lfwDir string) ([]byte, error) {
	people := map[string]map[string][]facerec.Descriptor{} // variant → person → descriptors, file order
	for _, v := range variants {
		var rels []string
		err := filepath.WalkDir(filepath.Join(lfwDir, v), func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() && strings.HasSuffix(p, ".jpg") {
				rel, _ := filepath.Rel(lfwDir, p)
				rels = append(rels, rel)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(rels)
		descs, _, err := eval.DescribeFiles(ctx, d, lfwDir, rels, 4)
		if err != nil {
			return nil, err
		}
		people[v] = map[string][]facerec.Descriptor{}
		for _, rel := range rels { // failures to acquire are left out
			if desc, ok := descs[rel]; ok {
				person := filepath.Base(filepath.Dir(rel))
				people[v][person] = append(people[v][person], desc)
			}
		}
	}
	m, err := Compute(d.ModelID(), people)
	if err != nil {
		return nil, err
	}
	return Marshal(&calib.Table{Models: []calib.Model{*m}})
}

// Marshal is the canonical JSON form of a table.
func Marshal(t *calib.Table) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Compute derives the operating points from descriptors grouped by
// variant and person.
func Compute(modelID string, people map[string]map[string][]facerec.Descriptor) (*calib.Model, error) {
	m := &calib.Model{
		ModelID: modelID,
		Metric:  "euclidean; match iff distance < threshold",
		Source:  "LFW dev fold (../shared/faces/lfw-dev), variants " + strings.Join(variants, " and ") + "; subject = face nearest the frame centre",
		Notes: "Templates of k photos are the mean of k images of one person (at most 20 combinations per person, first in file order); " +
			"genuine comparisons pit a template against the person's other images, impostor comparisons against every image of everyone else " +
			"(for k = 1: every unordered pair). Pairs share people and are not independent. Per target, the stricter of the two variants' " +
			"thresholds is kept, floored to 1e-4; a target is listed only when a variant has at least 3/target impostor comparisons.",
	}
	for _, k := range photoCounts {
		scores := map[string]*eval.Scores{}
		for _, v := range variants {
			scores[v] = compare(people[v], k)
		}
		for _, target := range targets {
			th := math.Inf(1)
			for _, v := range variants {
				op, err := scores[v].AtFMR(target)
				if err != nil {
					th = math.NaN()
					break
				}
				th = math.Min(th, op.Threshold)
			}
			if math.IsNaN(th) {
				continue
			}
			th = math.Floor(th/thresholdStep) * thresholdStep
			th = math.Round(th*1e4) / 1e4
			e := calib.Entry{Photos: k, TargetFMR: target, Threshold: th}
			for _, v := range variants {
				e.Basis = append(e.Basis, calib.Basis{Variant: v, Impostor: rate(scores[v].FMR(th)), Genuine: rate(scores[v].FNMR(th))})
			}
			m.Entries = append(m.Entries, e)
		}
	}
	if len(m.Entries) == 0 {
		return nil, fmt.Errorf("calib: no target supported by the data")
	}
	return m, nil
}

// rate copies an evaluation rate into the table's own type.
func rate(r eval.Rate) calib.Rate {
	return calib.Rate{Errors: r.Errors, Trials: r.Trials, Value: r.Value, Lo: r.Lo, Hi: r.Hi}
}

// compare builds genuine and impostor distances for templates of k photos.
func compare(byPerson map[string][]facerec.Descriptor, k int) *eval.Scores {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range byPerson {
			if !yield(n) {
				return
			}
		}
	})
	s := &eval.Scores{}
	if k == 1 {
		type img struct {
			person int
			d      *facerec.Descriptor
		}
		var all []img
		for i, n := range names {
			for j := range byPerson[n] {
				all = append(all, img{i, &byPerson[n][j]})
			}
		}
		for i := range all {
			for j := i + 1; j < len(all); j++ {
				d := facerec.Euclidean(all[i].d, all[j].d)
				if all[i].person == all[j].person {
					s.Genuine = append(s.Genuine, d)
				} else {
					s.Impostor = append(s.Impostor, d)
				}
			}
		}
		return s
	}
	for pi, n := range names {
		ds := byPerson[n]
		if len(ds) < k+1 {
			continue
		}
		for _, combo := range combos(len(ds), k, maxCombos) {
			var t facerec.Descriptor
			for c := range t {
				var sum float64
				for _, i := range combo {
					sum += float64(ds[i][c])
				}
				t[c] = float32(sum / float64(k))
			}
			for i := range ds {
				if !slices.Contains(combo, i) {
					s.Genuine = append(s.Genuine, facerec.Euclidean(&t, &ds[i]))
				}
			}
			for qi, q := range names {
				if qi == pi {
					continue
				}
				for j := range byPerson[q] {
					s.Impostor = append(s.Impostor, facerec.Euclidean(&t, &byPerson[q][j]))
				}
			}
		}
	}
	return s
}

// combos lists up to limit k-combinations of 0..n-1 in lexicographic order.
func combos(n, k, limit int) [][]int {
	var out [][]int
	c := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if len(out) >= limit {
			return
		}
		if depth == k {
			out = append(out, slices.Clone(c))
			return
		}
		for i := start; i < n; i++ {
			c[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
	return out
}
