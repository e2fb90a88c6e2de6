//go:build cgo && unix

package main

// Red-team (outside attacker, round 2): the site calibration through the
// CLI. Each test fails when the attack works.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/notekey"
	"github.com/oneface/oneface/internal/site"
	"github.com/oneface/oneface/internal/testenv"
)

// TestRedteam2SiteCalibrationEmptyStdin: the kiosk's start script runs
// `oneface verify -site-calibration - -site-key KEY …` with the strict
// site calibration piped in. The attacker, who owns the disk, empties
// what is piped (or the pipe's source file). The CLI reads zero bytes as
// "no calibration" and verifies on the shipped thresholds instead of
// refusing: a live frame the strict (0.99) site PAD threshold refuses now
// matches.
func TestRedteam2SiteCalibrationEmptyStdin(t *testing.T) {
	models, _ := requireModels(t)
	spoof := filepath.Join(testenv.FacesDir(), "spoof-dev")
	enrolPhoto := filepath.Join(spoof, "ClientRaw", "0001", "0001_00_00_01_0.jpg")
	livePhoto := filepath.Join(spoof, "ClientRaw", "0001", "0001_00_00_02_0.jpg")
	for _, f := range []string{enrolPhoto, livePhoto} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(t, "spoof-dev set", err)
		}
	}
	p, issuerPub := spoofKiosk(t, models, enrolPhoto)
	kiosk := func(extra ...string) (int, string, string) {
		args := append([]string{"verify", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"), "-liveness", "passive", "-consented"}, extra...)
		return runCLI(args...)
	}
	if code, out, stderr := kiosk(p("ref.txt"), livePhoto); code != 0 || !strings.Contains(out, "MATCH") {
		t.Fatalf("baseline: exit %d\n%s%s", code, out, stderr)
	}
	es, err := audit.ReadEntries(p("audit"))
	if err != nil || len(es) == 0 {
		t.Fatalf("audit log: %v", err)
	}
	modelID := es[len(es)-1].Entry.ModelID
	sp, err := calib.Lookup(modelID, 1, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := note.GenerateKey(nil, "site-t")
	signed, err := site.Sign(&site.Calibration{Site: "t", ModelID: modelID, TargetFMR: 1e-3,
		Points: []site.Point{{Photos: 1, Threshold: sp.Threshold, Shipped: sp.Threshold}},
		PAD: &site.PAD{Models: []string{pad.Shipped.Models[0].String()}, Widen: pad.Shipped.Widen, TargetBPCER: 0.05, Threshold: 0.99,
			Shipped: pad.Shipped.Threshold}}, skey)
	if err != nil {
		t.Fatal(err)
	}
	// The deployment's strict calibration, piped: the live frame is refused.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(signed)
	w.Close()
	old := os.Stdin
	defer func() { os.Stdin = old }()
	os.Stdin = r
	_, out, stderr := kiosk("-site-calibration", "-", "-site-key", vkey, p("ref.txt"), livePhoto)
	if !strings.Contains(out+stderr, "presentation_attack") {
		t.Fatalf("strict calibration on stdin: want presentation_attack in\n%s%s", out, stderr)
	}
	r.Close()
	// The attacker empties what is piped.
	r, w, _ = os.Pipe()
	w.Close()
	os.Stdin = r
	defer r.Close()
	code, out, stderr := kiosk("-site-calibration", "-", "-site-key", vkey, p("ref.txt"), livePhoto)
	if strings.Contains(out, "MATCH") || code == 0 {
		es, _ := audit.ReadEntries(p("audit"))
		var cfg *audit.PolicySummary
		for _, e := range es {
			if e.Entry.Kind == audit.KindConfig {
				cfg, _ = e.Policy()
			}
		}
		t.Fatalf("BROKEN: -site-calibration - with an empty standard input: exit %d, the site calibration silently ignored (config entry %+v):\n%s%s", code, cfg, out, stderr)
	}
}

// TestRedteam2CalibrateSiteOneBogusAttack: calibrate-site lowers the PAD
// threshold below the shipped one only "as far as the site's own attack
// captures show", and "never looser than shipped for an attack the site
// has not measured". The operator (or whoever can write to the attack
// folder before calibration) puts ONE capture in attacks/screen: a live
// frame, which scores above the shipped threshold and so "shows no more
// attacks accepted". No print is measured, yet the written threshold
// drops to the live-capture percentile — looser for prints than shipped.
func TestRedteam2CalibrateSiteOneBogusAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("analyses 151 webcam frames")
	}
	models, _ := requireModels(t)
	frames := filepath.Join(testenv.FacesDir(), "spoof-dev", "ClientRaw")
	if _, err := os.Stat(frames); err != nil {
		testenv.Missing(t, "spoof-dev", err)
	}
	dir := t.TempDir()
	key, out := filepath.Join(dir, "site.key"), filepath.Join(dir, "site.calib")
	attacks := filepath.Join(dir, "attacks", "screen")
	if err := os.MkdirAll(attacks, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(frames, "0001", "0001_00_00_02_0.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(attacks, "one.jpg"), b, 0o600)
	code, stdout, stderr := runCLI("calibrate-site", "-models", models, "-key", key, "-genkey", "-tighten", "-pad-bpcer", "0.01",
		"-attacks", filepath.Join(dir, "attacks"), "-site", "bogus", "-o", out, frames)
	t.Logf("%s%s", stdout, stderr)
	if code != 0 {
		t.Logf("held: calibrate-site refused (exit %d)", code)
		return
	}
	signed, _ := os.ReadFile(out)
	skey, _ := os.ReadFile(key)
	_, _, vkey, err := notekey.Private(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	o, err := site.Load(signed, vkey)
	if err != nil {
		t.Logf("held: written file does not load: %v", err)
		return
	}
	if o.PAD != nil && o.PAD.Threshold < o.PAD.Shipped {
		t.Fatalf("BROKEN: one bogus 'screen' capture (a live frame) let calibrate-site lower the PAD threshold to %v (shipped %v) with no print measured; the file: %+v",
			o.PAD.Threshold, o.PAD.Shipped, *o.PAD)
	}
}

// TestRedteam2CalibrateSiteFolderTricks: the attack-capture folder of
// calibrate-site holds, besides real prints: a symbolic link to a live
// frame (it would count as an "attack" scoring live), a FIFO named like a
// frame (reading it would hang), a symbolic link to a folder outside as an
// attack type, and a sparse 3 GB "frame". The command must finish, must
// refuse the links by name, must not count the FIFO, and must not read the
// sparse file; a type folder with a space in its name must be refused.
func TestRedteam2CalibrateSiteFolderTricks(t *testing.T) {
	models, _ := requireModels(t)
	spoof := filepath.Join(testenv.FacesDir(), "spoof-dev")
	if _, err := os.Stat(spoof); err != nil {
		testenv.Missing(t, "spoof-dev", err)
	}
	dir := t.TempDir()
	live := filepath.Join(dir, "live")
	// A small stand-in site: 4 people, 4 webcam frames each.
	for _, s := range []string{"0001", "0002", "0003", "0004"} {
		fs, _ := filepath.Glob(filepath.Join(spoof, "ClientRaw", s, "*.jpg"))
		if len(fs) < 4 {
			t.Skipf("subject %s: %d frames", s, len(fs))
		}
		os.MkdirAll(filepath.Join(live, s), 0o700)
		for _, f := range fs[:4] {
			b, _ := os.ReadFile(f)
			os.WriteFile(filepath.Join(live, s, filepath.Base(f)), b, 0o600)
		}
	}
	attacks := filepath.Join(dir, "attacks")
	printDir := filepath.Join(attacks, "print")
	os.MkdirAll(printDir, 0o700)
	prints, _ := filepath.Glob(filepath.Join(spoof, "ImposterRaw", "0001", "*.jpg"))
	if len(prints) < 3 {
		t.Skip("too few prints")
	}
	for _, f := range prints[:3] {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(printDir, filepath.Base(f)), b, 0o600)
	}
	liveFrame, _ := filepath.Glob(filepath.Join(live, "0001", "*.jpg"))
	if err := os.Symlink(liveFrame[0], filepath.Join(printDir, "zz-link.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(printDir, "zz-fifo.jpg"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Symlink(filepath.Join(live, "0002"), filepath.Join(attacks, "screen")); err != nil {
		t.Fatal(err)
	}
	key, out := filepath.Join(dir, "site.key"), filepath.Join(dir, "site.calib")
	// Links are refused by name (they were skipped silently before).
	code, stdout, stderr := runCLIWithin(t, 2*time.Minute, "calibrate-site", "-models", models, "-key", key, "-genkey", "-tighten", "-attacks", attacks, "-site", "tricks", "-o", out, live)
	if code == 0 || !strings.Contains(stderr, "zz-link.jpg: a symbolic link, not followed") {
		t.Errorf("BROKEN: a linked attack frame was not refused by name: exit %d\n%s%s", code, stdout, stderr)
	}
	os.Remove(filepath.Join(printDir, "zz-link.jpg"))
	code, stdout, stderr = runCLIWithin(t, 2*time.Minute, "calibrate-site", "-models", models, "-key", key, "-tighten", "-attacks", attacks, "-site", "tricks", "-o", out, live)
	if code == 0 || !strings.Contains(stderr, "screen: a symbolic link, not followed") {
		t.Errorf("BROKEN: a linked attack type folder was not refused by name: exit %d\n%s%s", code, stdout, stderr)
	}
	os.Remove(filepath.Join(attacks, "screen"))
	code, stdout, stderr = runCLIWithin(t, 2*time.Minute, "calibrate-site", "-models", models, "-key", key, "-tighten", "-attacks", attacks, "-site", "tricks", "-o", out, live)
	t.Logf("exit %d\n%s%s", code, stdout, stderr)
	if code == 0 {
		signed, _ := os.ReadFile(out)
		skey, _ := os.ReadFile(key)
		_, _, vkey, _ := notekey.Private(strings.TrimSpace(string(skey)))
		o, err := site.Load(signed, vkey)
		if err != nil {
			t.Fatal(err)
		}
		if o.PAD != nil {
			for _, a := range o.PAD.Attacks {
				if a.Type != "print" || a.APCER.Trials > 3 {
					t.Errorf("BROKEN: attack type %s counted %d captures (3 real prints; a FIFO must not count)", a.Type, a.APCER.Trials)
				}
			}
		}
	}
	// A sparse 3 GB frame: refused without reading it.
	big := filepath.Join(printDir, "zz-big.jpg")
	if f, err := os.Create(big); err == nil {
		f.Truncate(3 << 30)
		f.Close()
	}
	os.Remove(filepath.Join(printDir, "zz-fifo.jpg"))
	code, stdout, stderr = runCLIWithin(t, 2*time.Minute, "calibrate-site", "-models", models, "-key", key, "-tighten", "-attacks", attacks, "-site", "tricks", "-o", out+"2", live)
	if code == 0 {
		t.Errorf("BROKEN: a sparse 3 GB attack frame was accepted:\n%s%s", stdout, stderr)
	}
	os.Remove(big)
	// A type folder named with a space.
	os.MkdirAll(filepath.Join(attacks, "my print"), 0o700)
	code, stdout, stderr = runCLIWithin(t, 2*time.Minute, "calibrate-site", "-models", models, "-key", key, "-tighten", "-attacks", attacks, "-site", "tricks", "-o", out+"3", live)
	if code == 0 {
		t.Errorf("BROKEN: an attack type folder named %q was accepted:\n%s%s", "my print", stdout, stderr)
	}
}
