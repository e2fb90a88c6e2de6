//go:build cgo

package eval

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// TestDevPairs runs the whole evaluation on both dev variants with the
// real engine and checks the numbers the product depends on.
func TestDevPairs(t *testing.T) {
	if testing.Short() {
		t.Skip("all 1,614 dev images")
	}
	lfw := testenv.LFWDir(t)
	e, err := facerec.Open(testenv.ModelDir(), facerec.Options{})
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	defer e.Close()
	cache := t.TempDir()
	for _, file := range []string{"pairs.csv", "pairs-deepfunneled.csv"} {
		rep, err := Run(context.Background(), EngineDescriber{e}, Config{PairsFile: filepath.Join(lfw, file), Folds: 10, CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + Summary(rep))
		if rep.Pairs != 600 || rep.FTA.Errors > 5 || rep.AUC < 0.995 || rep.FoldMean < 0.97 || rep.EER > 0.03 {
			t.Errorf("%s: pairs %d, FTA %d, AUC %.4f, 10-fold %.4f, EER %.4f", file, rep.Pairs, rep.FTA.Errors, rep.AUC, rep.FoldMean, rep.EER)
		}
		if len(rep.AtFMR) != 0 && rep.ImpostorPairs < 3000 {
			t.Errorf("%s: claimed an FMR that %d impostor pairs cannot support", file, rep.ImpostorPairs)
		}
	}
}
