//go:build cgo

package facerec

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkPoolRatio measures, side by side in one run, the throughput of a
// pool of 1 recognizer (OpenBLAS on 2 threads) and of a pool of 2 (OpenBLAS
// on 1 thread each), on the same 24 dev images fed by 4 goroutines, and
// reports both rates and their ratio. Wall-clock numbers are reported, never
// asserted.
func BenchmarkPoolRatio(b *testing.B) {
	var imgs [][]byte
	for _, p := range loadPairs(b, "pairs-deepfunneled.csv")[:12] {
		imgs = append(imgs, readFace(b, p.a), readFace(b, p.b))
	}
	open := func(n int) *Engine {
		e, err := Open(modelDir(), Options{PoolSize: n, BLASThreads: -1})
		if err != nil {
			missing(b, "dlib engine", err)
		}
		b.Cleanup(func() { e.Close() })
		return e
	}
	pool1, pool2 := open(1), open(2)
	run := func(e *Engine, blasThreads int) time.Duration {
		setBLASThreads(blasThreads)
		work := make(chan []byte)
		var wg sync.WaitGroup
		start := time.Now()
		for range 4 {
			wg.Go(func() {
				for img := range work {
					if _, err := e.Analyze(context.Background(), Bytes(img)); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, img := range imgs {
			work <- img
		}
		close(work)
		wg.Wait()
		return time.Since(start)
	}
	run(pool1, 2) // warm up both
	run(pool2, 1)
	b.ResetTimer()
	var t1, t2 time.Duration
	for range b.N {
		t1 += run(pool1, 2)
		t2 += run(pool2, 1)
	}
	n := float64(b.N * len(imgs))
	b.ReportMetric(n/t1.Seconds(), "pool1_img/s")
	b.ReportMetric(n/t2.Seconds(), "pool2_img/s")
	b.ReportMetric(t1.Seconds()/t2.Seconds(), "ratio_2/1")
}
