package calib

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf keeps the runtime's calibration lookup free of the generator's
// dependencies: package calib links only the standard library, and the
// public verify package links neither the evaluation code nor its
// plotting and statistics libraries.
func TestLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	if got := deps("."); len(got) != 1 || got[0] != "github.com/oneface/oneface/internal/calib" {
		t.Errorf("calib links more than the standard library: %v", got)
	}
	for _, d := range deps("../../verify") {
		if d == "github.com/oneface/oneface/internal/eval" || strings.HasPrefix(d, "gonum.org/") {
			t.Errorf("verify links %s", d)
		}
	}
}
