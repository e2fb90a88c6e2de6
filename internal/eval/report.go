package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// LoadReport reads a report.json written by [WriteReport].
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("eval: %s: %v", path, err)
	}
	return &r, nil
}

// WriteReport writes report.json, report.md and the plots (det.png,
// det.svg, hist.png, hist.svg) into dir. With compare, the plots and the
// summary overlay the two reports. A metric the data leave undefined
// (NaN, such as the EER when one class has no scored pair) is null in
// report.json and "n/a" in report.md; the texts are built before anything
// is written.
func WriteReport(dir string, r, compare *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	md := Markdown(r, compare)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	reports := []*Report{r}
	if compare != nil {
		reports = append(reports, compare)
	}
	for _, ext := range []string{"png", "svg"} {
		if err := detPlot(reports, filepath.Join(dir, "det."+ext)); err != nil {
			return err
		}
		if err := histPlot(reports, filepath.Join(dir, "hist."+ext)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644)
}

// MarshalJSON writes the report as encoding/json would, except that a
// float64 that is not finite (an undefined metric) is null.
func (r Report) MarshalJSON() ([]byte, error) { return marshalFinite(reflect.ValueOf(r)) }

// UnmarshalJSON reads a report written by MarshalJSON; null floats read
// as NaN.
func (r *Report) UnmarshalJSON(b []byte) error { return unmarshalFinite(b, reflect.ValueOf(r).Elem()) }

// MarshalJSON writes null for an undefined rate (no trials).
func (r Rate) MarshalJSON() ([]byte, error) { return marshalFinite(reflect.ValueOf(r)) }

// UnmarshalJSON reads null as NaN.
func (r *Rate) UnmarshalJSON(b []byte) error { return unmarshalFinite(b, reflect.ValueOf(r).Elem()) }

// MarshalJSON writes null for an undefined value.
func (o Operating) MarshalJSON() ([]byte, error) { return marshalFinite(reflect.ValueOf(o)) }

// UnmarshalJSON reads null as NaN.
func (o *Operating) UnmarshalJSON(b []byte) error {
	return unmarshalFinite(b, reflect.ValueOf(o).Elem())
}

// jsonName is a struct field's JSON name ("" to skip) and omitempty.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
}

// marshalFinite encodes structs, slices and float64s itself, in field
// order with the fields' JSON names, writing null for NaN and ±Inf; any
// other value is left to encoding/json. It covers the report types'
// shapes (no maps, pointers or embedded structs).
func marshalFinite(v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return []byte("null"), nil
		}
		return json.Marshal(v.Float())
	case reflect.Slice:
		if v.IsNil() {
			return []byte("null"), nil
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			e, err := marshalFinite(v.Index(i))
			if err != nil {
				return nil, err
			}
			b.Write(e)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	case reflect.Struct:
		var b bytes.Buffer
		b.WriteByte('{')
		for i := range v.NumField() {
			name, omitempty := jsonName(v.Type().Field(i))
			if name == "" || (omitempty && v.Field(i).IsZero()) || (omitempty && v.Field(i).Kind() == reflect.Slice && v.Field(i).Len() == 0) {
				continue
			}
			e, err := marshalFinite(v.Field(i))
			if err != nil {
				return nil, err
			}
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(name)
			b.Write(k)
			b.WriteByte(':')
			b.Write(e)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	return json.Marshal(v.Interface())
}

// unmarshalFinite is marshalFinite's inverse: null reads as NaN for a
// float64 and as nil for a slice; unknown keys are ignored.
func unmarshalFinite(data []byte, v reflect.Value) error {
	null := bytes.Equal(bytes.TrimSpace(data), []byte("null"))
	switch v.Kind() {
	case reflect.Float64:
		if null {
			v.SetFloat(math.NaN())
			return nil
		}
		var f float64
		if err := json.Unmarshal(data, &f); err != nil {
			return err
		}
		v.SetFloat(f)
		return nil
	case reflect.Slice:
		if null {
			v.SetZero()
			return nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return err
		}
		s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
		for i, e := range elems {
			if err := unmarshalFinite(e, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Struct:
		if null {
			return nil
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			return err
		}
		for i := range v.NumField() {
			name, _ := jsonName(v.Type().Field(i))
			if raw, ok := fields[name]; ok && name != "" {
				if err := unmarshalFinite(raw, v.Field(i)); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
		}
		return nil
	}
	return json.Unmarshal(data, v.Addr().Interface())
}

// Summary is the short text report printed by the CLI.
func Summary(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d pairs (%d genuine, %d impostor scored; %d lost to failures to acquire), model %s\n",
		r.Name, r.Pairs, r.GenuinePairs, r.ImpostorPairs, r.PairsLost, r.ModelID)
	fmt.Fprintf(&b, "  failure to acquire  %s\n", r.FTA)
	for _, a := range r.AtThresholds {
		fmt.Fprintf(&b, "  at distance < %.3f  FMR %s, FNMR %s\n", a.Threshold, a.FMR, a.FNMR)
	}
	for _, o := range r.AtFMR {
		fmt.Fprintf(&b, "  FNMR at FMR %g      %s (threshold %.4f; measured FMR %s)\n", o.TargetFMR, o.FNMR, o.Threshold, o.FMR)
	}
	for _, u := range r.Unsupported {
		fmt.Fprintf(&b, "  not claimed: %s\n", strings.TrimPrefix(u, "eval: "))
	}
	if defined(r.EER) {
		fmt.Fprintf(&b, "  EER %.2f%% (at %.4f)", 100*r.EER, r.EERThreshold)
	} else {
		b.WriteString("  EER n/a")
	}
	fmt.Fprintf(&b, ", ROC AUC %s", orNA("%.4f", r.AUC))
	if r.BestThreshold != 0 {
		fmt.Fprintf(&b, ", best-threshold accuracy %s (at %s)", orNA("%.2f%%", 100*r.BestAccuracy), orNA("%.4f", r.BestThreshold))
	}
	if !defined(r.EER) {
		b.WriteString(" (undefined without both genuine and impostor comparisons)")
	}
	b.WriteString("\n")
	if len(r.FoldAccuracy) > 0 {
		fmt.Fprintf(&b, "  %d-fold accuracy %s ± %s\n", len(r.FoldAccuracy), orNA("%.2f%%", 100*r.FoldMean), orNA("%.2f%%", 100*r.FoldStd))
	}
	b.WriteString(cohortSummary(r.Cohorts))
	if len(r.LineErrors) > 0 {
		fmt.Fprintf(&b, "  %d CSV lines skipped (first: %s)\n", len(r.LineErrors), r.LineErrors[0])
	}
	fmt.Fprintf(&b, "  %d images, %d from cache, %.1f s\n", r.Images, r.CacheHits, r.WallSeconds)
	return b.String()
}

// defined reports whether a metric has a value (is finite).
func defined(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// orNA formats a defined value, and "n/a" for an undefined one.
func orNA(format string, f float64) string {
	if !defined(f) {
		return "n/a"
	}
	return fmt.Sprintf(format, f)
}

// Markdown is report.md.
func Markdown(r, compare *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evaluation: %s\n\n", r.Name)
	fmt.Fprintf(&b, "Pairs file `%s`, model `%s`, metric %s, subject selection: %s.\n\n", r.PairsFile, r.ModelID, r.Metric, r.Selection)
	b.WriteString("Rates follow ISO/IEC 19795-1; each comes with its count and a 95 % confidence interval (exact binomial; rule of three when there is no error). ")
	b.WriteString("A false-match rate is only claimed when the impostor count supports it (n ≥ 3/FMR).\n\n")
	b.WriteString("```\n" + Summary(r))
	if compare != nil {
		b.WriteString("\n" + Summary(compare))
	}
	b.WriteString("```\n\n![DET curve](det.png)\n\n![Distance histograms](hist.png)\n")
	if len(r.FailedImages) > 0 {
		b.WriteString("\n## Failures to acquire\n\n")
		for _, f := range r.FailedImages {
			fmt.Fprintf(&b, "- `%s`: %s\n", f.Path, f.Error)
		}
	}
	if len(r.LineErrors) > 0 {
		b.WriteString("\n## Skipped CSV lines\n\n")
		for _, l := range r.LineErrors {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

var palette = []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}}

// detCurve samples (FMR, FNMR) at every distinct distance, flooring zero
// rates at half a count so a log scale can show them.
func detCurve(r *Report) plotter.XYs {
	gen, imp := slices.Clone(r.Genuine), slices.Clone(r.Impostor)
	sort.Float64s(gen)
	sort.Float64s(imp)
	if len(gen) == 0 || len(imp) == 0 {
		return nil
	}
	// Thresholds: every genuine distance (where FNMR steps) and impostor
	// distances at geometrically spaced ranks (where FMR steps), so that
	// the curve keeps its shape on a log scale with a few thousand points.
	ts := slices.Clone(gen)
	for k := 0; k < len(imp); k = max(k+1, int(float64(k)*1.02)) {
		ts = append(ts, imp[k])
	}
	ts = append(ts, imp[len(imp)-1], math.Nextafter(imp[len(imp)-1], math.Inf(1)))
	ts = slices.Compact(slices.Sorted(slices.Values(ts)))
	var pts plotter.XYs
	for _, t := range ts {
		fmr := math.Max(float64(countBelow(imp, t)), 0.5) / float64(len(imp))
		fnmr := math.Max(float64(len(gen)-countBelow(gen, t)), 0.5) / float64(len(gen))
		pts = append(pts, plotter.XY{X: fmr, Y: fnmr})
	}
	return pts
}

func detPlot(reports []*Report, path string) error {
	p := plot.New()
	p.Title.Text = "DET: false non-match vs false match (log scales)"
	p.X.Label.Text = "false-match rate (FMR)"
	p.Y.Label.Text = "false-non-match rate (FNMR)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	drawn := false
	for i, r := range reports {
		pts := detCurve(r)
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
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%d gen / %d imp)", r.Name, len(r.Genuine), len(r.Impostor)), l)
		for _, o := range r.AtFMR {
			if o.FMR.Trials == 0 || o.FNMR.Trials == 0 {
				continue
			}
			s, err := plotter.NewScatter(plotter.XYs{{X: math.Max(o.FMR.Value, 0.5/float64(o.FMR.Trials)), Y: math.Max(o.FNMR.Value, 0.5/float64(o.FNMR.Trials))}})
			if err != nil {
				return err
			}
			s.Color = palette[i%len(palette)]
			s.Radius = vg.Points(3)
			p.Add(s)
		}
	}
	if !drawn {
		// A log axis needs a positive range even with nothing on it.
		p.Title.Text += " — undefined: no genuine or no impostor comparison"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 1e-4, 1, 1e-4, 1
	}
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 5*vg.Inch, path)
}

func histPlot(reports []*Report, path string) error {
	p := plot.New()
	p.Title.Text = "Distances: genuine (same person) vs impostor"
	p.X.Label.Text = "Euclidean distance"
	p.Y.Label.Text = "density"
	p.Legend.Top = true
	ymax := 0.0
	for i, r := range reports {
		for k, vals := range [][]float64{r.Genuine, r.Impostor} {
			if len(vals) == 0 {
				continue
			}
			h, err := plotter.NewHist(plotter.Values(vals), 40)
			if err != nil {
				return err
			}
			h.Normalize(1)
			c := palette[(2*i+k)%len(palette)]
			h.LineStyle.Color = c
			h.FillColor = color.NRGBA{c.R, c.G, c.B, 110}
			for _, b := range h.Bins {
				ymax = math.Max(ymax, b.Weight)
			}
			p.Add(h)
			p.Legend.Add(fmt.Sprintf("%s %s (%d)", r.Name, []string{"genuine", "impostor"}[k], len(vals)), h)
		}
	}
	r := reports[0]
	marks := []struct {
		t    float64
		name string
	}{}
	for _, a := range r.AtThresholds {
		marks = append(marks, struct {
			t    float64
			name string
		}{a.Threshold, fmt.Sprintf("%.2f", a.Threshold)})
	}
	for _, o := range r.AtFMR {
		marks = append(marks, struct {
			t    float64
			name string
		}{o.Threshold, fmt.Sprintf("FMR %g: %.3f", o.TargetFMR, o.Threshold)})
	}
	for j, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: m.t, Y: 0}, {X: m.t, Y: ymax}})
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = color.RGBA{0, 0, 0, uint8(255 - 60*j%200)}
		p.Add(l)
		p.Legend.Add("threshold "+m.name, l)
	}
	return p.Save(7*vg.Inch, 5*vg.Inch, path)
}
