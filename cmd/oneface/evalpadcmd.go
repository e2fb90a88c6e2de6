package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/liveness/padeval"
	"github.com/oneface/oneface/internal/onnx"
)

// eval-pad registers itself here rather than in main.go's table, so that
// branches adding commands do not conflict on that table's alignment.
//
//	oneface eval-pad -labels FILE.csv [-pad-models DIR] [-widen K] [-bpcer B] [-transfer FILE.csv] [-out DIR]
func init() {
	commands["eval-pad"] = command{"measure presentation-attack detection (APCER per attack, BPCER) on labelled images", runEvalPAD}
}

// runEvalPAD is `oneface eval-pad`: ISO/IEC 30107-3 rates of the passive
// presentation-attack detectors on a labelled image set.
func runEvalPAD(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("eval-pad", stderr)
	labels := fs.String("labels", "", "CSV file,label[,attack] (label live|spoof); with a header, subject and session columns give session-disjoint cross-validation")
	root := fs.String("root", "", "folder the -labels CSV's paths are relative to (default: that CSV's folder; -transfer's paths are always relative to its own CSV's folder)")
	padDir := fs.String("pad-models", "", "folder of the PAD networks (default: <models>/antispoof)")
	nets := fs.String("nets", "MiniFASNetV2,MiniFASNetV1SE,fr_liveness", "networks to run, comma-separated")
	var widen floats
	fs.Var(&widen, "widen", "widen dlib's box by this factor before the networks' crop (repeatable or comma-separated; default 1)")
	bpcer := fs.Float64("bpcer", 0.05, "stated BPCER the threshold is chosen for")
	transfer := fs.String("transfer", "", "a second labels CSV (other cameras or sites; paths relative to its own folder, or absolute, not to -root): apply each threshold chosen on -labels to it unchanged")
	out := fs.String("out", "", "write report.md, report.json and the DET plot (det.png, det.svg) to this folder")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *labels == "" || fs.NArg() != 0 {
		return usageError{"eval-pad needs -labels FILE.csv"}
	}
	if !(*bpcer > 0 && *bpcer < 1) {
		return usageError{"-bpcer must be between 0 and 1"}
	}
	var models []pad.Model
	for _, n := range strings.Split(*nets, ",") {
		m, ok := padModel(strings.TrimSpace(n))
		if !ok {
			return usageError{fmt.Sprintf("unknown network %q (MiniFASNetV2, MiniFASNetV1SE, fr_liveness)", n)}
		}
		models = append(models, m)
	}
	if *padDir == "" {
		*padDir = filepath.Join(*dir, "antispoof")
	}
	e, err := facerec.Open(*dir, facerec.Options{PoolSize: 1})
	if err != nil {
		return engineError(*dir, err)
	}
	defer e.Close()
	d, err := pad.Open(*padDir, pad.Options{Models: models})
	if err != nil {
		return hintError{err, []string{
			"the PAD networks are the .onnx files of ../shared/models/antispoof (see its README); point -pad-models at that folder",
		}}
	}
	defer d.Close()
	rep, err := padeval.Run(context.Background(), e, d, padeval.Config{
		Labels: *labels, Root: *root, Widen: widen, TargetBPCER: *bpcer, Progress: stderr, Models: models, Transfer: *transfer,
	})
	if err != nil {
		return err
	}
	rep.OpenCV = onnx.OpenCVVersion()
	fmt.Fprint(stdout, padeval.Summary(rep))
	if *out != "" {
		if err := padeval.WriteReport(*out, rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s/report.md (DET plot det.png/.svg; data report.json)\n", *out)
	}
	return nil
}

func padModel(name string) (pad.Model, bool) {
	for _, m := range []pad.Model{pad.MiniFASNetV2, pad.MiniFASNetV1SE, pad.FRLiveness} {
		if strings.EqualFold(m.String(), name) {
			return m, true
		}
	}
	return 0, false
}
