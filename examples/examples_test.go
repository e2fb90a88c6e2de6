//go:build cgo

// Package examples_test builds every example program and runs it, as a
// deployment would, on real dev faces: an issuer station enrols Abel
// (examples/enroll), a kiosk verifies him and an impostor holding his card
// from a frame file (examples/embedded) and from a stream of decoded frames
// (examples/frames), and an auditor checks the kiosk's log, a receipt and a
// subject access export (examples/auditor). Keys, logs and the controller
// are made here through the public API, as `oneface keygen` and `oneface
// audit init` would.
package examples_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/testenv"
	"github.com/oneface/oneface/verify"
)

const (
	abel1  = "lfw-deepfunneled/Abel_Pacheco/Abel_Pacheco_0001.jpg"
	abel2  = "lfw-deepfunneled/Abel_Pacheco/Abel_Pacheco_0002.jpg"
	abel4  = "lfw-deepfunneled/Abel_Pacheco/Abel_Pacheco_0004.jpg"
	akhmed = "lfw-deepfunneled/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg"

	subjectID = "employee-1234"
)

// world is one deployment: an issuer station, a kiosk, a controller.
type world struct {
	bin, models             string // built examples; face models
	station, kiosk          string // key directories
	stationLog, kioskData   string // the station's audit log; the kiosk's data directory
	kioskLogPub, controller string // files
	secret                  *verify.DeploymentSecret
	kioskRecipient          string
	card, cardQR            string // the card enroll writes
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// newWorld builds the examples and makes the keys and the audit logs.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{models: testenv.ModelDir()}
	e, err := verify.OpenEngine(w.models, verify.EngineOptions{PoolSize: 1})
	if err != nil {
		testenv.Missing(t, "dlib engine", err)
	}
	e.Close()
	testenv.LFWDir(t)

	tmp := t.TempDir()
	w.bin = filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", w.bin+string(filepath.Separator), "./embedded", "./enroll", "./auditor", "./frames")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	issuer, err := verify.GenerateIssuerKey("badges.example.org")
	if err != nil {
		t.Fatal(err)
	}
	kioskKey, err := verify.GenerateVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	w.secret = verify.GenerateDeploymentSecret()
	w.kioskRecipient = kioskKey.Recipient().String()
	stationLogKey, _, err := audit.GenerateKey("issuer-station.example.org")
	if err != nil {
		t.Fatal(err)
	}
	kioskLogKey, kioskLogPub, err := audit.GenerateKey("kiosk-7.example.org")
	if err != nil {
		t.Fatal(err)
	}
	controller, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	w.station, w.kiosk = filepath.Join(tmp, "station-keys"), filepath.Join(tmp, "kiosk-keys")
	writeFile(t, filepath.Join(w.station, "issuer.key"), []byte(issuer.String()+"\n"))
	writeFile(t, filepath.Join(w.station, "deployment.secret"), []byte(w.secret.String()+"\n"))
	writeFile(t, filepath.Join(w.station, "log.key"), []byte(stationLogKey+"\n"))
	writeFile(t, filepath.Join(w.kiosk, "kiosk.key"), []byte(kioskKey.String()+"\n"))
	writeFile(t, filepath.Join(w.kiosk, "issuer.pub"), []byte(issuer.Public().String()+"\n"))
	writeFile(t, filepath.Join(w.kiosk, "deployment.secret"), []byte(w.secret.String()+"\n"))
	writeFile(t, filepath.Join(w.kiosk, "log.key"), []byte(kioskLogKey+"\n"))
	w.kioskLogPub = filepath.Join(tmp, "auditor", "kiosk-log.pub")
	writeFile(t, w.kioskLogPub, []byte(kioskLogPub+"\n"))
	w.controller = filepath.Join(tmp, "controller", "controller.key")
	writeFile(t, w.controller, []byte(controller.String()+"\n"))

	// `oneface audit init`: each log learns the controller's recipient.
	w.stationLog, w.kioskData = filepath.Join(tmp, "station-audit"), filepath.Join(tmp, "kiosk-data")
	if err := os.Mkdir(w.kioskData, 0o700); err != nil {
		t.Fatal(err)
	}
	for dir, key := range map[string]string{w.stationLog: stationLogKey, filepath.Join(w.kioskData, "audit"): kioskLogKey} {
		l, err := audit.Open(dir, key, audit.Options{Controller: controller.Recipient()})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	w.card, w.cardQR = filepath.Join(tmp, "card", "abel.ref"), filepath.Join(tmp, "card", "abel.png")
	if err := os.Mkdir(filepath.Dir(w.card), 0o700); err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs an example and returns its standard output followed by its
// standard error, and its exit code.
func (w *world) run(t *testing.T, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(w.bin, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	return stdout.String() + stderr.String(), cmd.ProcessState.ExitCode()
}

// lfw copies a dev photo to name.
func lfw(t *testing.T, rel, name string) string {
	t.Helper()
	writeFile(t, name, testenv.ReadLFW(t, rel))
	return name
}

// blankPNG writes a grey frame without a face.
func blankPNG(t *testing.T, name string) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = color.Gray{130}.Y
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	writeFile(t, name, b.Bytes())
	return name
}

func entries(t *testing.T, dir string) []*audit.Record {
	t.Helper()
	recs, err := audit.ReadEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// copyDir copies a log directory, as an auditor receives it.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		if d.Name() == "lock" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExamples runs the story in order; each step is one example.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the examples with the face engine")
	}
	w := newWorld(t)
	tmp := t.TempDir()
	var trusted string // a checkpoint the auditor kept from an earlier visit
	var receipt = filepath.Join(tmp, "abel-receipt.txt")

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"enroll", func(t *testing.T) {
			args := []string{"-models", w.models, "-keys", w.station, "-audit", w.stationLog, "-to", w.kioskRecipient,
				"-purpose", "door-main", "-o", w.card, "-qr", w.cardQR,
				lfw(t, abel1, filepath.Join(tmp, "photos", "a1.jpg")), lfw(t, abel2, filepath.Join(tmp, "photos", "a2.jpg"))}
			out, code := w.run(t, subjectID+"\n", "enroll", args...)
			if code != 0 || !strings.Contains(out, "recorded as audit entry 0") {
				t.Fatalf("enroll: exit %d", code)
			}
			// The library, not the example, wrote the enrolment entry.
			recs := entries(t, w.stationLog)
			if len(recs) != 1 || recs[0].Entry.Kind != audit.KindEnroll || recs[0].Entry.Reason != string(verify.ReasonIssued) ||
				recs[0].Entry.Purpose != "door-main" || recs[0].Commitment == nil {
				t.Fatalf("station log: %d entries, first %+v", len(recs), recs[0])
			}
			if !strings.Contains(out, w.secret.Pseudonym(subjectID).String()) || strings.Contains(out, subjectID) {
				t.Fatal("the station names the subject by the pseudonym of the ID read from stdin, never by the ID")
			}
			// A second run must not replace the card, nor issue and log
			// a reference it cannot write.
			before, _ := os.ReadFile(w.card)
			if _, code := w.run(t, subjectID+"\n", "enroll", args...); code == 0 {
				t.Fatal("enroll replaced an existing card")
			}
			after, _ := os.ReadFile(w.card)
			if !bytes.Equal(before, after) || len(entries(t, w.stationLog)) != 1 {
				t.Fatal("the refused run changed the card or the log")
			}
			// A station whose log cannot be trusted issues nothing.
			if err := os.Chmod(w.stationLog, 0o777); err != nil {
				t.Fatal(err)
			}
			other := filepath.Join(tmp, "other")
			out, code = w.run(t, subjectID+"\n", "enroll", append(args[:len(args)-6:len(args)-6],
				"-o", other+".ref", "-qr", other+".png", args[len(args)-2], args[len(args)-1])...)
			if err := os.Chmod(w.stationLog, 0o700); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(other + ".ref"); code == 0 || err == nil || !strings.Contains(out, "unsafe") {
				t.Fatalf("enroll with an unsafe audit directory: exit %d", code)
			}
		}},
		{"embedded", func(t *testing.T) {
			// -liveness none: LFW news photos are not kiosk-camera captures
			// (the shipped PAD threshold refuses 58 of 768 of them).
			args := []string{"-models", w.models, "-keys", w.kiosk, "-data", w.kioskData, "-purpose", "door-main", "-liveness", "none", w.card}
			if out, code := w.run(t, "", "embedded", append(args, lfw(t, abel4, filepath.Join(tmp, "f", "abel4.jpg")))...); code != 0 || !strings.Contains(out, "match: open the door") {
				t.Fatalf("holder: exit %d", code)
			}
			cp, err := audit.LatestCheckpoint(filepath.Join(w.kioskData, "audit"))
			if err != nil {
				t.Fatal(err)
			}
			trusted = filepath.Join(tmp, "trusted.cp")
			writeFile(t, trusted, cp)
			if out, code := w.run(t, "", "embedded", append(args, lfw(t, akhmed, filepath.Join(tmp, "f", "akhmed.jpg")))...); code != 3 || !strings.Contains(out, "no match") {
				t.Fatalf("impostor with the holder's card: exit %d", code)
			}
			if out, code := w.run(t, "", "embedded", append(args, blankPNG(t, filepath.Join(tmp, "f", "blank.png")))...); code != 4 || !strings.Contains(out, "no_face") {
				t.Fatalf("frame without a face: exit %d", code)
			}
			if _, code := w.run(t, "", "embedded", "-models", w.models, "-keys", w.kiosk, "-data", w.kioskData, "-purpose", "lab",
				w.card, filepath.Join(tmp, "f", "abel4.jpg")); code != 4 {
				t.Fatalf("holder, for a purpose the card does not allow: exit %d", code)
			}
			// The log directory made writable by others (anyone could
			// then edit or swap the record): no decision, exit 1, never 0.
			logDir := filepath.Join(w.kioskData, "audit")
			if err := os.Chmod(logDir, 0o777); err != nil {
				t.Fatal(err)
			}
			out, code := w.run(t, "", "embedded", append(args, filepath.Join(tmp, "f", "abel4.jpg"))...)
			if err := os.Chmod(logDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if code != 1 || strings.Contains(out, "match") || !strings.Contains(out, "unsafe") {
				t.Fatalf("holder at a kiosk whose log directory is unsafe: exit %d", code)
			}
		}},
		{"frames", func(t *testing.T) {
			args := []string{"-models", w.models, "-keys", w.kiosk, "-data", w.kioskData, "-window", "1", "-liveness", "none"}
			holder := filepath.Join(tmp, "stream-holder")
			blankPNG(t, filepath.Join(holder, "000.png")) // the person is not in front of the camera yet
			lfw(t, abel4, filepath.Join(holder, "001.jpg"))
			out, code := w.run(t, "", "frames", append(args, "-receipt", receipt, w.cardQR, holder)...)
			if code != 0 || !strings.Contains(out, "attempt 1: no_face; next frames") || !strings.Contains(out, "attempt 2: match") {
				t.Fatalf("holder: exit %d", code)
			}
			impostor := filepath.Join(tmp, "stream-impostor")
			lfw(t, akhmed, filepath.Join(impostor, "000.jpg"))
			if out, code := w.run(t, "", "frames", append(args, w.cardQR, impostor)...); code != 3 || !strings.Contains(out, "attempt 1: no match") {
				t.Fatalf("impostor with the holder's card: exit %d", code)
			}
			// The default, LivenessBoth: the kiosk shows a challenge; a
			// stream of stills of the holder (a photo held up) cannot
			// perform it and never opens the door.
			stills := filepath.Join(tmp, "stream-stills")
			for i := range 8 {
				lfw(t, abel4, filepath.Join(stills, fmt.Sprintf("%03d.jpg", i)))
			}
			out, code = w.run(t, "", "frames", "-models", w.models, "-keys", w.kiosk, "-data", w.kioskData, w.cardQR, stills)
			if code != 4 || !strings.Contains(out, "attempt 1: please ") || strings.Contains(out, "open the door") {
				t.Fatalf("stills under the default liveness: exit %d", code)
			}
		}},
		{"auditor", func(t *testing.T) {
			kioskLog := filepath.Join(w.kioskData, "audit")
			recs := entries(t, kioskLog)
			copied := filepath.Join(tmp, "copy")
			copyDir(t, kioskLog, copied)
			out, code := w.run(t, "", "auditor", "-key", w.kioskLogPub, "-checkpoint", trusted, "-receipt", receipt, copied)
			if code != 0 || !strings.Contains(out, "log verified: "+strconv.Itoa(len(recs))+" entries") || !strings.Contains(out, "verify match (ok)") {
				t.Fatalf("auditor on a faithful copy: exit %d", code)
			}

			// A copy with one byte of an entry changed: caught.
			tampered := filepath.Join(tmp, "tampered")
			copyDir(t, kioskLog, tampered)
			b, err := os.ReadFile(filepath.Join(tampered, "entries"))
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(b, []byte("decision no_match"))
			first := slices.IndexFunc(recs, func(r *audit.Record) bool { return r.Entry.Decision == audit.DecisionNoMatch })
			if i < 0 || first < 0 {
				t.Fatal("no no-match entry in the kiosk log")
			}
			copy(b[i:], "decision match   ") // same length; the CRC and the tree disagree
			writeFile(t, filepath.Join(tampered, "entries"), b)
			out, code = w.run(t, "", "auditor", "-key", w.kioskLogPub, "-checkpoint", trusted, tampered)
			if code != 1 || !strings.Contains(out, "entry "+strconv.FormatInt(recs[first].Index, 10)+":") {
				t.Fatalf("auditor on a copy with entry %d edited: exit %d", recs[first].Index, code)
			}

			// Subject access, by the controller, on the kiosk's log: every
			// record with a personal part is Abel's (only his card was used).
			export := filepath.Join(tmp, "abel-records.json")
			out, code = w.run(t, "", "auditor", "-key", w.kioskLogPub, "-checkpoint", trusted, "-receipt", receipt,
				"-log-key", filepath.Join(w.kiosk, "log.key"), "-controller", w.controller, "-export", export, kioskLog)
			if code != 0 || !strings.Contains(out, "exported") {
				t.Fatalf("export: exit %d", code)
			}
			var ex audit.Export
			b, err = os.ReadFile(export)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ex); err != nil {
				t.Fatal(err)
			}
			personal := 0
			for _, r := range recs {
				if r.Commitment != nil {
					personal++
				}
			}
			abel := "subject " + w.secret.Pseudonym(subjectID).String()
			if len(ex.Records) != personal || personal < 5 {
				t.Fatalf("export holds %d records; the log has %d with a personal part", len(ex.Records), personal)
			}
			for _, r := range ex.Records {
				if !strings.Contains(r.Personal, abel) {
					t.Fatalf("record %d is not Abel's: %q", r.Index, r.Personal)
				}
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow() // each step uses what the previous ones made
		}
	}
}
