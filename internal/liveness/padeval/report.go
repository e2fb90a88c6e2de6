package padeval

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteReport writes report.json, report.md and the DET plot (det.png,
// det.svg) into dir. A metric the data leave undefined (NaN, such as the
// EER without attack images) is null in report.json.
func WriteReport(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	for _, ext := range []string{"png", "svg"} {
		if err := detPlot(r, filepath.Join(dir, "det."+ext)); err != nil {
			return err
		}
	}
	md := fmt.Sprintf("# Presentation-attack detection: %s\n\nISO/IEC 30107-3 rates; each with its count and a 95 %% Clopper-Pearson interval (rule of three at zero errors).\n\n```\n%s```\n\n![DET](det.png)\n", r.Labels, Summary(r))
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644)
}

// num is a float64 that is written as null when it is not finite (an
// undefined metric): encoding/json refuses NaN.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if f := float64(n); math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// MarshalJSON writes an undefined threshold as null. (The outer field
// hides the embedded one of the same JSON name.)
func (o Operating) MarshalJSON() ([]byte, error) {
	type plain Operating
	return json.Marshal(struct {
		Threshold num `json:"threshold"`
		plain
	}{num(o.Threshold), plain(o)})
}

// MarshalJSON writes undefined thresholds as null.
func (c CV) MarshalJSON() ([]byte, error) {
	type plain CV
	return json.Marshal(struct {
		ThresholdMin num `json:"threshold_min"`
		ThresholdMax num `json:"threshold_max"`
		plain
	}{num(c.ThresholdMin), num(c.ThresholdMax), plain(c)})
}

// MarshalJSON writes an undefined EER as null.
func (s Scorer) MarshalJSON() ([]byte, error) {
	type plain Scorer
	return json.Marshal(struct {
		EER num `json:"eer"`
		plain
	}{num(s.EER), plain(s)})
}

var palette = []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}, {255, 127, 14, 255}, {140, 86, 75, 255}, {23, 190, 207, 255}, {127, 127, 127, 255}}

// detCurve samples (worst-type APCER, BPCER) at every distinct score,
// flooring zero rates at half a count so a log scale can show them.
func detCurve(s Scores) plotter.XYs {
	ts := slices.Clone(s.Live)
	for _, vs := range s.Attack {
		ts = append(ts, vs...)
	}
	ts = append(ts, math.Inf(1))
	slices.Sort(ts)
	var pts plotter.XYs
	for _, t := range slices.Compact(ts) {
		o := s.At(t)
		_, a := o.WorstAPCER()
		if a.Trials == 0 || o.BPCER.Trials == 0 {
			return nil
		}
		pts = append(pts, plotter.XY{
			X: math.Max(float64(a.Errors), 0.5) / float64(a.Trials),
			Y: math.Max(float64(o.BPCER.Errors), 0.5) / float64(o.BPCER.Trials),
		})
	}
	return pts
}

func detPlot(r *Report, path string) error {
	p := plot.New()
	p.Title.Text = "DET: BPCER vs APCER (worst attack type), log scales"
	p.X.Label.Text = "APCER (attacks accepted)"
	p.Y.Label.Text = "BPCER (bona fide refused)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	drawn := false
	for i, s := range r.Scorers {
		pts := detCurve(s.Scores)
		if len(pts) == 0 {
			continue
		}
		drawn = true
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		if i >= len(palette) {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	if !drawn {
		// No curve (a class without scores): an empty plot, not a log
		// axis over no data (gonum panics on that).
		p.Title.Text += ": no curve (bona fide or attack scores missing)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 1e-3, 1, 1e-3, 1
	}
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 5*vg.Inch, path)
}
