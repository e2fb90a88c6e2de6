//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/liveness/pad"
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
	code, stdout, stderr := runCLI("calibrate-site", "-models", models, "-key", key, "-genkey", "-pad=false", "-site", "spoof-dev", "-o", out, frames)
	t.Logf("%s%s", stdout, stderr)
	if code != 1 || !strings.Contains(stderr, "exceeds the target") {
		t.Fatalf("exit %d; want a refusal", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("refused, yet %s exists (%v)", out, err)
	}
	// With the PAD check (default), a stated BPCER of 5 % and spoof-dev's
	// printed photos as the site's attack captures.
	attacks := filepath.Join(dir, "attacks")
	copyFrames(t, filepath.Join(testenv.FacesDir(), "spoof-dev", "ImposterRaw"), filepath.Join(attacks, "print"))
	code, stdout, stderr = runCLI("calibrate-site", "-models", models, "-key", key, "-tighten", "-pad-bpcer", "0.05", "-attacks", attacks, "-site", "spoof-dev", "-o", out, frames)
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
	// The PAD part: every live frame scored, every print with a face
	// scored, no print accepted at the site threshold (none is at the
	// shipped one on this camera), and the rule on lowering held.
	p := o.PAD
	if p == nil || p.BPCER.Trials < 140 || len(p.Attacks) != 1 || p.Attacks[0].Type != "print" || p.Attacks[0].APCER.Trials < 140 ||
		p.Attacks[0].APCER.Errors != 0 || p.Shipped != pad.Shipped.Threshold || p.TargetBPCER != 0.05 {
		t.Fatalf("PAD part: %+v", p)
	}
	if !strings.Contains(stdout, "presentation-attack detection: MiniFASNetV1SE") || !strings.Contains(stdout, "APCER print") {
		t.Errorf("summary lacks the PAD report")
	}
	t.Logf("site PAD threshold %v (shipped %v): BPCER %d/%d, APCER print %d/%d", p.Threshold, p.Shipped, p.BPCER.Errors, p.BPCER.Trials,
		p.Attacks[0].APCER.Errors, p.Attacks[0].APCER.Trials)
}

// copyFrames copies the frames of src's subfolders into dst/<subfolder>
// (a temporary folder: faces are never copied into the repository).
func copyFrames(t *testing.T, src, dst string) {
	t.Helper()
	subs, err := os.ReadDir(src)
	if err != nil {
		testenv.Missing(t, "spoof-dev", err)
	}
	for _, d := range subs {
		if !d.IsDir() {
			continue
		}
		fs, err := os.ReadDir(filepath.Join(src, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, d.Name()), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			b, err := os.ReadFile(filepath.Join(src, d.Name(), f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, d.Name(), f.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}
