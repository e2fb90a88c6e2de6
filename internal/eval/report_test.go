package eval

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestReportUndefinedMetrics: an evaluation in which one class has no
// scored pair (here: no genuine pair, because the only genuine pair lost
// an image to a failure to acquire; then no impostor pair) has undefined
// FNMR, EER and ROC AUC. The report says so — null in report.json, "n/a"
// in the summary and report.md — instead of failing with "json:
// unsupported value: NaN" and leaving an empty folder. It loads back for
// -compare with the undefined values still undefined.
func TestReportUndefinedMetrics(t *testing.T) {
	for _, c := range []struct {
		name  string
		pairs string
	}{
		{"no genuine pair", "a1.jpg,noface.jpg,1\na1.jpg,b1.jpg,0\na2.jpg,b1.jpg,0\n"},
		{"no impostor pair", "a1.jpg,a2.jpg,1\nb1.jpg,noface.jpg,0\n"},
		{"no scored pair", "a1.jpg,noface.jpg,1\nb1.jpg,noface.jpg,0\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				"a1.jpg": "alice:1", "a2.jpg": "alice:22", "b1.jpg": "bob:1", "noface.jpg": "a landscape",
				"pairs.csv": c.pairs,
			})
			rep, err := Run(context.Background(), &fakeDescriber{}, Config{PairsFile: filepath.Join(dir, "pairs.csv"), Workers: 1, Targets: []float64{0.5}})
			if err != nil {
				t.Fatal(err)
			}
			if !math.IsNaN(rep.EER) || !math.IsNaN(rep.AUC) {
				t.Fatalf("EER %v, AUC %v: the case does not exercise undefined metrics", rep.EER, rep.AUC)
			}
			out := filepath.Join(dir, "out")
			if err := WriteReport(out, rep, nil); err != nil {
				t.Fatalf("WriteReport: %v", err)
			}
			for _, f := range []string{"report.json", "report.md", "det.png", "det.svg", "hist.png", "hist.svg"} {
				if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"eer", "eer_threshold", "roc_auc"} {
				if v, ok := raw[k]; !ok || v != nil {
					t.Errorf("report.json %q = %v, want null", k, v)
				}
			}
			md, _ := os.ReadFile(filepath.Join(out, "report.md"))
			for _, s := range []string{string(md), Summary(rep)} {
				if strings.Contains(s, "NaN") || !strings.Contains(s, "EER n/a") {
					t.Errorf("text says NaN or not n/a:\n%s", s)
				}
			}
			back, err := LoadReport(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !math.IsNaN(back.EER) || !math.IsNaN(back.AUC) {
				t.Errorf("loaded back: EER %v, AUC %v", back.EER, back.AUC)
			}
			// A comparison with a report whose metrics are undefined writes too.
			if err := WriteReport(filepath.Join(dir, "cmp"), rep, back); err != nil {
				t.Fatalf("WriteReport with compare: %v", err)
			}
		})
	}
}

// TestReportEveryFloatUndefined sets every float64 of a report — its own
// fields and those of its rates — to NaN, +Inf or -Inf in turn: the JSON
// is written, with null for each, and reads back as NaN. Fields added to
// Report later are covered without editing this test.
func TestReportEveryFloatUndefined(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		r := &Report{
			FTA:          NewRate(0, 0),
			AtThresholds: []AtThreshold{{Threshold: 0.6, FMR: NewRate(0, 0), FNMR: NewRate(1, 2)}},
			AtFMR:        []Operating{{TargetFMR: 1e-3, Threshold: 0.5, FMR: NewRate(0, 3000), FNMR: NewRate(0, 0)}},
			FoldAccuracy: []float64{0.9, bad},
			Genuine:      []float64{0.3},
			Impostor:     []float64{0.9},
		}
		n := setFloats(reflect.ValueOf(r).Elem(), bad)
		if n < 10 {
			t.Fatalf("only %d float fields set", n)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%v: %v", bad, err)
		}
		if strings.Contains(string(b), "NaN") || strings.Contains(string(b), "Inf") {
			t.Fatalf("%v: %s", bad, b)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(back.EER) || !math.IsNaN(back.FTA.Value) || !math.IsNaN(back.AtFMR[0].FNMR.Hi) {
			t.Fatalf("%v did not read back as undefined: %+v", bad, back)
		}
	}
}

// setFloats sets every float64 reachable in v (structs, slices) to f and
// returns how many it set.
func setFloats(v reflect.Value, f float64) int {
	switch v.Kind() {
	case reflect.Float64:
		v.SetFloat(f)
		return 1
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				n += setFloats(v.Field(i), f)
			}
		}
		return n
	case reflect.Slice:
		n := 0
		for i := range v.Len() {
			n += setFloats(v.Index(i), f)
		}
		return n
	}
	return 0
}

// TestReportJSONCompatible: with every value defined, the report's JSON is
// the same JSON value encoding/json writes for the same fields, so reports
// written before undefined values were handled still load and compare,
// and it reads back to the same bytes.
func TestReportJSONCompatible(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a1.jpg": "alice:1", "a2.jpg": "alice:22", "b1.jpg": "bob:1", "b2.jpg": "bob:333",
		"pairs.csv": "a1.jpg,a2.jpg,1\nb1.jpg,b2.jpg,1\na1.jpg,b1.jpg,0\na2.jpg,b2.jpg,0\n",
	})
	rep, err := Run(context.Background(), &fakeDescriber{}, Config{PairsFile: filepath.Join(dir, "pairs.csv"), Workers: 1, Folds: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep.FoldMean, rep.FoldStd = 0.75, 0.25
	got, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	// The same struct without the methods, rates and operating points included.
	type plainRate struct {
		Errors int     `json:"errors"`
		Trials int     `json:"trials"`
		Value  float64 `json:"value"`
		Lo     float64 `json:"ci95_lo"`
		Hi     float64 `json:"ci95_hi"`
	}
	var generic any
	if err := json.Unmarshal(got, &generic); err != nil {
		t.Fatal(err)
	}
	type plain Report
	std, err := json.Marshal(struct {
		plain
		FTA plainRate `json:"failure_to_acquire"`
	}{plain(*rep), plainRate(rep.FTA)})
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal(std, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(generic, want) {
		t.Fatalf("report JSON differs from encoding/json's:\n%s\n%s", got, std)
	}
	var back Report
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if string(again) != string(got) {
		t.Fatalf("round trip:\n%s\n%s", got, again)
	}
}
