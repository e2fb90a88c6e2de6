//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

// TestVerifyLivenessFlag: `oneface verify -liveness` on spoof-dev subject
// 0001, enrolled from a live webcam frame. A printed photo of them matches
// under -liveness none, and the output says no liveness check was made;
// under the default (passive) the same print is refused
// presentation_attack and a live frame of another session matches; an
// unknown mode is an error.
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
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	_, issuerPub, _ := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	_, kioskPub, _ := runCLI("keygen", "verifier", "-o", p("kiosk.key"))
	runCLI("keygen", "deployment", "-o", p("deploy.secret"))
	runCLI("keygen", "log", "-name", "kiosk-t.test", "-o", p("log.key"))
	os.WriteFile(p("subject.txt"), []byte("s-0001\n"), 0o600)
	if code, out, stderr := runCLI("enroll", "-models", models, "-key", p("issuer.key"), "-secret", p("deploy.secret"),
		"-to", strings.TrimSpace(kioskPub), "-purpose", "door-main", "-subject-file", p("subject.txt"), "-o", p("ref.txt"), enrolPhoto); code != 0 {
		t.Fatalf("enroll: exit %d\n%s%s", code, out, stderr)
	}
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	kiosk := func(extra ...string) (string, string) {
		args := append([]string{"verify", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"), "-consented"}, extra...)
		_, out, stderr := runCLI(args...)
		return out, stderr
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-liveness", "none", p("ref.txt"), printPhoto}, []string{"MATCH: the person is the holder", "liveness none: no liveness check"}},
		{[]string{p("ref.txt"), printPhoto}, []string{"REFUSED", "liveness passive", "reason presentation_attack: reject (frame 1)"}},
		{[]string{p("ref.txt"), livePhoto}, []string{"MATCH: the person is the holder", "liveness passive"}},
		{[]string{"-liveness", "blink", p("ref.txt"), livePhoto}, []string{`liveness "blink" is not a mode`}},
	} {
		out, stderr := kiosk(c.args...)
		for _, w := range c.want {
			if !strings.Contains(out+stderr, w) {
				t.Errorf("verify %v: want %q in\n%s%s", c.args, w, out, stderr)
			}
		}
	}
}
