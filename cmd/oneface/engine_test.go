//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func requireModels(t *testing.T) (models, lfw string) {
	t.Helper()
	models = os.Getenv("ONEFACE_MODELDIR")
	if models == "" {
		models = filepath.Join("..", "..", ".models")
	}
	faces := os.Getenv("ONEFACE_FACES")
	if faces == "" {
		faces = filepath.Join("..", "..", "..", "shared", "faces")
	}
	lfw = filepath.Join(faces, "lfw-dev", "lfw-deepfunneled")
	for _, p := range []string{filepath.Join(models, "mmod_human_face_detector.dat"), lfw} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("ONEFACE_REQUIRE_ENGINE") != "" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
	}
	return models, lfw
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
