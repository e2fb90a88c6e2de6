//go:build cgo

package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestVerifyIntakeBugReports runs the kiosk (`oneface verify`) on the
// intake bug reports. A card image in which no reference can be read —
// ../shared/bugreports/qr-finder-tiles, which spends ReadQR's budget — is
// a refusal the kiosk records, not an error exit with no record (before:
// tens of seconds of CPU, exit 1, nothing audited). Then the frames of
// png-exif-orientation match and jpeg-side-over-65500 is refused
// unreadable, each attempt audited.
func TestVerifyIntakeBugReports(t *testing.T) {
	models, lfw := requireModels(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	code, issuerPub, stderr := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "verifier", "-o", p("kiosk.key")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "log", "-name", "kiosk-t.test", "-o", p("log.key")); code != 0 {
		t.Fatal(stderr)
	}
	initLog(t, p("audit"), p("log.key"))
	initLog(t, p("audit2"), p("log.key"))
	if code, _, stderr := runCLI("keygen", "deployment", "-o", p("deploy.secret")); code != 0 {
		t.Fatal(stderr)
	}
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	card := filepath.Join("..", "..", "..", "shared", "bugreports", "qr-finder-tiles", "finder-tiles-600.png")
	code, out, stderr := runCLI("verify", "-models", models, "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
		"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"),
		"-liveness", "none", "-consented", card, filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_0004.jpg"))
	if code != exitRefused || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "reason reference_malformed: reject") ||
		!strings.Contains(stderr, "QR search budget exhausted") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := runCLI("audit", "show", p("audit")); code != 0 || strings.Count(out, " verify ") != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("audit show: exit %d\n%s", code, out)
	}

	// The image bug reports end to end, against a reference enrolled from
	// Abel_Pacheco_0001 + 0002 as in their README. Before: the eXIf PNG was
	// refused no_face, the 65,535 × 2 JPEG ended in an engine error with
	// no decision and no audit record.
	photo := func(n string) string { return filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_"+n+".jpg") }
	code, kioskPub, _ := runCLI("keygen", "verifier", "-o", p("kiosk2.key"))
	if code != 0 {
		t.Fatal("keygen")
	}
	if code, out, stderr := runCLI("enroll", "-models", models, "-key", p("issuer.key"), "-secret", p("deploy.secret"), "-to", strings.TrimSpace(kioskPub),
		"-purpose", "door-main", "-subject-file", subjectFile(t, "employee-42"), "-o", p("ref.txt"), photo("0001"), photo("0002")); code != 0 {
		t.Fatalf("enroll: %s%s", out, stderr)
	}
	reports := filepath.Join("..", "..", "..", "shared", "bugreports")
	for _, c := range []struct {
		frame, want string
		code        int
	}{
		{filepath.Join(reports, "png-exif-orientation", "abel-o6.jpg"), "MATCH: the person is the holder", exitOK},
		{filepath.Join(reports, "png-exif-orientation", "abel-o6.png"), "MATCH: the person is the holder", exitOK},
		{filepath.Join(reports, "jpeg-side-over-65500", "wide-65535x2.jpg"), "reason unreadable: reject (frame 1)", exitRefused},
	} {
		code, out, stderr := runCLI("verify", "-models", models, "-key", p("kiosk2.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", "-audit-log", p("audit2"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"),
			"-liveness", "none", "-consented", p("ref.txt"), c.frame)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Fatalf("%s: exit %d, want %q\n%s%s", filepath.Base(c.frame), code, c.want, out, stderr)
		}
	}
	if code, out, _ := runCLI("audit", "show", p("audit2")); code != 0 || strings.Count(out, " verify ") != 3 {
		t.Fatalf("audit show: every attempt is recorded: exit %d\n%s", code, out)
	}
}

// TestVerifyRefusesFIFOInputs: a reference or a frame that is a FIFO is
// refused at once by name; before, `verify` blocked forever opening it.
func TestVerifyRefusesFIFOInputs(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	code, issuerPub, stderr := runCLI("keygen", "issuer", "-name", "test-issuer", "-o", p("issuer.key"))
	if code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "verifier", "-o", p("kiosk.key")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("keygen", "deployment", "-o", p("deploy.secret")); code != 0 {
		t.Fatal(stderr)
	}
	os.WriteFile(p("notice-1.txt"), []byte("We compare your face with your card."), 0o644)
	// A reference in the right container that no kiosk opens: the frames
	// are read before it is.
	os.WriteFile(p("ref.txt"), []byte("oneface-ref2:"+base64.RawURLEncoding.EncodeToString([]byte("OFR2\x00not age"))+"\n"), 0o644)
	if err := syscall.Mkfifo(p("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{p("fifo"), p("ref.txt")}, {p("ref.txt"), p("fifo")}} {
		code, out, stderr := runCLI(append([]string{"verify", "-key", p("kiosk.key"), "-secret", p("deploy.secret"), "-issuer", strings.TrimSpace(issuerPub),
			"-purpose", "door-main", "-audit-log", p("audit"), "-log-key", p("log.key"), "-notice", p("notice-1.txt"),
			"-liveness", "passive", "-consented"}, args...)...)
		if code != 1 || !strings.Contains(stderr, "not a regular file") || !strings.Contains(stderr, "FIFO") {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
		}
	}
}
