// Package testenv locates the real engine's models and the dev faces for
// tests, and decides what a test does when they are missing: skip, or
// fail under ONEFACE_REQUIRE_ENGINE=1 (set by `make test` and CI).
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// root is the repository root, found from this file's location.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ModelDir is $ONEFACE_MODELDIR, else the repository's .models.
func ModelDir() string {
	if d := os.Getenv("ONEFACE_MODELDIR"); d != "" {
		return d
	}
	return filepath.Join(root(), ".models")
}

// FacesDir is $ONEFACE_FACES, else ../shared/faces beside the repository.
func FacesDir() string {
	if d := os.Getenv("ONEFACE_FACES"); d != "" {
		return d
	}
	return filepath.Join(root(), "..", "shared", "faces")
}

// Missing skips the test, or fails it when the engine is required.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("ONEFACE_REQUIRE_ENGINE") != "" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s unavailable (%v); run `make setup`", what, err)
}

// LFWDir returns the LFW dev folder, or skips/fails when it is missing.
func LFWDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(FacesDir(), "lfw-dev")
	if _, err := os.Stat(filepath.Join(d, "pairs.csv")); err != nil {
		Missing(t, "LFW dev set", err)
	}
	return d
}

// ReadLFW reads a file named relative to the LFW dev folder.
func ReadLFW(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(LFWDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
