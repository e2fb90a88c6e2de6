package site

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf keeps what the verifier links small: the loader links the
// standard library, internal/calib and x/mod's note package, never the
// measuring code (sitecheck, eval, the engine).
func TestLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range strings.Fields(string(out)) {
		switch d {
		case "github.com/oneface/oneface/internal/site", "github.com/oneface/oneface/internal/calib", "golang.org/x/mod/sumdb/note":
		default:
			t.Errorf("site links %s", d)
		}
	}
}
