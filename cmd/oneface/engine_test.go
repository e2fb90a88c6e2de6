//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

func requireModels(t *testing.T) (models, lfw string) {
	t.Helper()
	models = testenv.ModelDir()
	if _, err := facerec.CheckModels(models); err != nil {
		testenv.Missing(t, "models", err)
	}
	return models, filepath.Join(testenv.LFWDir(t), "lfw-deepfunneled")
}

func TestCompareRealFaces(t *testing.T) {
	models, lfw := requireModels(t)
	code, out, stderr := runCLI("compare", "-models", models,
		filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_0001.jpg"),
		filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_0004.jpg"),
		filepath.Join(lfw, "Akhmed_Zakayev", "Akhmed_Zakayev_0001.jpg"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`\[1\]-\[2\]  0\.\d{4}  same`,
		`\[1\]-\[3\]  0\.\d{4}  different`,
		`\[2\]-\[3\]  0\.\d{4}  different`,
		`NOT calibrated`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCompareReportsNoFace(t *testing.T) {
	models, lfw := requireModels(t)
	blank := filepath.Join(t.TempDir(), "blank.png")
	// A 1×1 PNG: decodes, holds no face.
	png1x1 := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82")
	if err := os.WriteFile(blank, png1x1, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI("compare", "-models", models, filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_0001.jpg"), blank)
	if code != 1 || !strings.Contains(stderr, "blank.png: facerec: no face found") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestKeygenEnrollOpen(t *testing.T) {
	models, lfw := requireModels(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	code, issuerPub, stderr := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	code, kioskPub, stderr := runCLI("keygen", "verifier", "-o", p("kiosk.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "deployment", "-o", p("deploy.secret")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "verifier", "-o", p("kiosk.key")); code != 1 || !strings.Contains(stderr, "never overwrites") {
		t.Fatalf("overwrote a key: exit %d %q", code, stderr)
	}
	photo := func(n string) string { return filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_"+n+".jpg") }
	code, out, stderr := runCLI("enroll", "-models", models, "-key", p("issuer.key"), "-secret", p("deploy.secret"),
		"-to", strings.TrimSpace(kioskPub), "-purpose", "door-main", "-subject-file", subjectFile(t, "employee-42"),
		"-o", p("ref.txt"), "-qr", p("card.png"), photo("0001"), photo("0002"))
	if code != 0 || !strings.Contains(out, "template: mean of 2 photo(s)") {
		t.Fatalf("enroll: exit %d\n%s%s", code, out, stderr)
	}
	for _, ref := range []string{p("ref.txt"), p("card.png")} {
		code, out, stderr = runCLI("open", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", ref)
		if code != 0 || !strings.Contains(out, `opens for "door-main"`) {
			t.Fatalf("open %s: exit %d\n%s%s", ref, code, out, stderr)
		}
	}
	code, _, stderr = runCLI("open", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
		"-purpose", "vault", p("ref.txt"))
	if code != 1 || !strings.Contains(stderr, "oneface: error: verify: purpose not allowed") {
		t.Fatalf("wrong purpose: exit %d %q", code, stderr)
	}
	// The kiosk: consented match, impostor, no consent; all audited.
	if code, _, stderr := runCLI("keygen", "log", "-name", "kiosk-t.test", "-o", p("log.key")); code != 0 {
		t.Fatal(stderr)
	}
	initLog(t, p("audit"), p("log.key"))
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	kiosk := func(extra ...string) (int, string, string) {
		args := append([]string{"verify", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"), "-liveness", "none"}, extra...)
		return runCLI(args...)
	}
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-consented", "-receipt", p("r.txt"), p("card.png"), photo("0004")}, "MATCH: the person is the holder", exitOK},
		{[]string{"-consented", p("ref.txt"), filepath.Join(lfw, "Akhmed_Zakayev", "Akhmed_Zakayev_0003.jpg")}, "NO MATCH", exitNoMatch},
		{[]string{p("ref.txt"), photo("0004")}, "reason consent_missing: retry", exitRefused},
	} {
		code, out, stderr := kiosk(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Fatalf("verify %v: exit %d\n%s%s", c.args, code, out, stderr)
		}
	}
	// Three decisions, each after the configuration entry of its run.
	if code, out, _ := runCLI("audit", "show", p("audit")); code != 0 || strings.Count(out, " verify ") != 3 || strings.Count(out, " config ") != 3 {
		t.Fatalf("kiosk audit log: %q", out)
	}

	// A refused enrolment photo names the photo, the reason and what to do.
	small := filepath.Join(filepath.Dir(lfw), "lfw", "Abel_Pacheco", "Abel_Pacheco_0001.jpg")
	code, _, stderr = runCLI("enroll", "-models", models, "-key", p("issuer.key"), "-secret", p("deploy.secret"),
		"-to", strings.TrimSpace(kioskPub), "-purpose", "door-main", "-subject-file", subjectFile(t, "s"), "-o", p("ref2.txt"), small)
	if code != 1 || !strings.Contains(stderr, "face_too_small") || !strings.Contains(stderr, "oneface: hint: retake "+small) {
		t.Fatalf("small face: exit %d %q", code, stderr)
	}
}

func TestEvalCommand(t *testing.T) {
	models, lfw := requireModels(t)
	dir := t.TempDir()
	// Rows are relative to -root (rows may not leave it).
	csv := "a,b,same\n" +
		"Abel_Pacheco/Abel_Pacheco_0001.jpg,Abel_Pacheco/Abel_Pacheco_0004.jpg,1\n" +
		"Abel_Pacheco/Abel_Pacheco_0001.jpg,Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg,0\n" +
		"Abel_Pacheco/Abel_Pacheco_0001.jpg,missing.jpg,0\n" +
		"only,two\n"
	pairs := filepath.Join(dir, "pairs.csv")
	os.WriteFile(pairs, []byte(csv), 0o644)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI("eval", "-models", models, "-pairs", pairs, "-root", lfw, "-cache", "", "-out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"3 pairs (1 genuine, 1 impostor scored; 1 lost", "failure to acquire  25%", "1 CSV lines skipped (first: line 5: 2 fields", "not claimed: too few impostor comparisons"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "missing.jpg") {
		t.Errorf("the missing file is not named: %s", stderr)
	}
	for _, f := range []string{"report.md", "report.json", "det.svg", "hist.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}
