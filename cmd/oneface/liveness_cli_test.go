//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/site"
	"github.com/oneface/oneface/internal/testenv"
)

// TestVerifyLivenessFlag: `oneface verify -liveness` on spoof-dev subject
// 0001, enrolled from a live webcam frame. A printed photo of them matches
// under -liveness none, and the output says no liveness check was made;
// under passive the same print is refused presentation_attack and a live
// frame of another session matches; under the default (both) without a
// terminal on standard input the command is refused as a usage error
// before anything is audited (no failed attempt towards the lockout); at
// a terminal a challenge is issued and a frame captured before it is
// refused; an unknown mode is a usage error.
func TestVerifyLivenessFlag(t *testing.T) {
	models, _ := requireModels(t)
	spoof := filepath.Join(testenv.FacesDir(), "spoof-dev")
	enrolPhoto := filepath.Join(spoof, "ClientRaw", "0001", "0001_00_00_01_0.jpg")
	printPhoto := filepath.Join(spoof, "ImposterRaw", "0001", "0001_00_00_01_0.jpg")
	livePhoto := filepath.Join(spoof, "ClientRaw", "0001", "0001_00_00_02_0.jpg")
	for _, f := range []string{enrolPhoto, printPhoto, livePhoto} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(t, "spoof-dev set", err)
		}
	}
	p, issuerPub := spoofKiosk(t, models, enrolPhoto)
	noTerminal := console{in: strings.NewReader(""), terminal: func() bool { return false }}
	kioskOn := func(con console, extra ...string) (int, string, string) {
		args := append([]string{"-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"), "-consented"}, extra...)
		var out, errb strings.Builder
		code := 0
		if err := runVerifyOn(con, args, &out, &errb); err != nil {
			code = exitError
			if s, ok := err.(exitStatus); ok {
				code = int(s)
			} else if _, ok := err.(usageError); ok {
				code = exitUsage
			}
			errb.WriteString(err.Error())
		}
		return code, out.String(), errb.String()
	}
	kiosk := func(extra ...string) (string, string) {
		_, out, stderr := kioskOn(noTerminal, extra...)
		return out, stderr
	}
	size := func() int {
		es, err := audit.ReadEntries(p("audit"))
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	for _, c := range []struct {
		con  console
		args []string
		code int
		want []string
	}{
		{noTerminal, []string{"-liveness", "none", p("ref.txt"), printPhoto}, exitOK, []string{"MATCH: the person is the holder", "liveness none: no liveness check"}},
		{noTerminal, []string{"-liveness", "passive", p("ref.txt"), printPhoto}, exitRefused, []string{"REFUSED", "liveness passive", "reason presentation_attack: reject (frame 1)"}},
		{noTerminal, []string{"-liveness", "passive", p("ref.txt"), livePhoto}, exitOK, []string{"MATCH: the person is the holder", "liveness passive"}},
		// The default, both, run without a person at a terminal (a
		// script, stdin at its end): refused before anything is read or
		// audited, rather than counted as a failed attempt.
		{noTerminal, []string{p("ref.txt"), livePhoto}, exitUsage, []string{"needs a person at a terminal to press Enter", "use -liveness passive"}},
		{noTerminal, []string{"-liveness", "challenge", p("ref.txt"), livePhoto}, exitUsage, []string{"needs a person at a terminal"}},
		// At a terminal: a challenge is issued, and a frame captured
		// before it (a file from before the command) cannot answer it.
		{console{in: strings.NewReader("\n"), terminal: func() bool { return true }}, []string{p("ref.txt"), livePhoto}, exitRefused,
			[]string{"CHALLENGE: ", "REFUSED", "liveness both"}},
		{console{in: strings.NewReader("\n"), terminal: func() bool { return true }}, []string{p("ref.txt"), "-"}, exitUsage, []string{"waits for Enter on standard input"}},
		{console{in: strings.NewReader("1234\n"), terminal: func() bool { return true }}, []string{"-pin-file", "-", p("ref.txt"), livePhoto}, exitUsage, []string{"waits for Enter on standard input", "-pin-file"}},
		{noTerminal, []string{"-liveness", "blink", p("ref.txt"), livePhoto}, exitUsage, []string{`-liveness "blink": want none, passive, challenge or both`}},
	} {
		before := size()
		code, out, stderr := kioskOn(c.con, c.args...)
		if code != c.code {
			t.Errorf("verify %v: exit %d, want %d\n%s%s", c.args, code, c.code, out, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(out+stderr, w) {
				t.Errorf("verify %v: want %q in\n%s%s", c.args, w, out, stderr)
			}
		}
		if c.code == exitUsage && size() != before {
			t.Errorf("verify %v: a usage error appended to the audit log (%d -> %d entries)", c.args, before, size())
		}
	}

	// A site calibration whose PAD threshold (0.99) is stricter than the
	// live frame's score: the frame that matched is now refused, and the
	// configuration entry records the site threshold.
	es, err := audit.ReadEntries(p("audit"))
	if err != nil || len(es) == 0 {
		t.Fatalf("audit log: %v", err)
	}
	modelID := es[len(es)-1].Entry.ModelID
	sp, err := calib.Lookup(modelID, 1, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(nil, "site-t")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := site.Sign(&site.Calibration{Site: "t", ModelID: modelID, TargetFMR: 1e-3,
		Points: []site.Point{{Photos: 1, Threshold: sp.Threshold, Shipped: sp.Threshold}},
		PAD: &site.PAD{Models: []string{pad.Shipped.Models[0].String()}, Widen: pad.Shipped.Widen, TargetBPCER: 0.05, Threshold: 0.99,
			Shipped: pad.Shipped.Threshold}}, skey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("site.calib"), signed, 0o644)
	os.WriteFile(p("site.pub"), []byte(vkey+"\n"), 0o644)
	for _, keyArg := range []string{vkey, p("site.pub")} {
		out, stderr := kiosk("-liveness", "passive", "-site-calibration", p("site.calib"), "-site-key", keyArg, p("ref.txt"), livePhoto)
		if !strings.Contains(out+stderr, "presentation_attack") {
			t.Errorf("site PAD threshold 0.99: want presentation_attack in\n%s%s", out, stderr)
		}
		es, _ := audit.ReadEntries(p("audit"))
		var cfg *audit.PolicySummary
		for _, e := range es {
			if e.Entry.Kind == audit.KindConfig {
				cfg, _ = e.Policy()
			}
		}
		if cfg == nil || cfg.PADThreshold != 0.99 || cfg.PADCalibration != audit.PADSite {
			t.Errorf("configuration entry: %+v", cfg)
		}
	}
	_, otherVKey, _ := note.GenerateKey(nil, "site-t")
	if out, stderr := kiosk("-liveness", "passive", "-site-calibration", p("site.calib"), "-site-key", otherVKey, p("ref.txt"), livePhoto); !strings.Contains(stderr, "not signed by the deployment key") {
		t.Errorf("another site key: %s%s", out, stderr)
	}
	if out, stderr := kiosk("-liveness", "passive", "-site-calibration", p("site.calib"), p("ref.txt"), livePhoto); !strings.Contains(stderr, "go together") {
		t.Errorf("no -site-key: %s%s", out, stderr)
	}
}
