package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/progress"
)

// floats is a repeatable or comma-separated float flag.
type floats []float64

func (f *floats) String() string { return fmt.Sprint(*f) }
func (f *floats) Set(s string) error {
	var l list
	l.Set(s)
	for _, x := range l {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return err
		}
		*f = append(*f, v)
	}
	return nil
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("eval", stderr)
	pairs := fs.String("pairs", "", "CSV of pairs: a,b,same[,cohort] (paths relative to the CSV, or to -root; with cohorts, per-cohort rates at the first -threshold)")
	all := fs.String("all-pairs", "", "instead of -pairs: compare every pair of images in DIR/<person>/ (genuine within a folder, impostor across)")
	root := fs.String("root", "", "folder the CSV's paths are relative to (default: the CSV's folder); rows cannot leave it")
	outside := fs.Bool("allow-outside", false, "let CSV rows name files outside -root (absolute paths, .., links leading out)")
	folds := fs.Int("folds", 0, "also run the k-fold protocol (LFW: 10)")
	out := fs.String("out", "", "write report.md, report.json and plots (DET, histograms) to this folder")
	compare := fs.String("compare", "", "overlay another run's report.json")
	cache := fs.String("cache", ".cache/descriptors", "descriptor cache folder (\"\" to disable)")
	workers := fs.Int("workers", 4, "parallel analyses")
	model := fs.String("model", "dlib", "model: dlib (Euclidean distance) or arcface (cosine distance)")
	var thresholds, targets floats
	fs.Var(&thresholds, "threshold", "report FMR/FNMR at this distance (repeatable; default 0.6)")
	fs.Var(&targets, "fmr", "report FNMR at this target FMR (repeatable; default 0.01,0.001)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*pairs == "") == (*all == "") || fs.NArg() != 0 {
		return usageError{"eval needs -pairs FILE.csv or -all-pairs DIR"}
	}
	if *model != "dlib" && *model != "arcface" { // before anything is loaded (evalDescriber says the same)
		return usageError{"unknown -model " + *model + " (dlib, arcface)"}
	}
	var cmp *eval.Report
	if *compare != "" {
		var err error
		if cmp, err = eval.LoadReport(*compare); err != nil {
			return err
		}
	}
	e, err := facerec.Open(*dir, facerec.Options{})
	if err != nil {
		return engineError(*dir, err)
	}
	defer e.Close()
	cfg := eval.Config{PairsFile: *pairs, AllPairs: *all, Root: *root, Folds: *folds, Workers: *workers, CacheDir: *cache,
		Thresholds: thresholds, Targets: targets, Progress: stderr, TTY: progress.IsTerminal(stderr), AllowOutside: *outside}
	d, err := evalDescriber(*model, *dir, e)
	if err != nil {
		return err
	}
	rep, err := eval.Run(context.Background(), d, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, eval.Summary(rep))
	if cmp != nil {
		fmt.Fprint(stdout, eval.Summary(cmp))
	}
	if *out != "" {
		if err := eval.WriteReport(*out, rep, cmp); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s/report.md (plots det.png/.svg, hist.png/.svg; data report.json)\n", *out)
	}
	return nil
}
