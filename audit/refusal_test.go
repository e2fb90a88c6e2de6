package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRefusalSurvivesRestart: a witness refuses a rolled-back log's
// checkpoint. Before: the refusal lived in memory only, so a restarted
// kiosk appended again as if nothing happened. Now the refusal is a
// file written before Witness returns; Open of that directory refuses
// appends (ErrFailed, ErrWitnessRefused) until an operator calls
// AcknowledgeWitnessRefusal, which keeps the evidence.
func TestRefusalSurvivesRestart(t *testing.T) {
	wsk, _ := genWitnessKey("witness-1.example")
	skey, vkey, _ := GenerateKey("kiosk-7.example")
	w := newDirWitness(t.TempDir(), wsk, vkey)
	dir := t.TempDir()
	opt := Options{Controller: testController().Recipient(), Witnesses: []Witness{w}, WitnessPolicy: WitnessPolicy{Interval: time.Hour}}
	l, err := Open(dir, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 {
		l.Append(ctx, verifyEntry(i), nil)
	}
	snapshot := copyDir(t, dir) // the attacker keeps the log at 10
	for i := 10; i < 20; i++ {
		l.Append(ctx, verifyEntry(i), nil)
	}
	if _, err := l.Witness(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l2, err := Open(snapshot, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	l2.Append(ctx, verifyEntry(99), nil)
	if _, err := l2.Witness(ctx); !errors.Is(err, ErrWitnessRefused) {
		t.Fatalf("witness of a rolled-back log: %v", err)
	}
	l2.Close()

	// The power switch: the kiosk restarts, with or without witnesses.
	for _, o := range []Options{opt, {}} {
		l3, err := Open(snapshot, skey, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l3.Append(ctx, verifyEntry(100), nil)
		l3.Close()
		if !errors.Is(err, ErrFailed) || !errors.Is(err, ErrWitnessRefused) {
			t.Fatalf("append after a restart that followed a refusal: %v", err)
		}
		t.Logf("append after restart: %v", err)
	}
	if rec, err := PendingWitnessRefusal(snapshot); err != nil || !bytes.Contains(rec, []byte("witness-1.example")) {
		t.Fatalf("PendingWitnessRefusal: %q %v", rec, err)
	}
	// The operator found out why and acknowledges: the evidence stays in
	// the directory, appends resume.
	if err := AcknowledgeWitnessRefusal(snapshot, "investigated: restored from backup, witness state reset (ticket 42)"); err != nil {
		t.Fatal(err)
	}
	if rec, err := PendingWitnessRefusal(snapshot); rec != nil || err != nil {
		t.Fatalf("PendingWitnessRefusal after acknowledging: %q %v", rec, err)
	}
	if m, _ := filepath.Glob(filepath.Join(snapshot, refusalsDir, "*")); len(m) != 1 {
		t.Fatalf("acknowledged refusals kept: %v", m)
	}
	l4, err := Open(snapshot, skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	if _, err := l4.Append(ctx, verifyEntry(101), nil); err != nil {
		t.Fatalf("append after acknowledging: %v", err)
	}
	l4.Close()
	if err := AcknowledgeWitnessRefusal(snapshot, "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("acknowledging with no refusal: %v", err)
	}
}

// TestWitnessedCatchesRollback: a log cut back consistently (entries,
// personal records and the checkpoints file restored from a copy, and
// the state copy with them) behind a checkpoint a witness cosigned.
// Before: Open accepted it, since only the state copy could tell; now
// Open checks the latest cosigned checkpoint in witnessed/ as well, so a
// log shorter than it is ErrRollback and another history ErrFork.
func TestWitnessedCatchesRollback(t *testing.T) {
	for _, withState := range []bool{false, true} {
		wsk, _ := genWitnessKey("witness-1.example")
		skey, vkey, _ := GenerateKey("kiosk-7.example")
		w := newDirWitness(t.TempDir(), wsk, vkey)
		dir := t.TempDir()
		opt := Options{Controller: testController().Recipient(), Witnesses: []Witness{w}, WitnessPolicy: WitnessPolicy{Interval: time.Hour}}
		state := filepath.Join(t.TempDir(), "last-signed")
		if withState {
			opt.StatePath = state
		}
		l, err := Open(dir, skey, opt)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range 15 {
			l.Append(ctx, verifyEntry(i), personal(1, byte(i)))
		}
		l.Close()
		old := copyDir(t, dir)
		oldState, _ := os.ReadFile(state)
		if l, err = Open(dir, skey, opt); err != nil {
			t.Fatal(err)
		}
		for i := 15; i < 20; i++ {
			l.Append(ctx, verifyEntry(i), personal(1, byte(i)))
		}
		if _, err := l.Witness(ctx); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if _, err := LatestWitnessed(dir); err != nil {
			t.Fatal(err)
		}
		restore := func(from string) {
			for _, f := range []string{entriesFile, personalFile, checkpointsFile} {
				data, err := os.ReadFile(filepath.Join(from, f))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, f), data, 0o600)
			}
			if withState {
				os.WriteFile(state, oldState, 0o600)
			}
		}
		restore(old)
		if l, err := Open(dir, skey, Options{StatePath: opt.StatePath}); !errors.Is(err, ErrRollback) {
			if err == nil {
				l.Close()
			}
			t.Fatalf("state copy %v: Open of a log cut back behind its witnessed checkpoint: %v", withState, err)
		} else {
			t.Logf("state copy %v: %v", withState, err)
		}

		// A fork: the old copy grows to 20 other entries under the
		// device's key, and is put in place of the witnessed history.
		fork, err := Open(old, skey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 15; i < 20; i++ {
			fork.Append(ctx, verifyEntry(1000+i), nil)
		}
		fork.Close()
		restore(old)
		if withState {
			os.Remove(state) // the copy would catch it; the witnessed checkpoint alone must too
			opt.StatePath = ""
		}
		if l, err := Open(dir, skey, Options{}); !errors.Is(err, ErrFork) {
			if err == nil {
				l.Close()
			}
			t.Fatalf("state copy %v: Open of a forked history: %v", withState, err)
		} else {
			t.Logf("fork: %v", err)
		}
	}
}
