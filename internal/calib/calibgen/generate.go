// Package calibgen generates internal/calib's calibration table with the
// real engine: dlib's descriptor and the ArcFace-class embedding of
// internal/embed, on the LFW dev set (both variants) and on spoof-dev's
// live webcam frames across sessions. It is a tool package: the runtime
// reads the committed table through package calib, which links nothing
// but the standard library; only the generator (gen_calibration.go, run
// by `go generate ./internal/calib` or `make calibrate`) and its tests
// link internal/eval, internal/embed and their dependencies.
//
// Per-image results (both vectors, or a failure to acquire) are cached on
// disk by the two model IDs and the image's SHA-256 ([CacheDir]), so a
// regeneration after the first takes seconds; delete the folder to
// recompute.
package calibgen

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/ref"
)

// Calibration settings: enrolment photo counts, targets, and how many
// photo combinations per person make templates (first ones in file order).
var (
	photoCounts   = []int{1, 2, 3}
	targets       = []float64{1e-2, 1e-3, 1e-4, 1e-5} // least strict first
	maxCombos     = 20
	thresholdStep = 1e-4 // thresholds are floored to this step (stricter, and stable across machines)
)

// policy is the table's top-level statement (calib's package doc says the same).
const policy = "For each model ID, enrolment count and target FMR, every population gives its own threshold (the largest at " +
	"which its measured FMR does not exceed the target, floored to 1e-4); the shipped threshold is the strictest of them, never " +
	"looser than that of a less strict target. A target is listed only when at least one population has 3/target impostor " +
	"comparisons; a population with fewer is marked supports_target=false: it still vetoes (its measured FMR may not exceed the " +
	"target, so for n < 1/target it may show no false match), but its rates are shown, not claimed. The claim holds for " +
	"populations and cameras like those measured (press photos of public figures; nine people at one 640x480 webcam); " +
	"comparisons within a population share people and are not independent, so the intervals are optimistic. " +
	"A deployment measures its own population with `oneface calibrate-site`, which can only make a threshold stricter."

// Sample is one analysed image: dlib's descriptor and the embedding, both
// of the face nearest the frame centre.
type Sample struct {
	Dlib facerec.Descriptor
	Arc  embed.Embedding
}

// Analyser analyses images with the dlib engine (detection, landmarks,
// descriptor) and the embedder, through an on-disk cache.
type Analyser struct {
	Engine   *facerec.Engine
	Embedder *embed.Embedder
	Cache    string // "" disables the cache; see [CacheDir]
	// Face, when set, is called for every acquired frame with the decoded
	// image and its chosen face, before it is embedded (the site check
	// scores presentation-attack detection there). An error stops the
	// analysis. It needs Cache "": a cached frame is not decoded.
	Face func(ctx context.Context, img image.Image, f *facerec.Face) error
}

// CacheDir is the cache folder for an engine and the embedding on top of
// it: <user cache dir>/oneface/embed-measure/<engine ID>-<embedding ID>,
// shared with internal/embed's measurement tests, which analyse images the
// same way and store the same record (1 byte acquired flag, then 128 and
// 512 float32 little-endian).
func CacheDir(engine facerec.ModelID) string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "oneface", "embed-measure", engine.String()+"-"+embed.ModelID(engine).String())
}

const recordSize = 1 + 4*(facerec.DescriptorSize+embed.Size)

// Analyse decodes the file in Go, analyses the decoded frame with the
// engine, takes the face nearest the centre, and embeds it. ok is false
// for a failure to acquire (undecodable image or no face); err is for
// everything else.
func (a *Analyser) Analyse(ctx context.Context, path string) (s Sample, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return s, false, err
	}
	var cpath string
	if a.Cache != "" && a.Face != nil {
		return s, false, fmt.Errorf("calibgen: Analyser.Face needs the cache off")
	}
	if a.Cache != "" {
		cpath = filepath.Join(a.Cache, fmt.Sprintf("%x", sha256sum(b)))
		if c, err := os.ReadFile(cpath); err == nil && len(c) == recordSize {
			s, ok = decodeRecord(c)
			return s, ok, nil
		}
	}
	s, ok, err = a.analyse(ctx, b)
	if err != nil {
		return s, false, fmt.Errorf("%s: %w", path, err)
	}
	if cpath != "" {
		if err := os.MkdirAll(a.Cache, 0o700); err == nil {
			os.WriteFile(cpath, encodeRecord(s, ok), 0o600)
		}
	}
	return s, ok, nil
}

func (a *Analyser) analyse(ctx context.Context, b []byte) (Sample, bool, error) {
	var s Sample
	img, err := decodeImage(b)
	if err != nil {
		return s, false, nil
	}
	an, err := a.Engine.Analyze(ctx, facerec.Image(img))
	if err != nil {
		return s, false, nil
	}
	f, err := an.Central()
	if err != nil {
		return s, false, nil
	}
	if a.Face != nil {
		if err := a.Face(ctx, img, &f); err != nil {
			return s, false, err
		}
	}
	s.Dlib = f.Descriptor
	if s.Arc, err = a.Embedder.Embed(ctx, img, f.Landmarks); err != nil {
		return s, false, err
	}
	return s, true, nil
}

// population is one set of images and how they are compared.
type population struct {
	meta   calib.Population
	files  []string          // paths relative to root, sorted
	person map[string]string // file → identity
	// enrol and probe restrict which files may be enrolled and probed
	// (nil: all, every unordered pair for one photo).
	enrol, probe func(rel string) bool
	samples      map[string]Sample
}

// Generate analyses the dev sets under faces (../shared/faces: lfw-dev and
// spoof-dev) and returns the table as JSON for both models.
func Generate(ctx context.Context, a *Analyser, faces string) ([]byte, error) {
	var pops []*population
	for _, v := range []struct{ name, dir, desc string }{
		{"lfw-dev", "lfw", "LFW dev fold (../shared/faces/lfw-dev/lfw): press photos of public figures; every cross-identity comparison is an impostor comparison"},
		{"lfw-dev-deepfunneled", "lfw-deepfunneled", "the same LFW dev images, deep-funneled variant (../shared/faces/lfw-dev/lfw-deepfunneled)"},
	} {
		p, err := lfwPopulation(filepath.Join(faces, "lfw-dev"), v.dir)
		if err != nil {
			return nil, err
		}
		p.meta.Name, p.meta.Description = v.name, v.desc
		pops = append(pops, p)
	}
	sp, err := spoofPopulation(filepath.Join(faces, "spoof-dev"))
	if err != nil {
		return nil, err
	}
	pops = append(pops, sp)
	for _, p := range pops {
		root := filepath.Join(faces, "lfw-dev")
		if p == sp {
			root = filepath.Join(faces, "spoof-dev")
		}
		if err := analyseAll(ctx, a, root, p); err != nil {
			return nil, err
		}
	}
	engineID := a.Engine.ModelID()
	t := &calib.Table{Policy: policy}
	for _, m := range []model{dlibModel(engineID), arcModel(engineID)} {
		cm, err := compute(m, pops)
		if err != nil {
			return nil, err
		}
		t.Models = append(t.Models, *cm)
	}
	return Marshal(t)
}

func lfwPopulation(dir, variant string) (*population, error) {
	p := &population{person: map[string]string{}}
	err := filepath.WalkDir(filepath.Join(dir, variant), func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(path, ".jpg") {
			rel, _ := filepath.Rel(dir, path)
			p.files = append(p.files, rel)
			p.person[rel] = filepath.Base(filepath.Dir(rel))
		}
		return err
	})
	sort.Strings(p.files)
	return p, err
}

// spoofPopulation reads spoof-dev's labels.csv (file, label, attack,
// subject, session, sha256): live frames, enrolled from session 01 and
// probed with session 02.
func spoofPopulation(dir string) (*population, error) {
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(io.LimitReader(f, 1<<20)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("spoof-dev labels.csv: %v", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != "file,label,attack,subject,session,sha256" {
		return nil, fmt.Errorf("spoof-dev labels.csv: unexpected header")
	}
	session := map[string]string{}
	p := &population{person: map[string]string{}}
	for _, r := range rows[1:] {
		if r[1] != "live" {
			continue
		}
		p.files = append(p.files, r[0])
		p.person[r[0]] = r[3]
		session[r[0]] = r[4]
	}
	sort.Strings(p.files)
	p.enrol = func(rel string) bool { return session[rel] == "01" }
	p.probe = func(rel string) bool { return session[rel] == "02" }
	p.meta.Name = "spoof-dev-live"
	p.meta.Description = "spoof-dev live frames (NUAA Photograph Imposter Database, train split; ../shared/faces/spoof-dev/ClientRaw): " +
		"one 640x480 webcam, 9 subjects; enrolled from session 01, probed with session 02"
	return p, nil
}

func analyseAll(ctx context.Context, a *Analyser, root string, p *population) error {
	p.samples = map[string]Sample{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	work := make(chan string)
	for range 2 {
		wg.Go(func() {
			for rel := range work {
				s, ok, err := a.Analyse(ctx, filepath.Join(root, rel))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if ok {
					p.samples[rel] = s
				}
				mu.Unlock()
			}
		})
	}
	for _, r := range p.files {
		work <- r
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	people := map[string]bool{}
	for r := range p.samples {
		people[p.person[r]] = true
	}
	p.meta.Images, p.meta.Acquired, p.meta.People = len(p.files), len(p.samples), len(people)
	return nil
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

// model is one compared representation: its ID, metric, and a scorer that
// builds a template of samples and returns its distance to a probe.
type model struct {
	id, name, metric, source string
	template                 func(ss []*Sample) func(p *Sample) float64
}

func dlibModel(engine facerec.ModelID) model {
	return model{
		id: engine.String(), name: "dlib", metric: "euclidean distance of dlib's 128-D descriptors; match iff distance < threshold",
		source: "dlib via go-face (HOG detector, 68 landmarks, ResNet descriptor); template of k photos = component mean (float64 sums), compared as stored in a reference (float16)",
		template: func(ss []*Sample) func(p *Sample) float64 {
			t := ss[0].Dlib
			if len(ss) > 1 {
				for c := range t {
					var sum float64
					for _, s := range ss {
						sum += float64(s.Dlib[c])
					}
					t[c] = float32(sum / float64(len(ss)))
				}
			}
			if !stored(ref.EncodingFloat16, t[:]) {
				return func(*Sample) float64 { return math.Inf(1) }
			}
			return func(p *Sample) float64 { return facerec.Euclidean(&t, &p.Dlib) }
		},
	}
}

// stored replaces t by what a reference holds of it (internal/ref's
// template encoding, as verify writes it: float16 for dlib's descriptor,
// int8 with a per-vector scale for the embedding), so the thresholds are
// calibrated on the very vectors a kiosk compares. It reports false for a
// vector the encoding refuses.
func stored(enc ref.Encoding, t []float32) bool {
	tmpl, err := ref.EncodeTemplate(enc, [][]float32{t})
	if err != nil {
		return false
	}
	vs, err := tmpl.Decode()
	if err != nil || len(vs) != 1 || len(vs[0]) != len(t) {
		return false
	}
	copy(t, vs[0])
	return true
}

func arcModel(engine facerec.ModelID) model {
	return model{
		id: embed.ModelID(engine).String(), name: "arcface", metric: "cosine distance (1 − a·b) of L2-normalised 512-D embeddings (embed.CosineDistance); match iff distance < threshold",
		source: "internal/embed: dlib's detector and 68 landmarks, 5-point ArcFace 112x112 alignment, fr_feature.onnx through OpenCV dnn; template of k photos = embed.Mean (unit-length mean direction), compared as stored in a reference (int8, per-vector scale)",
		template: func(ss []*Sample) func(p *Sample) float64 {
			t := ss[0].Arc
			if len(ss) > 1 {
				es := make([]embed.Embedding, len(ss))
				for i, s := range ss {
					es[i] = s.Arc
				}
				var ok bool
				if t, ok = embed.Mean(es); !ok {
					return func(*Sample) float64 { return math.Inf(1) }
				}
			}
			if !stored(ref.EncodingInt8, t[:]) {
				return func(*Sample) float64 { return math.Inf(1) }
			}
			return func(p *Sample) float64 { return embed.CosineDistance(&t, &p.Arc) }
		},
	}
}

// compute derives the operating points of one model from the populations.
func compute(m model, pops []*population) (*calib.Model, error) {
	cm := &calib.Model{
		ModelID: m.id, Name: m.name, Metric: m.metric, Source: m.source,
		Notes: "Templates of k photos use at most 20 k-combinations of a person's (enrolment) images, first in file order; genuine " +
			"comparisons pit a template against the person's other (probe) images, impostor comparisons against every (probe) image " +
			"of everyone else; for k = 1 without an enrolment/probe split, every unordered pair. Subject = face nearest the frame " +
			"centre; images without one are failures to acquire and left out.",
	}
	for _, p := range pops {
		cm.Populations = append(cm.Populations, p.meta)
	}
	for _, k := range photoCounts {
		scores := make([]*eval.Scores, len(pops))
		for i, p := range pops {
			scores[i] = compare(p, m, k)
		}
		prev, prevTarget, prevSetBy := math.Inf(1), 0.0, ""
		for _, target := range targets {
			// Every population has an own threshold (the largest at
			// which its measured FMR does not exceed the target) and
			// vetoes anything looser; only those with enough impostor
			// comparisons support the claim.
			th, setBy, supported := math.Inf(1), "", false
			own := make([]float64, len(pops))
			sup := make([]bool, len(pops))
			for i, p := range pops {
				imp := scores[i].Impostor // sorted
				if len(imp) == 0 {
					return nil, fmt.Errorf("calibgen: %s, %d photos: no impostor comparison in %s", m.name, k, p.meta.Name)
				}
				own[i] = floor(imp[int(math.Floor(target*float64(len(imp))))])
				sup[i] = eval.Supports(len(imp), target)
				supported = supported || sup[i]
				if own[i] < th {
					th, setBy = own[i], p.meta.Name
					if !sup[i] {
						setBy += ", unsupported: no false match allowed"
					}
				}
			}
			if !supported {
				continue // no population supports this target
			}
			if prev < th {
				th, setBy = prev, fmt.Sprintf("stricter than FMR %g (%s)", prevTarget, prevSetBy)
			}
			e := calib.Entry{Photos: k, TargetFMR: target, Threshold: th, SetBy: setBy}
			for i, p := range pops {
				e.Basis = append(e.Basis, calib.Basis{
					Population: p.meta.Name, Supported: sup[i], Own: own[i],
					Impostor: rate(scores[i].FMR(th)), Genuine: rate(scores[i].FNMR(th)),
				})
			}
			cm.Entries = append(cm.Entries, e)
			prev, prevTarget, prevSetBy = th, target, setBy
			if strings.HasPrefix(setBy, "stricter") {
				prevSetBy = setBy[strings.Index(setBy, "(")+1 : len(setBy)-1]
			}
		}
	}
	if len(cm.Entries) == 0 {
		return nil, fmt.Errorf("calibgen: %s: no target supported by the data", m.name)
	}
	return cm, nil
}

// floor rounds a threshold down to thresholdStep (stricter), as a clean
// decimal.
func floor(t float64) float64 {
	t = math.Floor(t/thresholdStep) * thresholdStep
	return math.Round(t*1e4) / 1e4
}

// rate copies an evaluation rate into the table's own type.
func rate(r eval.Rate) calib.Rate {
	return calib.Rate{Errors: r.Errors, Trials: r.Trials, Value: r.Value, Lo: r.Lo, Hi: r.Hi}
}

// compare builds genuine and impostor distances for templates of k
// photos. Without an enrolment/probe split and k = 1, every unordered pair
// of images is compared once; otherwise templates of up to maxCombos
// k-combinations of a person's enrolment images (persons without a
// spare image are skipped when there is no split) meet every probe image
// not in the template.
func compare(p *population, m model, k int) *eval.Scores {
	byPerson, names := people(p)
	sample := func(r string) *Sample { s := p.samples[r]; return &s }
	s := &eval.Scores{}
	if k == 1 && p.enrol == nil {
		var all []string
		for _, n := range names {
			all = append(all, byPerson[n]...)
		}
		ss := make([]*Sample, len(all))
		for i, r := range all {
			ss[i] = sample(r)
		}
		for i := range all {
			score := m.template(ss[i : i+1])
			for j := i + 1; j < len(all); j++ {
				d := score(ss[j])
				if p.person[all[i]] == p.person[all[j]] {
					s.Genuine = append(s.Genuine, d)
				} else {
					s.Impostor = append(s.Impostor, d)
				}
			}
		}
		sortScores(s)
		return s
	}
	eachTemplate(p, m, k, 1, byPerson, names, func(n string, used map[string]bool, score func(*Sample) float64) {
		for _, q := range names {
			for _, r := range byPerson[q] {
				if used[r] || (p.probe != nil && !p.probe(r)) {
					continue
				}
				d := score(sample(r))
				if q == n {
					s.Genuine = append(s.Genuine, d)
				} else {
					s.Impostor = append(s.Impostor, d)
				}
			}
		}
	})
	sortScores(s)
	return s
}

// people groups p's acquired files by person (file order) and returns the
// persons sorted.
func people(p *population) (map[string][]string, []string) {
	byPerson := map[string][]string{}
	for _, r := range p.files {
		if _, ok := p.samples[r]; ok {
			byPerson[p.person[r]] = append(byPerson[p.person[r]], r)
		}
	}
	return byPerson, slices.Sorted(maps.Keys(byPerson))
}

// eachTemplate calls fn with every template of k images: per person, up
// to maxCombos k-combinations of the person's (enrolment) images, first
// in file order, with the images it used. Without an enrolment split, a
// person with fewer than k+spare images makes none.
func eachTemplate(p *population, m model, k, spare int, byPerson map[string][]string, names []string, fn func(person string, used map[string]bool, score func(*Sample) float64)) {
	for _, n := range names {
		var cands []string
		for _, r := range byPerson[n] {
			if p.enrol == nil || p.enrol(r) {
				cands = append(cands, r)
			}
		}
		if p.enrol == nil && len(cands) < k+spare {
			continue
		}
		for _, combo := range eval.Combinations(len(cands), k, maxCombos) {
			ss := make([]*Sample, k)
			used := map[string]bool{}
			for i, c := range combo {
				s := p.samples[cands[c]]
				ss[i] = &s
				used[cands[c]] = true
			}
			fn(n, used, m.template(ss))
		}
	}
}

// sortScores sorts once, so eval's per-call sorts meet sorted input.
func sortScores(s *eval.Scores) {
	sort.Float64s(s.Genuine)
	sort.Float64s(s.Impostor)
}

// Scores compares the samples of people (identity → samples in file
// order) as the table does for a population without an enrolment/probe
// split: for one photo every unordered pair, for k photos templates of up
// to 20 k-combinations against the person's other images and everyone
// else's. model is "dlib" or "arcface"; it returns the scores (sorted)
// and the model ID they are under.
func Scores(engine facerec.ModelID, modelName string, people map[string][]Sample, k int) (*eval.Scores, string, error) {
	var m model
	switch modelName {
	case "dlib":
		m = dlibModel(engine)
	case "arcface":
		m = arcModel(engine)
	default:
		return nil, "", fmt.Errorf("calibgen: unknown model %q (dlib, arcface)", modelName)
	}
	p := &population{person: map[string]string{}, samples: map[string]Sample{}}
	for n, ss := range people {
		for i, s := range ss {
			r := fmt.Sprintf("%s\x00%06d", n, i)
			p.files = append(p.files, r)
			p.person[r] = n
			p.samples[r] = s
		}
	}
	sort.Strings(p.files)
	return compare(p, m, k), m.id, nil
}

// Floor rounds a threshold down to the table's step (1e-4).
func Floor(t float64) float64 { return floor(t) }
