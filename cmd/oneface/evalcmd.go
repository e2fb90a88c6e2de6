package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/oneface/oneface/internal/calib"
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

// defaultEvalFMR is the target FMR of eval's default threshold: verify's
// default -fmr.
const defaultEvalFMR = 1e-3

func runEval(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("eval", stderr)
	pairs := fs.String("pairs", "", "CSV of pairs: a,b,same[,cohort] (paths relative to the CSV, or to -root; with cohorts, per-cohort rates at the first -threshold)")
	all := fs.String("all-pairs", "", "instead of -pairs: compare every pair of images in DIR/<person>/ (genuine within a folder, impostor across)")
	root := fs.String("root", "", "folder the CSV's paths are relative to (default: the CSV's folder); rows cannot leave it")
	outside := fs.Bool("allow-outside", false, "let CSV rows name files outside -root (absolute paths, .., links leading out)")
	folds := fs.Int("folds", 0, "also run the k-fold protocol (LFW: 10)")
	out := fs.String("out", "", "write report.md, report.json and plots (DET, histograms) to this folder")
	compare := fs.String("compare", "", "overlay another run's report.json")
	cache := fs.String("cache", "", "keep every face's descriptor or embedding in this folder (by model ID and image hash) to rerun faster; off by default: they are BIOMETRIC DATA (templates of every person in the set), so protect the folder as the photos and delete it when done")
	workers := fs.Int("workers", 4, "parallel analyses")
	model := fs.String("model", "arcface", "model: arcface (cosine distance of the ArcFace-class embedding, the default as in enroll and verify) or dlib (Euclidean distance of dlib's descriptor)")
	var thresholds, targets floats
	fs.Var(&thresholds, "threshold", "report FMR/FNMR at this distance (repeatable; default: the model's shipped threshold for a one-photo reference at FMR 1e-3, the verifier's default, from internal/calib)")
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
	if len(thresholds) == 0 {
		p, err := calib.Lookup(d.ModelID(), 1, defaultEvalFMR)
		if err != nil {
			return fmt.Errorf("no shipped threshold for model %s (%w): give -threshold", d.ModelID(), err)
		}
		cfg.Thresholds = []float64{p.Threshold}
		fmt.Fprintf(stdout, "threshold %.4f: the shipped threshold of model %s (%s) for a one-photo reference at FMR %g (internal/calib; -threshold to choose)\n", p.Threshold, *model, d.ModelID(), p.TargetFMR)
	}
	if *cache != "" {
		fmt.Fprintf(stderr, "oneface: caching descriptors in %s: biometric data; delete it when done\n", *cache)
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
