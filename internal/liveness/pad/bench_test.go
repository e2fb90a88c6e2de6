package pad

import (
	"context"
	"testing"
	"time"

	"github.com/oneface/oneface/internal/facerec"
)

// BenchmarkPAD measures, side by side in one run on one spoof-dev frame
// (640×480), the crop + inference time of each network and of the face
// engine's analysis of the same frame, and reports each network's time in
// ms and as a ratio to the analysis. OpenCV runs single-threaded
// (internal/onnx); run with OPENBLAS_NUM_THREADS=1 GOMAXPROCS=1 for one
// core.
//
//	go test -run '^$' -bench BenchmarkPAD -benchtime 20x ./internal/liveness/pad
func BenchmarkPAD(b *testing.B) {
	d := detector(b)
	f := loadFace(b, "spoof-dev/ClientRaw/0001/0001_00_00_01_0.jpg", "live")
	e, _ := sharedEngine()
	ctx := context.Background()
	models := d.Models()
	spent := make([]time.Duration, len(models))
	var analyse time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := e.Analyze(ctx, facerec.Image(f.img)); err != nil {
			b.Fatal(err)
		}
		analyse += time.Since(t0)
		for i, m := range models {
			t0 := time.Now()
			crop, err := Crop(f.img, f.box, m, 1)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.Probabilities(ctx, m, crop); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(t0)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(analyse.Microseconds())/1000/n, "ms/analyse")
	for i, m := range models {
		b.ReportMetric(float64(spent[i].Microseconds())/1000/n, "ms/"+m.String())
		b.ReportMetric(float64(spent[i])/float64(analyse), "ratio/"+m.String())
	}
}
