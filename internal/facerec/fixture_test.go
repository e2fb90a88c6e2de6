//go:build cgo

package facerec

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

// Real-engine fixtures; internal/testenv says where the models and faces
// are and what happens when they are missing.

func modelDir() string { return testenv.ModelDir() }

func missing(t testing.TB, what string, err error) { t.Helper(); testenv.Missing(t, what, err) }

var sharedEngine = sync.OnceValues(func() (*Engine, error) {
	return Open(modelDir(), Options{})
})

// engine returns the process-wide real engine (pool of 2), shared by the
// tests; it is never closed.
func engine(t testing.TB) *Engine {
	t.Helper()
	e, err := sharedEngine()
	if err != nil {
		missing(t, "dlib engine", err)
	}
	return e
}

func lfwDir(t testing.TB) string { t.Helper(); return testenv.LFWDir(t) }

func readFace(t testing.TB, rel string) []byte { t.Helper(); return testenv.ReadLFW(t, rel) }

type pair struct {
	a, b string
	same bool
}

func loadPairs(t testing.TB, name string) []pair {
	t.Helper()
	f, err := os.Open(filepath.Join(lfwDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ps []pair
	for _, r := range rows[1:] {
		ps = append(ps, pair{r[0], r[1], r[2] == "1"})
	}
	return ps
}

// analysed is one image's outcome under the evaluation rule (Central).
type analysed struct {
	desc   Descriptor
	err    error // ErrNoFace for a failure to acquire
	faces  int
	single error // what Single (the verifier's rule) says
}

// analyseAll runs every image through the engine with enough goroutines to
// keep the pool busy.
func analyseAll(t testing.TB, e *Engine, paths []string) map[string]analysed {
	t.Helper()
	out := make(map[string]analysed, len(paths))
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range 2 * max(e.PoolSize(), runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for p := range work {
				a, err := e.Analyze(context.Background(), Bytes(readFace(t, p)))
				if err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
				r := analysed{faces: len(a.Faces)}
				f, err := a.Central()
				r.desc, r.err = f.Descriptor, err
				_, r.single = a.Single()
				mu.Lock()
				out[p] = r
				mu.Unlock()
			}
		})
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
	return out
}

var lfwResults sync.Map // pairs file name → map[string]analysed

func lfwAnalysed(t testing.TB, pairsFile string) ([]pair, map[string]analysed) {
	t.Helper()
	e := engine(t)
	ps := loadPairs(t, pairsFile)
	if r, ok := lfwResults.Load(pairsFile); ok {
		return ps, r.(map[string]analysed)
	}
	seen := map[string]bool{}
	var paths []string
	for _, p := range ps {
		for _, x := range []string{p.a, p.b} {
			if !seen[x] {
				seen[x] = true
				paths = append(paths, x)
			}
		}
	}
	r := analyseAll(t, e, paths)
	lfwResults.Store(pairsFile, r)
	return ps, r
}

func variantName(pairsFile string) string {
	return strings.TrimSuffix(pairsFile, ".csv")
}
