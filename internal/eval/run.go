package eval

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/progress"
	"github.com/oneface/oneface/internal/safefile"
)

// Describer turns image bytes into the subject's descriptor. The engine's
// implementation is [EngineDescriber]; tests use fakes.
type Describer interface {
	Describe(ctx context.Context, image []byte) (facerec.Descriptor, error)
	ModelID() string
}

// EngineDescriber analyses with the real engine and takes the face nearest
// the frame centre (the documented evaluation rule, [facerec.Analysis.Central]).
type EngineDescriber struct{ E *facerec.Engine }

// Describe implements [Describer].
func (d EngineDescriber) Describe(ctx context.Context, img []byte) (facerec.Descriptor, error) {
	a, err := d.E.Analyze(ctx, facerec.Bytes(img))
	if err != nil {
		return facerec.Descriptor{}, err
	}
	f, err := a.Central()
	return f.Descriptor, err
}

// ModelID implements [Describer].
func (d EngineDescriber) ModelID() string { return d.E.ModelID().String() }

// Config is one evaluation run.
type Config struct {
	PairsFile  string    // CSV "a,b,same" (header optional)
	AllPairs   string    // instead of a CSV: compare every pair of images in this folder of <person>/<image> folders
	Root       string    // image paths are relative to it (default: the CSV's folder)
	Folds      int       // k-fold protocol when > 1 (pairs in order, k equal folds, as LFW's View 2)
	Workers    int       // parallel analyses (default 4)
	CacheDir   string    // descriptor cache by model ID and file hash ("" disables)
	Thresholds []float64 // FMR/FNMR reported at these (default 0.6)
	Targets    []float64 // FNMR reported at these FMRs (default 1e-2, 1e-3)
	Progress   io.Writer // progress output (nil: none): unreadable images, and every 100 images a line "eval: <done>/<total> images"
	TTY        bool      // Progress is a terminal: draw a bar (internal/progress) instead of the count lines
	MaxImage   int64     // bytes per image file (default 20 MiB)
	// AllowOutside lets pairs-file rows name files outside Root: absolute
	// paths, paths climbing out with "..", links leading out. Off, such a
	// row fails to acquire with the same error whether or not the file
	// exists, so a report never tells which outside files exist.
	AllowOutside bool
}

// Bounds on a pairs file, which is streamed line by line: memory stays
// proportional to the pairs it holds, never to a malformed line.
const (
	// MaxPairsLine bounds one line: two paths and a label.
	MaxPairsLine = 4 << 10
	// MaxPairsFile bounds the whole file.
	MaxPairsFile = 64 << 20
	// MaxPairs bounds the pairs of one run (LFW's View 2 has 6,000).
	MaxPairs = 2_000_000
	// maxLineErrors line errors are reported one by one; the rest are
	// counted in a last entry.
	maxLineErrors = 100
)

// ImageError is one failure to acquire.
type ImageError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// AtThreshold is FMR and FNMR at one threshold.
type AtThreshold struct {
	Threshold float64 `json:"threshold"`
	FMR       Rate    `json:"fmr"`
	FNMR      Rate    `json:"fnmr"`
}

// Report is an evaluation's outcome. It marshals to report.json.
type Report struct {
	Name          string        `json:"name"`
	PairsFile     string        `json:"pairs_file"`
	ModelID       string        `json:"model_id"`
	Metric        string        `json:"metric"`
	Selection     string        `json:"selection_rule"`
	Images        int           `json:"images"`
	FTA           Rate          `json:"failure_to_acquire"`
	FailedImages  []ImageError  `json:"failed_images"`
	LineErrors    []string      `json:"line_errors"`
	Pairs         int           `json:"pairs"`
	PairsLost     int           `json:"pairs_lost_to_fta"`
	GenuinePairs  int           `json:"genuine_pairs"`
	ImpostorPairs int           `json:"impostor_pairs"`
	AtThresholds  []AtThreshold `json:"at_thresholds"`
	AtFMR         []Operating   `json:"at_fmr"`
	Unsupported   []string      `json:"unsupported_fmr_claims"`
	EER           float64       `json:"eer"`
	EERThreshold  float64       `json:"eer_threshold"`
	AUC           float64       `json:"roc_auc"`
	BestAccuracy  float64       `json:"best_threshold_accuracy"`
	BestThreshold float64       `json:"best_threshold"`
	FoldAccuracy  []float64     `json:"fold_accuracy,omitempty"`
	FoldMean      float64       `json:"fold_mean,omitempty"`
	FoldStd       float64       `json:"fold_std,omitempty"`
	Genuine       []float64     `json:"genuine_distances"`
	Impostor      []float64     `json:"impostor_distances"`
	CacheHits     int           `json:"cache_hits"`
	WallSeconds   float64       `json:"wall_seconds"`
	Cohorts       CohortReport  `json:"cohorts,omitzero"` // when the pairs file has a cohort column (cohort.go)
}

type csvPair struct {
	a, b   string
	same   bool
	line   int
	cohort string
}

// allPairs lists every unordered pair of images under dir/<person>/,
// genuine within a person's folder and impostor across folders.
func allPairs(dir string) ([]csvPair, error) {
	var rels []string
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			if ext := strings.ToLower(filepath.Ext(p)); ext == ".jpg" || ext == ".jpeg" || ext == ".png" {
				rel, _ := filepath.Rel(dir, p)
				rels = append(rels, rel)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(rels)
	var pairs []csvPair
	for i := range rels {
		for j := i + 1; j < len(rels); j++ {
			pairs = append(pairs, csvPair{rels[i], rels[j], filepath.Dir(rels[i]) == filepath.Dir(rels[j]), 0, ""})
		}
	}
	return pairs, nil
}

// readPairs streams the CSV; malformed lines are reported (the first
// maxLineErrors of them, then a count) and skipped. The file must be a
// regular file within MaxPairsFile; lines longer than MaxPairsLine are
// skipped unread. Paths are interned, so a path named on many rows is
// stored once.
func readPairs(path string) ([]csvPair, []string, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: pairs file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxPairsFile {
		return nil, nil, fmt.Errorf("eval: pairs file %s: %w: %d bytes, limit %d", path, safefile.ErrTooLarge, fi.Size(), MaxPairsFile)
	}
	br := bufio.NewReaderSize(f, MaxPairsLine)
	var (
		pairs   []csvPair
		errs    []string
		dropped int
		total   int64
		intern  = map[string]string{}
	)
	// lineErr keeps the first maxLineErrors messages; past them it only
	// counts, without formatting anything (11 M bad lines must not cost
	// 11 M messages).
	lineErr := func(line int, msg func() string) {
		if len(errs) < maxLineErrors {
			errs = append(errs, fmt.Sprintf("line %d: %s", line, msg()))
		} else {
			dropped++
		}
	}
	str := func(b []byte) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		s := string(b)
		intern[s] = s
		return s
	}
	var fieldBuf [5][]byte
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		total += int64(len(b))
		long := false
		for err == bufio.ErrBufferFull { // skip the rest of an overlong line
			long = true
			b, err = br.ReadSlice('\n')
			total += int64(len(b))
			if total > MaxPairsFile {
				break
			}
		}
		if total > MaxPairsFile {
			return nil, nil, fmt.Errorf("eval: pairs file %s: %w: over %d bytes", path, safefile.ErrTooLarge, MaxPairsFile)
		}
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("eval: reading pairs file %s: %w", path, err)
		}
		eof := err == io.EOF
		rec := bytes.TrimRight(b, "\r\n")
		switch {
		case long:
			lineErr(line, func() string { return fmt.Sprintf("longer than %d bytes", MaxPairsLine) })
		case len(bytes.TrimSpace(rec)) == 0:
		case line == 1 && (string(rec) == "a,b,same" || string(rec) == "a,b,same,cohort"):
		default:
			fields, ferr := splitCSV(rec, &fieldBuf)
			var cohort string
			if ferr == nil && len(fields) == 4 {
				cohort, fields = str(bytes.TrimSpace(fields[3])), fields[:3]
			}
			switch {
			case ferr != nil:
				lineErr(line, ferr.Error)
			case len(fields) != 3:
				lineErr(line, func() string { return fmt.Sprintf("%d fields, want 3 or 4 (a,b,same[,cohort])", len(fields)) })
			case string(fields[2]) != "0" && string(fields[2]) != "1":
				lineErr(line, func() string { return fmt.Sprintf("same is %.40q, want 0 or 1", fields[2]) })
			case len(fields[0]) == 0 || len(fields[1]) == 0:
				lineErr(line, func() string { return "empty path" })
			case len(pairs) >= MaxPairs:
				return nil, nil, fmt.Errorf("eval: pairs file %s: more than %d pairs", path, MaxPairs)
			default:
				pairs = append(pairs, csvPair{str(fields[0]), str(fields[1]), fields[2][0] == '1', line, cohort})
			}
		}
		if eof {
			break
		}
	}
	if dropped > 0 {
		errs = append(errs, fmt.Sprintf("and %d more malformed lines", dropped))
	}
	return pairs, errs, nil
}

// splitCSV splits one CSV line (RFC 4180, without embedded newlines) into
// buf: enough to tell a 3-field row from a bad one without allocating.
// Quoted fields go through encoding/csv.
func splitCSV(line []byte, buf *[5][]byte) ([][]byte, error) {
	if bytes.IndexByte(line, '"') >= 0 {
		r := csv.NewReader(bytes.NewReader(line))
		r.FieldsPerRecord = -1
		rec, err := r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, err
		}
		out := make([][]byte, len(rec))
		for i, f := range rec {
			out[i] = []byte(f)
		}
		return out, nil
	}
	n := 0
	for n < len(buf) {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			buf[n] = line
			n++
			break
		}
		buf[n] = line[:i]
		n++
		line = line[i+1:]
	}
	if n == len(buf) { // more fields than a row has: count them cheaply
		return make([][]byte, n+bytes.Count(line, []byte{','})), nil
	}
	return buf[:n:n], nil
}

type outcome struct {
	desc facerec.Descriptor
	vec  []float32 // instead of desc, from a VectorDescriber (vector.go)
	err  error
}

// Run evaluates the pairs of cfg with d.
func Run(ctx context.Context, d Describer, cfg Config) (*Report, error) {
	start := time.Now()
	if cfg.Root == "" {
		cfg.Root = filepath.Dir(cfg.PairsFile)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if len(cfg.Thresholds) == 0 {
		cfg.Thresholds = []float64{0.6}
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = []float64{1e-2, 1e-3}
	}
	if cfg.MaxImage == 0 {
		cfg.MaxImage = 20 << 20
	}
	var pairs []csvPair
	var lineErrs []string
	var err error
	if cfg.AllPairs != "" {
		cfg.Root = cfg.AllPairs
		cfg.PairsFile = cfg.AllPairs
		if pairs, err = allPairs(cfg.AllPairs); err != nil {
			return nil, err
		}
	} else if pairs, lineErrs, err = readPairs(cfg.PairsFile); err != nil {
		return nil, err
	}
	var paths []string
	seen := map[string]bool{}
	for _, p := range pairs {
		for _, x := range []string{p.a, p.b} {
			if !seen[x] {
				seen[x] = true
				paths = append(paths, x)
			}
		}
	}
	res, hits, err := describeAll(ctx, d, cfg, paths)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Name: strings.TrimSuffix(filepath.Base(cfg.PairsFile), filepath.Ext(cfg.PairsFile)), PairsFile: cfg.PairsFile,
		ModelID: d.ModelID(), Metric: metric(d), Selection: "face nearest the frame centre",
		Images: len(paths), LineErrors: lineErrs, Pairs: len(pairs), CacheHits: hits,
		FailedImages: []ImageError{},
	}
	for _, p := range paths {
		if err := res[p].err; err != nil {
			rep.FailedImages = append(rep.FailedImages, ImageError{p, err.Error()})
		}
	}
	rep.FTA = NewRate(len(rep.FailedImages), len(paths))
	var s Scores
	var labelled []Pair
	var scored []scoredPair
	for i, p := range pairs {
		ra, rb := res[p.a], res[p.b]
		if ra.err != nil || rb.err != nil {
			rep.PairsLost++
			continue
		}
		dist := distance(d, ra, rb)
		fold := 0
		if cfg.Folds > 1 {
			fold = i * cfg.Folds / len(pairs)
		}
		labelled = append(labelled, Pair{dist, p.same, fold})
		scored = append(scored, scoredPair{p.a, p.b, p.cohort, p.same, dist})
		if p.same {
			s.Genuine = append(s.Genuine, dist)
		} else {
			s.Impostor = append(s.Impostor, dist)
		}
	}
	rep.GenuinePairs, rep.ImpostorPairs = len(s.Genuine), len(s.Impostor)
	for _, t := range cfg.Thresholds {
		rep.AtThresholds = append(rep.AtThresholds, AtThreshold{t, s.FMR(t), s.FNMR(t)})
	}
	for _, target := range cfg.Targets {
		op, err := s.AtFMR(target)
		if err != nil {
			rep.Unsupported = append(rep.Unsupported, err.Error())
			continue
		}
		rep.AtFMR = append(rep.AtFMR, op)
	}
	rep.Cohorts = cohorts(scored, cfg.Thresholds[0])
	rep.EER, rep.EERThreshold = s.EER()
	rep.AUC = s.AUC()
	if cfg.AllPairs == "" { // accuracy means little at hundreds of impostors per genuine pair
		rep.BestAccuracy, rep.BestThreshold = BestAccuracy(labelled)
	}
	if cfg.Folds > 1 && cfg.AllPairs == "" {
		rep.FoldAccuracy = KFold(labelled, cfg.Folds)
		rep.FoldMean, rep.FoldStd = MeanStd(rep.FoldAccuracy)
	}
	rep.Genuine, rep.Impostor = s.Genuine, s.Impostor
	sort.Float64s(rep.Genuine)
	sort.Float64s(rep.Impostor)
	rep.WallSeconds = math.Round(time.Since(start).Seconds()*100) / 100
	return rep, nil
}

// describeAll analyses every image once, in parallel, through the cache.
func describeAll(ctx context.Context, d Describer, cfg Config, paths []string) (map[string]outcome, int, error) {
	var root *safefile.Dir
	if !cfg.AllowOutside {
		var err error
		if root, err = safefile.OpenDir(cfg.Root); err != nil {
			return nil, 0, fmt.Errorf("eval: image root: %w", err)
		}
		defer root.Close()
	}
	out := make(map[string]outcome, len(paths))
	var mu sync.Mutex
	var hits atomic.Int64
	work := make(chan string)
	var wg sync.WaitGroup
	prog := progress.New(cfg.Progress, cfg.TTY, int64(len(paths)), progress.Options{Description: "eval", Unit: "images", Every: 100})
	for range cfg.Workers {
		wg.Go(func() {
			for p := range work {
				o, hit := describeOne(ctx, d, cfg, root, p)
				if hit {
					hits.Add(1)
				}
				mu.Lock()
				out[p] = o
				mu.Unlock()
				if o.err != nil {
					prog.Println(fmt.Sprintf("eval: no face or unreadable: %s: %v", p, o.err))
				}
				prog.Add(1)
			}
		})
	}
	for _, p := range paths {
		select {
		case work <- p:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	prog.Done()
	return out, int(hits.Load()), ctx.Err()
}

func describeOne(ctx context.Context, d Describer, cfg Config, root *safefile.Dir, rel string) (outcome, bool) {
	var f *os.File
	var err error
	switch {
	case root != nil:
		f, err = root.Open(rel)
	case filepath.IsAbs(rel):
		f, err = safefile.Open(rel)
	default:
		f, err = safefile.Open(filepath.Join(cfg.Root, rel))
	}
	if err != nil {
		return outcome{err: err}, false
	}
	data, err := safefile.ReadAll(f, rel, cfg.MaxImage)
	f.Close()
	if err != nil {
		return outcome{err: err}, false
	}
	var cachePath string
	if cfg.CacheDir != "" {
		sum := sha256.Sum256(data)
		cachePath = filepath.Join(cfg.CacheDir, d.ModelID(), hex.EncodeToString(sum[:]))
		if o, ok := readCache(cachePath); ok {
			return o, true
		}
	}
	o := describe(ctx, d, data)
	if cachePath != "" && (err == nil || errors.Is(err, facerec.ErrNoFace) || errors.Is(err, facerec.ErrCorruptImage) || errors.Is(err, facerec.ErrUnsupportedFormat)) {
		writeCache(cachePath, o)
	}
	return o, false
}

// Cache entries: "ok" + 128 float32 LE, or "er" + the error text.
func readCache(path string) (outcome, bool) {
	b, err := safefile.ReadFile(path, 64<<10)
	if err != nil || len(b) < 2 {
		return outcome{}, false
	}
	switch string(b[:2]) {
	case "ok":
		return decodeCached(b[2:])
	case "er":
		return outcome{err: errors.New(string(b[2:]))}, true
	}
	return outcome{}, false
}

func writeCache(path string, o outcome) {
	var b bytes.Buffer
	if o.err != nil {
		b.WriteString("er" + o.err.Error())
	} else {
		b.WriteString("ok")
		for _, v := range o.vector() {
			binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
		}
	}
	if os.MkdirAll(filepath.Dir(path), 0o700) == nil {
		tmp := path + ".tmp"
		if os.WriteFile(tmp, b.Bytes(), 0o600) == nil {
			os.Rename(tmp, path)
		}
	}
}

// DescribeFiles analyses files (paths relative to root) in parallel and
// returns each one's descriptor or error.
func DescribeFiles(ctx context.Context, d Describer, root string, rels []string, workers int) (map[string]facerec.Descriptor, map[string]error, error) {
	if workers <= 0 {
		workers = 4
	}
	res, _, err := describeAll(ctx, d, Config{Root: root, Workers: workers, MaxImage: 20 << 20}, rels)
	if err != nil {
		return nil, nil, err
	}
	descs, errs := map[string]facerec.Descriptor{}, map[string]error{}
	for p, o := range res {
		if o.err != nil {
			errs[p] = o.err
		} else {
			descs[p] = o.desc
		}
	}
	return descs, errs, nil
}
