//go:build cgo && linux

package embed

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// BenchmarkStages times, side by side in one run, the three stages of one
// face on one core: the engine's analysis (HOG detection, the 2× retry when
// the face is small, 68 landmarks; go-face also computes dlib's descriptor
// in the same call and it cannot be switched off), the alignment (five
// points, similarity, warp) and the embedding (tensor, OpenCV dnn, L2
// normalisation). It reports ms per face for each and the ratios; nothing
// is asserted. Wall time depends on what else the machine runs, so it also
// reports the CPU time of the benchmark's OS thread (the goroutine is
// locked to it, and dlib, OpenBLAS and OpenCV are set to one thread, so
// the whole face is computed on it). Run on one core:
//
//	go test -run '^$' -bench Stages -cpu 1 -benchtime 20x ./internal/embed
func BenchmarkStages(b *testing.B) {
	eng, err := facerec.Open(testenv.ModelDir(), facerec.Options{PoolSize: 1, BLASThreads: 1})
	if err != nil {
		testenv.Missing(b, "dlib engine", err)
	}
	defer eng.Close()
	emb, err := Open(testenv.ModelDir(), Options{PoolSize: 1})
	if err != nil {
		testenv.Missing(b, "ArcFace embedder", err)
	}
	defer emb.Close()
	files := []string{
		"lfw-dev/lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg",
		"lfw-dev/lfw/Amber_Tamblyn/Amber_Tamblyn_0001.jpg",
		"spoof-dev/ClientRaw/0001/0001_00_00_01_0.jpg",
		"spoof-dev/ClientRaw/0004/0004_01_00_02_0.jpg",
	}
	var imgs []image.Image
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(testenv.FacesDir(), f))
		if err != nil {
			testenv.Missing(b, f, err)
		}
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var tDet, tAlign, tEmb, cDet, cAlign, cEmb time.Duration
	faces := 0
	b.ResetTimer()
	for b.Loop() {
		for _, img := range imgs {
			c0 := threadCPU(b)
			t0 := time.Now()
			a, err := eng.Analyze(ctx, facerec.Image(img))
			if err != nil {
				b.Fatal(err)
			}
			f, err := a.Central()
			if err != nil {
				b.Fatal(err)
			}
			t1, c1 := time.Now(), threadCPU(b)
			crop, err := Align(img, f.Landmarks)
			if err != nil {
				b.Fatal(err)
			}
			t2, c2 := time.Now(), threadCPU(b)
			if _, err := emb.EmbedAligned(ctx, crop); err != nil {
				b.Fatal(err)
			}
			t3, c3 := time.Now(), threadCPU(b)
			cDet += c1 - c0
			cAlign += c2 - c1
			cEmb += c3 - c2
			tDet += t1.Sub(t0)
			tAlign += t2.Sub(t1)
			tEmb += t3.Sub(t2)
			faces++
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(faces) }
	b.ReportMetric(ms(tDet), "analyse-ms/face")
	b.ReportMetric(ms(tAlign), "align-ms/face")
	b.ReportMetric(ms(tEmb), "embed-ms/face")
	b.ReportMetric(float64(tEmb)/float64(tDet), "embed/analyse")
	b.ReportMetric(float64(tAlign)/float64(tEmb), "align/embed")
	b.ReportMetric(ms(cDet), "analyse-cpu-ms/face")
	b.ReportMetric(ms(cAlign), "align-cpu-ms/face")
	b.ReportMetric(ms(cEmb), "embed-cpu-ms/face")
}

// threadCPU is the user + system CPU time of the calling OS thread
// (Linux RUSAGE_THREAD).
func threadCPU(b *testing.B) time.Duration {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
