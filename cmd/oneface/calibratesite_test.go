//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/notekey"
	"github.com/oneface/oneface/internal/site"
	"github.com/oneface/oneface/internal/testenv"
)

// TestCalibrateSiteSpoofDev runs calibrate-site on spoof-dev's live frames
// (one folder per subject) as a stand-in site, with the default model. Its
// within-session impostors sit closer than the cross-session ones the
// shipped table measured, so at the shipped threshold the FMR exceeds
// 1e-3: the command must refuse (exit 1, no file). With -tighten it must
// write a signed calibration that site.Load accepts, with every threshold
// below the shipped one.
func TestCalibrateSiteSpoofDev(t *testing.T) {
	if testing.Short() {
		t.Skip("analyses 151 webcam frames twice")
	}
	models, _ := requireModels(t)
	frames := filepath.Join(testenv.FacesDir(), "spoof-dev", "ClientRaw")
	if _, err := os.Stat(frames); err != nil {
		testenv.Missing(t, "spoof-dev", err)
	}
	dir := t.TempDir()
	key, out := filepath.Join(dir, "site.key"), filepath.Join(dir, "site.calib")
	code, stdout, stderr := runCLI("calibrate-site", "-models", models, "-key", key, "-genkey", "-site", "spoof-dev", "-o", out, frames)
	t.Logf("%s%s", stdout, stderr)
	if code != 1 || !strings.Contains(stderr, "exceeds the target") {
		t.Fatalf("exit %d; want a refusal", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("refused, yet %s exists (%v)", out, err)
	}
	code, stdout, stderr = runCLI("calibrate-site", "-models", models, "-key", key, "-tighten", "-site", "spoof-dev", "-o", out, frames)
	t.Logf("%s%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("-tighten: exit %d", code)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	skey, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	_, _, vkey, err := notekey.Private(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	o, err := site.Load(signed, vkey)
	if err != nil {
		t.Fatal(err)
	}
	for k, th := range o.Thresholds {
		p, err := calib.Lookup(o.ModelID, k, o.TargetFMR)
		if err != nil || th >= p.Threshold {
			t.Errorf("%d photos: site threshold %v, shipped %v (%v)", k, th, p.Threshold, err)
		}
	}
}
