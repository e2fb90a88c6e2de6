package audit

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkDurableAppends measures, side by side in one run, durable
// appends per second with one fsync per entry (no group commit, one
// writer) and with group commit (16 concurrent writers), and their ratio.
func BenchmarkDurableAppends(b *testing.B) {
	measure := func(opt Options, writers, perWriter int) float64 {
		l := newTestLog(b, opt)
		start := time.Now()
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for i := range perWriter {
					if _, err := l.Append(context.Background(), verifyEntry(i), personal(1, byte(i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return float64(writers*perWriter) / time.Since(start).Seconds()
	}
	var single, group float64
	for range b.N {
		single += measure(Options{NoGroupCommit: true}, 1, 200)
		group += measure(Options{}, 16, 100)
	}
	b.ReportMetric(single/float64(b.N), "single_appends/s")
	b.ReportMetric(group/float64(b.N), "group_appends/s")
	b.ReportMetric(group/single, "ratio_group/single")
}

// BenchmarkVerify100k measures VerifyDir over a 100,000-entry log.
func BenchmarkVerify100k(b *testing.B) {
	l := newTestLog(b, Options{})
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := range 100_000 / 64 {
				var p *Personal
				if i%2 == 0 {
					p = personal(byte(w), byte(i))
				}
				if _, err := l.Append(context.Background(), verifyEntry(i), p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for l.Size() < 100_000 {
		l.Append(context.Background(), verifyEntry(0), nil)
	}
	cp := l.Checkpoint()
	st, _ := os.Stat(filepath.Join(l.dir, entriesFile))
	b.ResetTimer()
	for range b.N {
		rep, err := VerifyDir(l.dir, cp, l.vkey)
		if err != nil || rep.Entries != 100_000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size())/1e6, "log_MB")
}

// BenchmarkWitnessingOverhead measures, side by side in one run, durable
// appends per second (group commit, 16 writers, personal parts) with no
// witness and with a directory witness cosigning every checkpoint in the
// background, and their ratio.
func BenchmarkWitnessingOverhead(b *testing.B) {
	measure := func(witnessed bool) float64 {
		var opt Options
		l := newTestLog(b, opt)
		if witnessed {
			l.Close()
			wsk, _ := genWitnessKey("witness-1.example")
			var err error
			l.Log, err = Open(l.dir, l.skey, Options{Witnesses: []Witness{newDirWitness(b.TempDir(), wsk, l.vkey)}})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
		}
		start := time.Now()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range 100 {
					if _, err := l.Append(context.Background(), verifyEntry(i), personal(1, byte(i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		rate := 1600 / time.Since(start).Seconds()
		if witnessed && l.Witnessed() == nil {
			b.Fatal("nothing was witnessed")
		}
		return rate
	}
	var off, on float64
	for range b.N {
		off += measure(false)
		on += measure(true)
	}
	b.ReportMetric(off/float64(b.N), "appends/s_no_witness")
	b.ReportMetric(on/float64(b.N), "appends/s_witnessed")
	b.ReportMetric(on/off, "ratio_witnessed/none")
}
