package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestMigrateV1Log opens a log written by oneface audit 0.1 (generated
// by that version's code into testdata/v1log: plain subject keys in keys/,
// side.secret, v1 entries and personal records). Without a controller it
// is refused; with one its keys are wrapped, side.secret and the plain
// keys are gone, the controller exports every record, old receipts and
// checkpoints verify, and new entries are v3.
func TestMigrateV1Log(t *testing.T) {
	src := filepath.Join("testdata", "v1log")
	dir := copyDir(t, filepath.Join(src, "log"))
	skey := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(src, "log.key")))))
	vkey := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(src, "log.pub")))))
	oldCP := must(os.ReadFile(filepath.Join(src, "checkpoint")))
	oldReceipt := must(os.ReadFile(filepath.Join(src, "receipt-0")))
	plainKeys := map[string][]byte{}
	ents, _ := os.ReadDir(filepath.Join(dir, keysDir))
	for _, e := range ents {
		plainKeys["plain key "+e.Name()] = must(os.ReadFile(filepath.Join(dir, keysDir, e.Name())))
	}
	if len(plainKeys) != 5 {
		t.Fatalf("the 0.1 fixture has %d key files", len(plainKeys))
	}
	if _, err := Open(dir, skey, Options{}); !errors.Is(err, ErrNoController) {
		t.Fatalf("0.1 log opened without a controller: %v", err)
	}
	l, err := Open(dir, skey, Options{Controller: testController().Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, legacySideFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("side.secret survived the migration")
	}
	ctx := context.Background()
	want := map[byte][]int64{0: {0, 2, 4}, 1: {1, 3}}
	for sub, idx := range want {
		ex, err := l.Export(ctx, personal(sub, 0).Subject, testController())
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range ex.Records {
			got = append(got, r.Index)
		}
		if fmt.Sprint(got) != fmt.Sprint(idx) {
			t.Fatalf("subject %d: records %v, want %v", sub, got, idx)
		}
	}
	a, err := l.Append(ctx, verifyEntry(6), personal(0, 6))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r, _ := ParseRecord(must(readFrameFileEntry(dir, 0))); r.Version != 1 {
		t.Fatal("old entry is not v1")
	}
	if info, err := CheckReceipt(a.Receipt, vkey); err != nil || info.Record.Version != 3 {
		t.Fatalf("new entry: %v", err)
	}
	if info, err := CheckReceipt(oldReceipt, vkey); err != nil || info.Personal == nil || info.Record.Version != 1 {
		t.Fatalf("0.1 receipt after migration: %v", err)
	}
	if _, err := VerifyDir(dir, oldCP, vkey); err != nil {
		t.Fatalf("0.1 checkpoint after migration: %v", err)
	}
	if found := scanDir(t, dir, plainKeys); len(found) > 0 {
		t.Fatalf("after migration: %q", found)
	}
	// Migrated: a second open needs no controller option (recorded).
	l2, err := Open(dir, skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}

func readFrameFileEntry(dir string, i int) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, entriesFile))
	ps, _, _, _ := readFrames(data)
	return ps[i], err
}

// TestEntryV2FieldsAndKinds: verify entries carry liveness and notice;
// the config entry carries the policy; Sweep always records itself; the
// personal part carries the notice hash and consent time.
func TestEntryV2FieldsAndKinds(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	l := newTestLog(t, Options{Clock: func() time.Time { return now }})
	ctx := context.Background()
	pol := PolicySummary{TargetFMR: 1e-4, Liveness: "passive-v1", LockoutMaxFailures: 5, LockoutWindow: 15 * time.Minute,
		Notices: []string{"notice-2026-11", "notice-2026-06"}, SiteCalibration: bytes.Repeat([]byte{0xab}, 32)}
	a, err := l.AppendConfig(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := CheckReceipt(a.Receipt, l.vkey)
	got, err := info.Record.Policy()
	if err != nil || fmt.Sprint(*got) != fmt.Sprint(pol) {
		t.Fatalf("policy round trip: %v\n%+v\n%+v", err, got, pol)
	}
	e := verifyEntry(1)
	e.Liveness, e.Notice = "passive-v1", "notice-2026-11"
	p := personal(1, 1)
	p.NoticeHash, p.ConsentAt = [32]byte{1, 2, 3}, now.Add(-time.Minute)
	a, err = l.Append(ctx, e, p)
	if err != nil {
		t.Fatal(err)
	}
	info, err = CheckReceipt(a.Receipt, l.vkey)
	if err != nil || info.Record.Entry.Liveness != "passive-v1" || info.Record.Entry.Notice != "notice-2026-11" ||
		info.Personal.NoticeHash != p.NoticeHash || !info.Personal.ConsentAt.Equal(p.ConsentAt) {
		t.Fatalf("v2 fields: %v %+v %+v", err, info.Record.Entry, info.Personal)
	}
	if n, err := l.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	last, _ := ParseRecord(must(l.Entry(l.Size() - 1)))
	if last.Entry.Kind != KindSweep || !strings.Contains(last.Detail, "keys=0") {
		t.Fatalf("sweep entry: %+v", last)
	}
	for _, bad := range []Entry{
		{Kind: KindConfig, Purpose: "-", Decision: DecisionNone, Reason: "startup", ModelID: "-"},
		{Kind: KindSweep, Purpose: "-", Decision: DecisionNone, Reason: "retention", ModelID: "-"},
		{Kind: KindRevoke, Purpose: "-", Decision: DecisionMatch, Reason: "x", ModelID: "-"},
		{Kind: KindVerify, Purpose: "-", Decision: DecisionNone, Reason: "x", ModelID: "-"},
		{Kind: KindVerify, Purpose: "-", Decision: DecisionMatch, Reason: "x", ModelID: "-", Liveness: "two words"},
	} {
		if _, err := l.Append(ctx, bad, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	for _, bad := range []PolicySummary{{}, {TargetFMR: 2}, {TargetFMR: 1e-3, LockoutWindow: time.Millisecond}, {TargetFMR: 1e-3, SiteCalibration: []byte{1}}, {TargetFMR: 1e-3, Notices: []string{"a b"}}} {
		if _, err := l.AppendConfig(ctx, bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("policy %+v: %v", bad, err)
		}
	}
	// Revocation and consent withdrawal: their own kinds, personal part
	// committed.
	for _, k := range []Kind{KindRevoke, KindConsentWithdrawn} {
		a, err := l.Append(ctx, Entry{Kind: k, Purpose: "-", Decision: DecisionNone, Reason: "holder_request", ModelID: "-"}, personal(1, 1))
		if err != nil {
			t.Fatal(err)
		}
		if info, err := CheckReceipt(a.Receipt, l.vkey); err != nil || info.Record.Entry.Kind != k || info.Personal == nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if _, err := VerifyDir(l.dir, l.Checkpoint(), l.vkey); err != nil {
		t.Fatal(err)
	}
}

// TestReceiptTextForms: the bug report's receipt, with CRLF line ends,
// verifies like the original; so do trailing blanks and a lost or added
// final newline; anything else is refused, naming the problem.
func TestReceiptTextForms(t *testing.T) {
	check := func(t *testing.T, rc []byte, key string) {
		t.Helper()
		base, err := CheckReceipt(rc, key)
		if err != nil {
			t.Fatal(err)
		}
		lf := bytes.TrimRight(rc, "\n")
		forms := map[string][]byte{
			"crlf":                bytes.ReplaceAll(rc, []byte("\n"), []byte("\r\n")),
			"trailing-blanks":     bytes.ReplaceAll(rc, []byte("\n"), []byte(" \t\n")),
			"no-final-newline":    lf,
			"extra-final-newline": append(bytes.Clone(rc), "\n\n"...),
			"crlf-no-final":       bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")),
			"cr-only":             bytes.ReplaceAll(rc, []byte("\n"), []byte("\r")),
			"bom":                 append([]byte("\xef\xbb\xbf"), rc...),
			"blank-lines-around":  append(append([]byte("\n\r\n"), rc...), "\n \n"...),
		}
		for name, f := range forms {
			info, err := CheckReceipt(f, key)
			if err != nil || info.Record.Index != base.Record.Index || info.CheckpointSize != base.CheckpointSize {
				t.Errorf("%s: %v", name, err)
			}
		}
		bad := map[string]struct {
			text []byte
			want string
		}{
			"control-char":   {bytes.Replace(rc, []byte("proof "), []byte("proof \x0b"), 1), "line 4, column 7: control character 0x0b"},
			"invalid-utf8":   {bytes.Replace(rc, []byte("entry "), []byte("entry \xff"), 1), "line 2, column 7: invalid UTF-8"},
			"bom-inside":     {bytes.Replace(rc, []byte("proof "), []byte("proof \xef\xbb\xbf"), 1), "byte-order mark inside"},
			"blank-in-head":  {bytes.Replace(rc, []byte("\nproof "), []byte("\n\nproof "), 1), "3 lines before the first empty line"},
			"wrapped-base64": {bytes.Replace(rc, []byte("entry "), []byte("entry \n"), 1), "receipt line 2"},
			"leading-blank":  {append([]byte(" "), rc...), "unexpected intro"},
		}
		for name, b := range bad {
			if _, err := CheckReceipt(b.text, key); err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("%s: %v, want an error naming %q", name, err, b.want)
			}
		}
	}
	t.Run("own", func(t *testing.T) {
		l := newTestLog(t, Options{})
		a, _ := l.Append(context.Background(), verifyEntry(0), personal(1, 1))
		check(t, a.Receipt, l.vkey)
		// A checkpoint with CRLF given to VerifyLog and CheckConsistency.
		cp := bytes.ReplaceAll(l.Checkpoint(), []byte("\n"), []byte("\r\n"))
		l.Close()
		if _, err := VerifyDir(l.dir, cp, l.vkey); err != nil {
			t.Fatal(err)
		}
		if err := CheckConsistency(cp, cp, nil, l.vkey); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bugreport", func(t *testing.T) {
		dir := filepath.Join("..", "..", "shared", "bugreports", "receipt-line-endings")
		crlf, err := os.ReadFile(filepath.Join(dir, "receipt-crlf.txt"))
		if errors.Is(err, os.ErrNotExist) {
			t.Skip("../shared/bugreports not present")
		}
		orig := must(os.ReadFile(filepath.Join(dir, "receipt.txt")))
		key := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "log.pub")))))
		a, err := CheckReceipt(orig, key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := CheckReceipt(crlf, key)
		if err != nil || b.Record.Index != a.Record.Index || b.CheckpointSize != a.CheckpointSize || (a.Personal == nil) != (b.Personal == nil) {
			t.Fatalf("CRLF receipt: %v", err)
		}
		t.Logf("bug report's CRLF receipt verifies: entry %d of %s, checkpoint of %d, decision %s", b.Record.Index, b.Record.Device, b.CheckpointSize, b.Record.Entry.Decision)
		check(t, orig, key)
	})
}

// TestCheckpointExtensionLines: a C2SP checkpoint with extension lines
// (signed by the log's key) is accepted.
func TestCheckpointExtensionLines(t *testing.T) {
	l := newTestLog(t, Options{})
	for i := range 3 {
		l.Append(context.Background(), verifyEntry(i), nil)
	}
	l.Close()
	c, _ := l.parseCheckpoint(l.Checkpoint())
	signer, _ := note.NewSigner(l.skey)
	ext, err := note.Sign(&note.Note{Text: string(c.Marshal()) + "extension one\nanother extension\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyDir(l.dir, ext, l.vkey); err != nil || rep.CheckpointSize != 3 {
		t.Fatalf("checkpoint with extension lines: %v", err)
	}
	if err := CheckConsistency(ext, l.Checkpoint(), nil, l.vkey); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyPADField: the PAD threshold in force and its source round-trip
// through the config entry; a summary without it keeps the encoding that
// entries written before the field existed have.
func TestPolicyPADField(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	site := bytes.Repeat([]byte{0xcd}, 32)
	for _, pol := range []PolicySummary{
		{TargetFMR: 1e-3, Liveness: "passive", LockoutMaxFailures: 5, LockoutWindow: time.Minute, Notices: []string{"n-1"}, PADThreshold: 0.3276, PADCalibration: PADShipped},
		{TargetFMR: 1e-3, Liveness: "both", LockoutMaxFailures: 5, LockoutWindow: time.Minute, Notices: []string{"n-1"}, SiteCalibration: site, PADThreshold: 0.2112, PADCalibration: PADSite},
		{TargetFMR: 1e-3, Liveness: "none", LockoutMaxFailures: 5, LockoutWindow: time.Minute, Notices: []string{"n-1"}},
	} {
		a, err := l.AppendConfig(ctx, pol)
		if err != nil {
			t.Fatal(err)
		}
		info, err := CheckReceipt(a.Receipt, l.vkey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := info.Record.Policy()
		if err != nil || fmt.Sprint(*got) != fmt.Sprint(pol) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, got, pol)
		}
		if strings.Contains(info.Record.Detail, "pad=") != (pol.PADThreshold != 0) {
			t.Errorf("detail %q", info.Record.Detail)
		}
	}
	for _, bad := range []PolicySummary{
		{TargetFMR: 1e-3, PADThreshold: 0.3},
		{TargetFMR: 1e-3, PADCalibration: PADShipped},
		{TargetFMR: 1e-3, PADThreshold: 1.5, PADCalibration: PADShipped},
		{TargetFMR: 1e-3, PADThreshold: 0.3, PADCalibration: "guess"},
		{TargetFMR: 1e-3, PADThreshold: 0.3, PADCalibration: PADSite}, // no site calibration hash
	} {
		if _, err := l.AppendConfig(ctx, bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("policy %+v: %v", bad, err)
		}
	}
}

// TestEntryNamesPolicy: an entry carries the hash of the configuration it
// was made under, reads back with it, and refuses a malformed one.
func TestEntryNamesPolicy(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	pol := PolicySummary{TargetFMR: 1e-3, Liveness: "passive", LockoutMaxFailures: 5, LockoutWindow: time.Minute, PADThreshold: 0.3276, PADCalibration: PADShipped}
	if _, err := l.AppendConfig(ctx, pol); err != nil {
		t.Fatal(err)
	}
	h, err := pol.Hash()
	if err != nil || len(h) != 32 {
		t.Fatalf("hash %q %v", h, err)
	}
	other := pol
	other.PADThreshold = 0.99
	if h2, _ := other.Hash(); h2 == h {
		t.Fatal("two policies, one hash")
	}
	e := verifyEntry(1)
	e.Policy = h
	a, err := l.Append(ctx, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := CheckReceipt(a.Receipt, l.vkey)
	if err != nil || info.Record.Entry.Policy != h || info.Record.Detail != "policy="+h {
		t.Fatalf("%v %+v %q", err, info.Record.Entry, info.Record.Detail)
	}
	for _, bad := range []string{"ABCDEF0123456789ABCDEF0123456789", "abc", strings.Repeat("g", 32)} {
		e.Policy = bad
		if _, err := l.Append(ctx, e, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("policy %q: %v", bad, err)
		}
	}
}
