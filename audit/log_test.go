package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/tlog"
)

type testLog struct {
	*Log
	dir, skey, vkey string
	id              *age.X25519Identity // the controller's identity (off the device in real life)
}

// testController is one controller key for the package's tests.
var testController = sync.OnceValue(func() *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		panic(err)
	}
	return id
})

func newTestLog(t testing.TB, opt Options) *testLog {
	t.Helper()
	skey, vkey, err := GenerateKey("kiosk-7.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if opt.Controller == nil {
		opt.Controller = testController().Recipient()
	}
	l, err := Open(dir, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &testLog{l, dir, skey, vkey, testController()}
}

func verifyEntry(i int) Entry {
	d := DecisionMatch
	if i%3 == 0 {
		d = DecisionNoMatch
	}
	return Entry{Kind: KindVerify, Purpose: "door-main", Decision: d, Reason: fmt.Sprintf("r%d", i), ModelID: "22f8e3a4c14b119fcd91c04df60f2202"}
}

func personal(subject byte, ref byte) *Personal {
	return &Personal{ReferenceID: [16]byte{0xee, ref, 0x5a}, Subject: [16]byte{0xcc, subject, 0xa5}, ConsentID: [16]byte{ref, subject}, Notice: "notice-3"}
}

func TestAppendReceiptsAndProofs(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	var receipts [][]byte
	var cps [][]byte
	for i := range 20 {
		a, err := l.Append(ctx, verifyEntry(i), personal(byte(i%2), byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		if a.Index != int64(i) {
			t.Fatalf("index %d, want %d", a.Index, i)
		}
		info, err := CheckReceipt(a.Receipt, l.vkey)
		if err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		if info.Personal == nil || info.Personal.ReferenceID != personal(byte(i%2), byte(i)).ReferenceID || info.Record.Entry.Reason != fmt.Sprintf("r%d", i) {
			t.Fatalf("receipt %d proves the wrong entry: %+v", i, info)
		}
		receipts = append(receipts, a.Receipt)
		cps = append(cps, l.Checkpoint())
	}
	// Every earlier checkpoint is a prefix of every later one.
	for i := range cps {
		for j := i; j < len(cps); j++ {
			p, err := l.ProveConsistency(int64(i+1), int64(j+1))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckConsistency(cps[i], cps[j], p, l.vkey); err != nil {
				t.Fatalf("consistency %d→%d: %v", i+1, j+1, err)
			}
			if i < j {
				if err := CheckConsistency(cps[j], cps[i], p, l.vkey); err == nil {
					t.Fatal("a newer checkpoint passed as the older one")
				}
			}
		}
	}
	// Re-issued receipts, with and without the opening.
	r, err := l.Receipt(3, l.id)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := CheckReceipt(r, l.vkey); err != nil || info.Personal == nil || info.CheckpointSize != 20 {
		t.Fatalf("re-issued receipt: %v", err)
	}
	r, _ = l.Receipt(3, nil)
	if info, err := CheckReceipt(r, l.vkey); err != nil || info.Personal != nil {
		t.Fatalf("receipt without opening: %v", err)
	}
	// Reopening rebuilds the same tree.
	root := l.Checkpoint()
	l.Close()
	l2, err := Open(l.dir, l.skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Size() != 20 || !bytes.Equal(l2.Checkpoint(), root) {
		t.Fatalf("reopened: size %d, checkpoint changed", l2.Size())
	}
	if _, err := VerifyDir(l.dir, root, l.vkey); err != nil {
		t.Fatal(err)
	}
	// A different log key does not verify anything.
	_, other, _ := GenerateKey("kiosk-7.example")
	if _, err := CheckReceipt(receipts[0], other); !errors.Is(err, ErrBadProof) {
		t.Fatalf("other key: %v", err)
	}
	if _, err := VerifyDir(l.dir, root, other); !errors.Is(err, ErrBadProof) {
		t.Fatalf("other key: %v", err)
	}
}

func TestReceiptMutations(t *testing.T) {
	l := newTestLog(t, Options{})
	var last Appended
	for i := range 5 {
		a, err := l.Append(context.Background(), verifyEntry(i), personal(1, byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		last = a
	}
	rc := last.Receipt
	for i := range rc {
		b := bytes.Clone(rc)
		b[i] ^= 1
		if info, err := CheckReceipt(b, l.vkey); err == nil || info != nil {
			t.Fatalf("receipt with byte %d flipped accepted", i)
		}
	}
	for n := range len(rc) - 1 {
		if _, err := CheckReceipt(rc[:n], l.vkey); err == nil {
			t.Fatalf("receipt cut to %d bytes accepted", n)
		}
	}
	// Losing only the final newline is a text-transport change: accepted.
	if _, err := CheckReceipt(rc[:len(rc)-1], l.vkey); err != nil {
		t.Fatalf("receipt without its final newline: %v", err)
	}
}

func TestAppendRejectsNonTokens(t *testing.T) {
	l := newTestLog(t, Options{})
	bad := []Entry{
		{Kind: "selfie", Purpose: "p", Decision: DecisionMatch, Reason: "ok", ModelID: "-"},
		{Kind: KindVerify, Purpose: "p", Decision: "maybe", Reason: "ok", ModelID: "-"},
		{Kind: KindVerify, Purpose: "has space", Decision: DecisionMatch, Reason: "ok", ModelID: "-"},
		{Kind: KindVerify, Purpose: "p", Decision: DecisionMatch, Reason: string(bytes.Repeat([]byte{'a'}, 65)), ModelID: "-"},
		{Kind: KindVerify, Purpose: "p", Decision: DecisionMatch, Reason: "ok\nkind config", ModelID: "-"},
		{Kind: KindVerify, Purpose: "", Decision: DecisionMatch, Reason: "ok", ModelID: "-"},
	}
	for _, e := range bad {
		if _, err := l.Append(context.Background(), e, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: %v", e, err)
		}
	}
	if _, err := l.Append(context.Background(), verifyEntry(1), &Personal{Notice: "two words"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad notice: %v", err)
	}
	if l.Size() != 0 {
		t.Fatalf("rejected entries were logged: %d", l.Size())
	}
}

func TestConcurrentAppends(t *testing.T) {
	l := newTestLog(t, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]string{}
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				e := verifyEntry(i)
				e.Reason = fmt.Sprintf("g%d-%d", g, i)
				a, err := l.Append(context.Background(), e, personal(byte(g), byte(i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := seen[a.Index]; dup {
					t.Errorf("index %d acknowledged twice", a.Index)
				}
				seen[a.Index] = e.Reason
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if l.Size() != 400 || len(seen) != 400 {
		t.Fatalf("size %d, acknowledged %d", l.Size(), len(seen))
	}
	for idx, reason := range seen {
		data, err := l.Entry(idx)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := ParseRecord(data); r.Entry.Reason != reason {
			t.Fatalf("entry %d holds %q, acknowledged %q", idx, r.Entry.Reason, reason)
		}
	}
	if _, err := VerifyDir(l.dir, l.Checkpoint(), l.vkey); err != nil {
		t.Fatal(err)
	}
}

// TestFailedWriteFailsClosed: when the entries file cannot be written,
// Append reports an error (no acknowledgement) and the log refuses further
// appends until it is reopened, which finds everything acknowledged before.
func TestFailedWriteFailsClosed(t *testing.T) {
	l := newTestLog(t, Options{})
	for i := range 3 {
		if _, err := l.Append(context.Background(), verifyEntry(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	l.entries.f.Close() // the disk goes away
	if _, err := l.Append(context.Background(), verifyEntry(3), nil); err == nil {
		t.Fatal("append acknowledged with the file closed")
	}
	if _, err := l.Append(context.Background(), verifyEntry(4), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("after a failed write: %v", err)
	}
	l.Close()
	l2, err := Open(l.dir, l.skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Size() != 3 {
		t.Fatalf("reopened with %d entries, want 3", l2.Size())
	}
	if _, err := l2.Append(context.Background(), verifyEntry(3), nil); err != nil {
		t.Fatal(err)
	}
}

func TestOneProcessPerLog(t *testing.T) {
	l := newTestLog(t, Options{})
	if _, err := Open(l.dir, l.skey, Options{}); err == nil {
		t.Fatal("a second open of the same log succeeded")
	}
}

func TestCloseIsIdempotentAndRefuses(t *testing.T) {
	l := newTestLog(t, Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), verifyEntry(0), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// needles are the forms in which personal data could leak into a file.
func needles(b []byte) [][]byte {
	return [][]byte{b, []byte(hex.EncodeToString(b)), []byte(base64.StdEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b))}
}

// scanDir returns "<what> in <file>" for every secret found in any form in
// any file (or file name) below dir.
func scanDir(t *testing.T, dir string, secrets map[string][]byte) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			for _, n := range needles(s) {
				if bytes.Contains(data, n) || bytes.Contains([]byte(p), n) {
					found = append(found, what+" in "+p)
				}
			}
		}
		return nil
	})
	return found
}

func TestEraseMakesEntriesUnattributable(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	alice, bob := personal(1, 10), personal(2, 20)
	var aliceReceipts, cps [][]byte
	for i := range 12 {
		p := bob
		if i%3 == 0 {
			p = alice
		}
		a, err := l.Append(ctx, verifyEntry(i), p)
		if err != nil {
			t.Fatal(err)
		}
		if p == alice {
			aliceReceipts = append(aliceReceipts, a.Receipt)
		}
		cps = append(cps, l.Checkpoint())
	}
	aliceKey := bytes.Clone(l.keys.cache[hex.EncodeToString(alice.Subject[:])+epochOf(time.Now())].key)
	ex, _ := l.Export(ctx, alice.Subject, l.id)
	if len(ex.Records) != 4 {
		t.Fatalf("export before erase: %d records, want 4", len(ex.Records))
	}
	secrets := map[string][]byte{
		"alice's reference ID": alice.ReferenceID[:],
		"alice's pseudonym":    alice.Subject[:],
		"alice's subject key":  aliceKey,
	}
	// The key is in memory only: not even before erasure is it on disk.
	if found := scanDir(t, l.dir, secrets); len(found) != 0 {
		t.Fatalf("before erasure the scan found %q", found)
	}
	n, err := l.Erase(ctx, alice.Subject, "subject_request", l.id)
	if err != nil || n != 4 {
		t.Fatalf("erase: %d, %v", n, err)
	}
	l.Close() // flush everything to disk, then look at the bytes
	if found := scanDir(t, l.dir, secrets); len(found) > 0 {
		t.Fatalf("after erasure: %q", found)
	}
	files := 0
	filepath.WalkDir(l.dir, func(string, fs.DirEntry, error) error { files++; return nil })
	t.Logf("erasure byte scan: %d files and directories, %d secrets in 4 encodings each, none found", files, len(secrets))
	l2, err := Open(l.dir, l.skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if ex, _ := l2.Export(ctx, alice.Subject, l.id); len(ex.Records) != 0 {
		t.Fatalf("alice still has %d attributable records", len(ex.Records))
	}
	if ex, _ := l2.Export(ctx, bob.Subject, l.id); len(ex.Records) != 8 {
		t.Fatalf("bob has %d records, want 8", len(ex.Records))
	}
	// Every old checkpoint and receipt still verifies.
	for i, cp := range cps {
		if _, err := VerifyDir(l.dir, cp, l.vkey); err != nil {
			t.Fatalf("checkpoint %d after erase: %v", i, err)
		}
	}
	for i, rc := range aliceReceipts {
		if _, err := CheckReceipt(rc, l.vkey); err != nil {
			t.Fatalf("alice's receipt %d after erase: %v", i, err)
		}
	}
	if last, _ := ParseRecord(must(l2.Entry(l2.Size() - 1))); last.Entry.Kind != KindErase || last.Commitment != nil {
		t.Fatalf("no anonymous erase entry: %+v", last)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestRetentionSweep(t *testing.T) {
	now := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := newTestLog(t, Options{Clock: clock})
	ctx := context.Background()
	p := personal(1, 1)
	if _, err := l.Append(ctx, verifyEntry(0), p); err != nil { // January
		t.Fatal(err)
	}
	now = time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC)
	if _, err := l.Append(ctx, verifyEntry(1), p); err != nil { // July
		t.Fatal(err)
	}
	// End of July: January ended 1 Feb; 1 Feb + 180 days = 31 July.
	if n, err := l.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("early sweep erased %d (%v)", n, err)
	}
	now = time.Date(2026, 8, 15, 0, 0, 0, 0, time.UTC)
	n, err := l.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep erased %d key files (%v), want 1", n, err)
	}
	ex, _ := l.Export(ctx, p.Subject, l.id)
	if len(ex.Records) != 1 || ex.Records[0].Index != 1 {
		t.Fatalf("after the sweep: %+v", ex.Records)
	}
	if _, err := VerifyDir(l.dir, l.Checkpoint(), l.vkey); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointFormat(t *testing.T) {
	l := newTestLog(t, Options{})
	l.Append(context.Background(), verifyEntry(0), nil)
	cp := string(l.Checkpoint())
	var size int
	var root, rest string
	if n, _ := fmt.Sscanf(cp, "kiosk-7.example\n%d\n%s\n\n%s", &size, &root, &rest); n != 3 || size != 1 || rest != "—" {
		t.Fatalf("not a C2SP checkpoint note:\n%s", cp)
	}
	h, err := tlog.TreeHash(1, l.hashReader())
	if err != nil || base64.StdEncoding.EncodeToString(h[:]) != root {
		t.Fatalf("root %s, tree %v", root, h)
	}
}

// TestCheckpointSignatureEncodingIsCanonical: a signature re-encoded with
// non-zero padding bits decodes to the same bytes under lax base64; the
// receipt must still be refused (found by TestReceiptMutations, which
// flips every byte).
func TestCheckpointSignatureEncodingIsCanonical(t *testing.T) {
	l := newTestLog(t, Options{})
	a, err := l.Append(context.Background(), verifyEntry(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := string(a.Receipt)
	i := strings.LastIndex(rc, "=") // the signature's padding
	for i > 0 && rc[i-1] == '=' {
		i--
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alphabet, rc[i-1])
	forged := rc[:i-1] + string(alphabet[last^1]) + rc[i:]
	if lax, _ := base64.StdEncoding.DecodeString(strings.Fields(rc[strings.LastIndex(rc, "\n—"):])[2]); len(lax) == 0 {
		t.Fatal("could not find the signature")
	}
	if _, err := CheckReceipt([]byte(rc), l.vkey); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckReceipt([]byte(forged), l.vkey); err == nil {
		t.Fatal("a re-encoded signature was accepted")
	}
}
