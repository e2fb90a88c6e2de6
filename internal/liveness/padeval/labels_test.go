package padeval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

func TestParseLabels(t *testing.T) {
	rows, err := ParseLabels(strings.NewReader("a.jpg,live\nb.jpg,spoof,print\nc.png,SPOOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !rows[0].Live || rows[1].Live || rows[1].Attack != "print" || rows[2].Attack != "spoof" {
		t.Fatalf("%+v", rows)
	}
	for name, in := range map[string]string{
		"bad label":      "a.jpg,maybe\n",
		"no file":        ",live\n",
		"empty":          "",
		"header only":    "file,label\n",
		"header, no lbl": "file,attack\na.jpg,print\n",
		"bad quoting":    "\"a.jpg,live\n",
	} {
		if _, err := ParseLabels(strings.NewReader(in)); !errors.Is(err, ErrLabels) {
			t.Errorf("%s: %v, want ErrLabels", name, err)
		}
	}
	if _, err := ParseLabels(strings.NewReader(strings.Repeat("a.jpg,live\n", MaxLabelsBytes/11+1))); !errors.Is(err, ErrLabels) {
		t.Errorf("oversized file: %v", err)
	}
}

func TestParseSpoofDevLabels(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.FacesDir(), "spoof-dev", "labels.csv"))
	if err != nil {
		testenv.Missing(t, "spoof-dev set", err)
	}
	rows, err := ParseLabels(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	live, groups := 0, map[string]bool{}
	for _, r := range rows {
		if r.Live {
			live++
		} else if r.Attack != "print" {
			t.Errorf("line %d: attack %q", r.Line, r.Attack)
		}
		groups[r.Group] = true
	}
	if len(rows) != 305 || live != 151 || len(groups) < 10 {
		t.Errorf("%d rows, %d live, %d groups", len(rows), live, len(groups))
	}
}

func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"a.jpg,live\nb.jpg,spoof,print\n", "file,label,attack,subject,session\nx,live,none,1,2\n", "\"a\nb\",spoof\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := ParseLabels(strings.NewReader(s))
		if err != nil {
			if rows != nil || !errors.Is(err, ErrLabels) {
				t.Fatalf("error %v with rows %v", err, rows)
			}
			return
		}
		for _, r := range rows {
			if r.File == "" || (r.Live && r.Attack != "") || (!r.Live && r.Attack == "") {
				t.Fatalf("bad row %+v", r)
			}
		}
	})
}
