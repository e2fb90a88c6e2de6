package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oneface/oneface/audit"
)

// refusingWitness refuses every checkpoint, as a witness does that saw a
// larger tree (a rollback) or another root (a fork).
type refusingWitness struct{}

func (refusingWitness) Name() string { return "witness-refuses.example" }
func (refusingWitness) Cosign(context.Context, []byte, audit.ProofFunc) ([]byte, error) {
	return nil, fmt.Errorf("%w: saw a larger tree", audit.ErrWitnessRefused)
}

// TestAuditAcknowledgeRefusal: after a witness's refusal the device
// refuses appends; `audit verify` of the directory warns of it;
// `audit acknowledge-refusal -note` prints the refusal, keeps it in
// refusals/ with the note, and the log appends again.
func TestAuditAcknowledgeRefusal(t *testing.T) {
	skey, vkey, err := audit.GenerateKey("kiosk-r.test")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "log")
	ctx := context.Background()
	l, err := audit.Open(dir, skey, audit.Options{Witnesses: []audit.Witness{refusingWitness{}}, WitnessPolicy: audit.WitnessPolicy{Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	e := audit.Entry{Kind: audit.KindRevoke, Purpose: "-", Decision: audit.DecisionNone, Reason: "test", ModelID: "-"}
	if _, err := l.Append(ctx, e, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Witness(ctx); !errors.Is(err, audit.ErrWitnessRefused) {
		t.Fatalf("witness: %v", err)
	}
	l.Close()
	appendOnce := func() error {
		l, err := audit.Open(dir, skey, audit.Options{})
		if err != nil {
			return err
		}
		defer l.Close()
		_, err = l.Append(ctx, e, nil)
		return err
	}
	if err := appendOnce(); !errors.Is(err, audit.ErrWitnessRefused) {
		t.Fatalf("append after a refusal: %v", err)
	}
	code, out, stderr := runCLI("audit", "verify", "-key", vkey, dir)
	if code != 0 || !strings.Contains(out, "WARNING: a witness refused this log's checkpoint") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI("audit", "acknowledge-refusal", "-note", "restored from backup, see ticket 42", dir)
	if code != 0 || !strings.Contains(out, "witness-refuses.example") || !strings.Contains(out, "acknowledged") {
		t.Fatalf("acknowledge: exit %d\n%s%s", code, out, stderr)
	}
	kept, err := os.ReadDir(filepath.Join(dir, "refusals"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("refusals/: %v %v", kept, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "refusals", kept[0].Name()))
	if !strings.Contains(string(b), "ticket 42") {
		t.Errorf("the kept record lacks the note:\n%s", b)
	}
	if err := appendOnce(); err != nil {
		t.Fatalf("append after the acknowledgement: %v", err)
	}
	if code, _, _ := runCLI("audit", "acknowledge-refusal", "-note", "again", dir); code != 1 {
		t.Errorf("nothing pending: exit %d", code)
	}
}
