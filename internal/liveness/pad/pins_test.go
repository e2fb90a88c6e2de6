package pad

import (
	"os"
	"strings"
	"testing"
)

// TestPinFile: scripts/setup.sh copies the networks listed in
// models.sha256; each line must be the pin this package checks at Open,
// and every network must be listed.
func TestPinFile(t *testing.T) {
	b, err := os.ReadFile("models.sha256")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("malformed line %q", line)
		}
		listed[f[1]] = f[0]
	}
	for m := MiniFASNetV2; m <= FRLiveness; m++ {
		if got := listed[specs[m].file]; got != specs[m].sha256 {
			t.Errorf("%s: models.sha256 pins %q, the package %q", specs[m].file, got, specs[m].sha256)
		}
	}
	if len(listed) != int(FRLiveness) {
		t.Errorf("models.sha256 lists %d files, the package knows %d", len(listed), FRLiveness)
	}
}
