//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

func TestEvalPADCommand(t *testing.T) {
	models, _ := requireModels(t)
	padDir := filepath.Join(testenv.FacesDir(), "..", "models", "antispoof")
	if _, err := os.Stat(filepath.Join(padDir, "fr_liveness.onnx")); err != nil {
		testenv.Missing(t, "PAD networks", err)
	}
	spoof := filepath.Join(testenv.FacesDir(), "spoof-dev")
	dir := t.TempDir()
	labels := "file,label,attack\n" +
		filepath.Join(spoof, "ClientRaw/0001/0001_00_00_01_0.jpg") + ",live,none\n" +
		filepath.Join(spoof, "ClientRaw/0004/0004_01_00_01_0.jpg") + ",live,none\n" +
		filepath.Join(spoof, "ImposterRaw/0001/0001_00_00_01_0.jpg") + ",spoof,print\n" +
		filepath.Join(spoof, "ImposterRaw/0004/0004_01_00_01_0.jpg") + ",spoof,print\n" +
		filepath.Join(dir, "missing.jpg") + ",spoof,screen\n"
	p := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(p, []byte(labels), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI("eval-pad", "-models", models, "-pad-models", padDir, "-labels", p, "-out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"2 bona fide, attacks: 2 print;", "failures to acquire 20% (1/5", "APCER print", "BPCER at APCER ≤ 5%", "fused all, box ×1.00", "ms per frame"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"report.md", "report.json", "det.png", "det.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if code, _, _ := runCLI("eval-pad", "-models", models); code != 2 {
		t.Errorf("no -labels: exit %d, want 2", code)
	}
	if code, _, _ := runCLI("eval-pad", "-models", models, "-labels", p, "-nets", "nosuchnet"); code != 2 {
		t.Errorf("unknown network: exit %d, want 2", code)
	}
}
