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
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// build20 makes a closed log of 20 entries and returns it with the
// checkpoint of size 20 an auditor (or witness) collected.
func build20(t *testing.T, opt Options) (*testLog, []byte) {
	l := newTestLog(t, opt)
	for i := range 20 {
		if _, err := l.Append(context.Background(), verifyEntry(i), personal(byte(i%3), byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	cp := l.Checkpoint()
	l.Close()
	return l, cp
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	return dst
}

// TestOpenRefusesRollback: an attacker with the disk but no key drops
// entries (cut at a frame boundary, a flipped last byte, the checkpoints
// file deleted or emptied). Before: Open "repaired" the log and signed a
// shorter checkpoint. Now Open refuses naming the entry, and VerifyLog
// holding the collected checkpoint reports the rollback.
func TestOpenRefusesRollback(t *testing.T) {
	cases := []struct {
		name      string
		attack    func(dir string)
		wantIndex int64
		wantKind  error
	}{
		{"truncate-at-frame-boundary", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, entriesFile))
			ps, _, _, _ := readFrames(data)
			os.WriteFile(filepath.Join(dir, entriesFile), frames(ps[:15]), 0o600)
		}, 15, ErrRollback},
		{"flip-last-byte", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, entriesFile))
			data[len(data)-1] ^= 1
			os.WriteFile(filepath.Join(dir, entriesFile), data, 0o600)
		}, 19, ErrCorrupt},
		{"delete-checkpoints-file", func(dir string) {
			os.Remove(filepath.Join(dir, checkpointsFile))
		}, -1, ErrRollback},
		{"empty-checkpoints-file", func(dir string) {
			os.WriteFile(filepath.Join(dir, checkpointsFile), nil, 0o600)
		}, -1, ErrRollback},
		{"forged-checkpoint-frame", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, checkpointsFile))
			cps, _, _, _ := readFrames(data)
			forged := bytes.Replace(cps[5], []byte("\n\n"), []byte("\n\n"), 1)
			text, sig, _ := bytes.Cut(forged, []byte("\n\n"))
			lines := bytes.Split(text, []byte("\n"))
			lines[2] = []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
			cps[5] = append(append(bytes.Join(lines, []byte("\n")), "\n\n"...), sig...)
			os.WriteFile(filepath.Join(dir, checkpointsFile), frames(cps), 0o600)
		}, -1, ErrCorrupt},
		{"delete-checkpoints-and-cut-last-frame", func(dir string) {
			os.Remove(filepath.Join(dir, checkpointsFile))
			data, _ := os.ReadFile(filepath.Join(dir, entriesFile))
			os.WriteFile(filepath.Join(dir, entriesFile), data[:len(data)-3], 0o600)
		}, -1, ErrRollback},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, collected := build20(t, Options{})
			c.attack(l.dir)
			l2, err := Open(l.dir, l.skey, Options{})
			if err == nil {
				l2.Close()
				t.Fatal("Open accepted the rolled-back log")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, c.wantKind) || ce.Index != c.wantIndex {
				t.Fatalf("Open: %v, want a CorruptError at %d matching %v", err, c.wantIndex, c.wantKind)
			}
			t.Logf("Open: %v", err)
			// The auditor holding the collected checkpoint: entries lost
			// are reported at the first missing one; a deleted checkpoints
			// file alone loses no entry, and the log still verifies.
			_, err = VerifyLog(l.dir, l.vkey, VerifyOptions{Checkpoints: [][]byte{collected}})
			switch c.name {
			case "truncate-at-frame-boundary", "flip-last-byte", "delete-checkpoints-and-cut-last-frame":
				want := c.wantIndex
				if want < 0 {
					want = 19
				}
				if !errors.As(err, &ce) || ce.Index != want {
					t.Fatalf("VerifyLog with the collected checkpoint: %v, want entry %d", err, want)
				}
				t.Logf("VerifyLog: %v", err)
			case "delete-checkpoints-file", "empty-checkpoints-file":
				if err != nil {
					t.Fatalf("VerifyLog: %v", err)
				}
			case "forged-checkpoint-frame":
				if !errors.Is(err, ErrBadProof) {
					t.Fatalf("VerifyLog with a forged checkpoint in the directory: %v", err)
				}
			}
		})
	}
}

// TestTornTailPastCheckpointStillRepaired: bytes past the last signed
// checkpoint are a crash's torn tail and are cut.
func TestTornTailPastCheckpointStillRepaired(t *testing.T) {
	l, collected := build20(t, Options{})
	f, _ := os.OpenFile(filepath.Join(l.dir, entriesFile), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(appendFrame(nil, []byte("half a frame"))[:9])
	f.Close()
	l2, err := Open(l.dir, l.skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Size() != 20 || !bytes.Equal(l2.Checkpoint(), collected) {
		t.Fatalf("size %d after cutting the torn tail", l2.Size())
	}
}

// TestStateCopyCatchesConsistentRollback: an attacker who cuts the
// entries and the checkpoints file consistently fools the directory alone;
// the copy on separate storage (Options.StatePath) catches it.
func TestStateCopyCatchesConsistentRollback(t *testing.T) {
	state := filepath.Join(t.TempDir(), "last-signed")
	l, collected := build20(t, Options{StatePath: state})
	if got, _ := os.ReadFile(state); !bytes.Equal(got, collected) {
		t.Fatal("the state copy is not the last signed checkpoint")
	}
	data, _ := os.ReadFile(filepath.Join(l.dir, entriesFile))
	ps, _, _, _ := readFrames(data)
	os.WriteFile(filepath.Join(l.dir, entriesFile), frames(ps[:12]), 0o600)
	cdata, _ := os.ReadFile(filepath.Join(l.dir, checkpointsFile))
	cps, _, _, _ := readFrames(cdata)
	var keep [][]byte
	for _, cp := range cps {
		if c, _, _, _ := parseCheckpoint(cp, "kiosk-7.example", mustVerifier(l.vkey)); c.Size <= 12 {
			keep = append(keep, cp)
		}
	}
	os.WriteFile(filepath.Join(l.dir, checkpointsFile), frames(keep), 0o600)
	if _, err := Open(l.dir, l.skey, Options{StatePath: state}); !errors.Is(err, ErrRollback) {
		t.Fatalf("Open with the state copy: %v", err)
	}
	os.Remove(state)
	if _, err := Open(l.dir, l.skey, Options{StatePath: state}); !errors.Is(err, ErrRollback) {
		t.Fatalf("Open with the state copy deleted: %v", err)
	}
	// Without the copy the directory alone cannot tell; the collected
	// checkpoint can.
	if _, err := VerifyLog(l.dir, l.vkey, VerifyOptions{Checkpoints: [][]byte{collected}}); !errors.Is(err, ErrRollback) {
		t.Fatalf("VerifyLog: %v", err)
	}
}

// TestForkReported: the device's key signs two histories (a copy of the
// directory taken at 15 entries grows differently). VerifyLog reports the
// fork, and Open refuses the other history when it knows the first.
func TestForkReported(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	for i := range 15 {
		l.Append(ctx, verifyEntry(i), nil)
	}
	l.Close()
	fork := copyDir(t, l.dir)
	l1, _ := Open(l.dir, l.skey, Options{})
	for i := 15; i < 20; i++ {
		l1.Append(ctx, verifyEntry(i), nil)
	}
	cpA := l1.Checkpoint()
	l1.Close()
	l2, err := Open(fork, l.skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 15; i < 25; i++ {
		e := verifyEntry(i)
		e.Reason = "other"
		l2.Append(ctx, e, nil)
		if i == 19 {
			cpB := l2.Checkpoint()
			if _, err := VerifyLog(l.dir, l.vkey, VerifyOptions{Checkpoints: [][]byte{cpA, cpB}}); !errors.Is(err, ErrFork) {
				t.Fatalf("two roots for size 20: %v", err)
			} else {
				t.Logf("same size: %v", err)
			}
		}
	}
	l2.Close()
	if _, err = VerifyLog(fork, l.vkey, VerifyOptions{Checkpoints: [][]byte{cpA}}); !errors.Is(err, ErrFork) {
		t.Fatalf("the other history's directory against cpA: %v", err)
	}
	// The entries alone against cpA (the fork's own checkpoints removed):
	// the entry where the histories part is named.
	_, err = verifyEntries(must(os.ReadFile(filepath.Join(fork, entriesFile))), cpA, l.vkey)
	var ce *CorruptError
	if !errors.Is(err, ErrFork) || !errors.As(err, &ce) || ce.Index != 19 {
		t.Fatalf("inconsistent checkpoint: %v", err)
	}
	t.Logf("inconsistent: %v", err)
	state := filepath.Join(t.TempDir(), "state")
	os.WriteFile(state, cpA, 0o600)
	if _, err := Open(fork, l.skey, Options{StatePath: state}); !errors.Is(err, ErrFork) {
		t.Fatalf("Open of the other history: %v", err)
	}
}

// TestExportEraseUnderLoad: Export and Erase race with 8 appenders, 1,000
// times (run with -race). Before: a data race on the personal file's size
// and "no such entry" from Export. Every export's proofs must verify
// against the checkpoint it returns.
func TestExportEraseUnderLoad(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var appended atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 200; i++ {
				if _, err := l.Append(context.Background(), verifyEntry(i), personal(byte(g), byte(i))); err != nil {
					t.Error(err)
					return
				}
				appended.Add(1)
			}
		})
	}
	v := mustVerifier(l.vkey)
	iterations, records := 1000, 0
	for i := range iterations {
		sub := personal(byte(i%8), 0).Subject
		if i%10 == 9 {
			if _, err := l.Erase(context.Background(), sub, "subject_request", l.id); err != nil {
				t.Fatalf("erase %d: %v", i, err)
			}
			continue
		}
		ex, err := l.Export(context.Background(), sub, l.id)
		if err != nil {
			t.Fatalf("export %d: %v", i, err)
		}
		cp, _, _, err := parseCheckpoint([]byte(ex.Checkpoint), v.Name(), v)
		if err != nil {
			t.Fatal(err)
		}
		var root tlog.Hash
		copy(root[:], cp.Hash)
		for _, r := range ex.Records {
			if err := tlog.CheckRecord(r.Proof, int64(cp.Size), root, r.Index, tlog.RecordHash([]byte(r.Entry))); err != nil {
				t.Fatalf("export %d: entry %d's proof does not verify against the export's checkpoint of %d", i, r.Index, cp.Size)
			}
			if p, err := parsePersonal([]byte(r.Personal)); err != nil || p.Subject != sub {
				t.Fatalf("export %d: a record of another subject", i)
			}
		}
		records += len(ex.Records)
	}
	cancel()
	wg.Wait()
	t.Logf("%d exports/erasures alongside %d appends by 8 goroutines; %d records exported, every proof verified", iterations, appended.Load(), records)
	if _, err := VerifyDir(l.dir, l.Checkpoint(), l.vkey); err != nil {
		t.Fatal(err)
	}
}

// TestCopyOfDirRevealsNothing: a copy of the log directory (the kiosk's
// disk) holds no reference ID, pseudonym, consent nonce or subject key
// in any encoding, and no 32 bytes anywhere in it open a personal record.
// Before: keys/ held every subject key in plain, and side.secret.
func TestCopyOfDirRevealsNothing(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	secrets := map[string][]byte{}
	for i := range 24 {
		p := personal(byte(i%4), byte(i))
		p.NoticeHash = [32]byte{9, byte(i)}
		p.ConsentAt = time.Date(2026, 11, 30, 9, 0, i, 0, time.UTC)
		if _, err := l.Append(ctx, verifyEntry(i), p); err != nil {
			t.Fatal(err)
		}
		secrets[fmt.Sprintf("reference %d", i)] = p.ReferenceID[:]
		secrets[fmt.Sprintf("pseudonym %d", i%4)] = p.Subject[:]
		secrets[fmt.Sprintf("consent nonce %d", i)] = p.ConsentID[:]
	}
	for ck, k := range l.keys.cache {
		secrets["subject key "+ck[:8]] = bytes.Clone(k.key)
	}
	secrets["controller identity"] = []byte(l.id.String())
	if _, err := l.AppendConfig(ctx, PolicySummary{TargetFMR: 1e-4, Liveness: "passive-v1", LockoutMaxFailures: 5, LockoutWindow: 15 * time.Minute, Notices: []string{"notice-3"}}); err != nil {
		t.Fatal(err)
	}
	// Control: the scan finds what is there.
	if found := scanDir(t, writeControl(t, secrets["reference 3"]), secrets); len(found) != 4 {
		t.Fatalf("control: the scan found %q, want the reference in 4 encodings", found)
	}
	l.Close()
	copied := copyDir(t, l.dir)
	if found := scanDir(t, copied, secrets); len(found) > 0 {
		t.Fatalf("the copy reveals: %q", found)
	}
	// Every 32-byte window of every file, tried as a key on every record.
	recs, _, _, _ := readFrames(must(os.ReadFile(filepath.Join(copied, personalFile))))
	var blob []byte
	files := 0
	filepath.WalkDir(copied, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			blob = append(blob, must(os.ReadFile(p))...)
			files++
		}
		return err
	})
	opened := 0
	for i := 0; i+chacha20poly1305.KeySize <= len(blob); i++ {
		for _, r := range recs {
			if _, _, _, ok := openPersonal(blob[i:i+32], r); ok {
				opened++
			}
		}
	}
	if opened > 0 {
		t.Fatalf("%d personal records opened with bytes from the copy", opened)
	}
	t.Logf("byte scan: %d files, %d secrets × 4 encodings (raw, hex, base64, base64url): 0 hits; %d candidate keys × %d records: 0 opened", files, len(secrets), len(blob)-31, len(recs))
	// The controller reads everything back.
	l2, err := Open(copied, l.skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	ex, err := l2.Export(ctx, personal(1, 0).Subject, l.id)
	if err != nil || len(ex.Records) != 6 {
		t.Fatalf("controller export: %v, %d records", err, len(ex.Records))
	}
	if _, err := l2.Export(ctx, personal(1, 0).Subject, nil); !errors.Is(err, ErrNoController) {
		t.Fatalf("export without the controller: %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := l2.Export(ctx, personal(1, 0).Subject, other); !errors.Is(err, ErrNoController) {
		t.Fatalf("export with another identity: %v", err)
	}
}

func writeControl(t *testing.T, b []byte) string {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "control"), []byte(hex.EncodeToString(b)+" "+base64.StdEncoding.EncodeToString(b)+" "+base64.RawURLEncoding.EncodeToString(b)+" "+string(b)), 0o600)
	return d
}

// TestUntrustedDirectory: planted symbolic links cannot redirect a write,
// and a directory others can write to is refused. Before: side.secret.tmp
// pointing elsewhere made the device write the side secret there.
func TestUntrustedDirectory(t *testing.T) {
	skey, _, _ := GenerateKey("kiosk-7.example")
	outside := t.TempDir()
	opt := Options{Controller: testController().Recipient()}
	for _, name := range []string{entriesFile, personalFile, checkpointsFile, lockFile} {
		dir := t.TempDir()
		target := filepath.Join(outside, name)
		os.Symlink(target, filepath.Join(dir, name))
		if l, err := Open(dir, skey, opt); err == nil {
			l.Close()
			t.Errorf("%s as a symbolic link accepted", name)
		} else if !errors.Is(err, ErrUnsafeDir) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := os.Lstat(target); err == nil {
			t.Errorf("%s: a file was created through the link", name)
		}
	}
	// Links at the temporary and final names of atomic writes: replaced,
	// never written through.
	dir := t.TempDir()
	for _, name := range []string{"side.secret.tmp", "side.secret", controllerKey + ".tmp", filepath.Join(keysDir, "x.tmp")} {
		os.MkdirAll(filepath.Join(dir, keysDir), 0o700)
		os.Symlink(filepath.Join(outside, strings.ReplaceAll(name, "/", "_")), filepath.Join(dir, name))
	}
	state := filepath.Join(t.TempDir(), "state")
	l, err := Open(dir, skey, Options{Controller: opt.Controller, StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(context.Background(), verifyEntry(0), personal(1, 1))
	l.Close()
	if ents, _ := os.ReadDir(outside); len(ents) > 0 {
		t.Fatalf("written through a planted link: %v", ents[0].Name())
	}
	// A link at the controller's recipient file is refused.
	dir = t.TempDir()
	os.Symlink(filepath.Join(outside, "c"), filepath.Join(dir, controllerKey))
	if _, err := Open(dir, skey, opt); !errors.Is(err, ErrUnsafeDir) {
		t.Errorf("controller file as a link: %v", err)
	}
	// A hard link to an outside file is refused too.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(outside, "victim"), nil, 0o600)
	os.Link(filepath.Join(outside, "victim"), filepath.Join(dir, entriesFile))
	if _, err := Open(dir, skey, opt); !errors.Is(err, ErrUnsafeDir) {
		t.Errorf("hard-linked entries file: %v", err)
	}
	// Permissions.
	for _, mode := range []os.FileMode{0o777, 0o770, 0o722} {
		dir := t.TempDir()
		os.Chmod(dir, mode)
		if l, err := Open(dir, skey, opt); !errors.Is(err, ErrUnsafeDir) {
			if l != nil {
				l.Close()
			}
			t.Errorf("directory mode %v: %v", mode, err)
		}
	}
	dir = t.TempDir()
	os.Mkdir(filepath.Join(dir, keysDir), 0o777)
	os.Chmod(filepath.Join(dir, keysDir), 0o777)
	if _, err := Open(dir, skey, opt); !errors.Is(err, ErrUnsafeDir) {
		t.Errorf("world-writable keys/: %v", err)
	}
	fresh := filepath.Join(t.TempDir(), "new", "log")
	l, err = Open(fresh, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if st, _ := os.Stat(fresh); st.Mode().Perm() != 0o700 {
		t.Fatalf("created with mode %v", st.Mode().Perm())
	}
	// A directory (or file) owned by another user. Only root can make one.
	if os.Geteuid() == 0 {
		dir := t.TempDir()
		os.Chown(dir, 65534, 65534)
		if _, err := Open(dir, skey, opt); !errors.Is(err, ErrUnsafeDir) {
			t.Errorf("directory owned by another user: %v", err)
		}
		dir = t.TempDir()
		os.WriteFile(filepath.Join(dir, entriesFile), nil, 0o600)
		os.Chown(filepath.Join(dir, entriesFile), 65534, 65534)
		if _, err := Open(dir, skey, opt); !errors.Is(err, ErrUnsafeDir) {
			t.Errorf("entries file owned by another user: %v", err)
		}
	} else {
		t.Log("not root: cannot make a directory of another user to test the owner check")
	}
}

// TestWitnessedCheckpoints: a witness cosigns, VerifyLog counts its
// cosignatures, and a rolled-back log is refused by the witness: the log
// surfaces the refusal and stops appending.
func TestWitnessedCheckpoints(t *testing.T) {
	wdir := t.TempDir()
	wsk, wvk := genWitnessKey("witness-1.example")
	skey, vkey, _ := GenerateKey("kiosk-7.example")
	w := newDirWitness(wdir, wsk, vkey)
	dir := t.TempDir()
	opt := Options{Controller: testController().Recipient(), Witnesses: []Witness{w}, WitnessPolicy: WitnessPolicy{Interval: time.Hour}}
	l, err := Open(dir, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 {
		l.Append(ctx, verifyEntry(i), personal(1, byte(i)))
	}
	snapshot := copyDir(t, dir) // the attacker keeps the log at 10
	for i := 10; i < 20; i++ {
		l.Append(ctx, verifyEntry(i), personal(1, byte(i)))
	}
	cosigned, err := l.Witness(ctx)
	if err != nil || !bytes.Equal(cosigned, l.Witnessed()) {
		t.Fatalf("witness: %v", err)
	}
	l.Close()
	wv := mustVerifier(wvk)
	rep, err := VerifyLog(dir, vkey, VerifyOptions{EvidenceDir: filepath.Join(wdir, "checkpoints"), WitnessKeys: []note.Verifier{wv}, MinCosignatures: 1})
	if err != nil || rep.CheckpointSize != 20 || rep.Ignored == 0 {
		t.Fatalf("VerifyLog: %v %+v", err, rep)
	}
	if _, err := VerifyLog(dir, vkey, VerifyOptions{WitnessKeys: []note.Verifier{wv}, MinCosignatures: 2}); !errors.Is(err, ErrBadProof) {
		t.Fatalf("two cosignatures required, one present: %v", err)
	}
	// The rolled-back copy: VerifyLog with the witness's checkpoints
	// reports it, and the witness refuses its next checkpoint.
	if _, err := VerifyLog(snapshot, vkey, VerifyOptions{EvidenceDir: filepath.Join(wdir, "checkpoints"), WitnessKeys: []note.Verifier{wv}, MinCosignatures: 1}); !errors.Is(err, ErrRollback) {
		t.Fatalf("rolled-back copy: %v", err)
	}
	l2, err := Open(snapshot, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	l2.Append(ctx, verifyEntry(99), nil)
	if _, err := l2.Witness(ctx); !errors.Is(err, ErrWitnessRefused) || !errors.Is(l2.WitnessErr(), ErrWitnessRefused) {
		t.Fatalf("witness of a rolled-back log: %v / %v", err, l2.WitnessErr())
	}
	if _, err := l2.Append(ctx, verifyEntry(100), nil); !errors.Is(err, ErrFailed) || !errors.Is(err, ErrWitnessRefused) {
		t.Fatalf("append after a refusal: %v", err)
	}
}

// TestWitnessPolicyEvery: with Every 5, the background submits once the
// log grew by 5.
func TestWitnessPolicyEvery(t *testing.T) {
	wsk, _ := genWitnessKey("witness-1.example")
	skey, vkey, _ := GenerateKey("kiosk-7.example")
	w := newDirWitness(t.TempDir(), wsk, vkey)
	l, err := Open(t.TempDir(), skey, Options{Witnesses: []Witness{w}, WitnessPolicy: WitnessPolicy{Every: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitSize := func(want int64) {
		for range 2000 {
			if wt := l.Witnessed(); wt != nil {
				if c, _ := l.parseCheckpoint(wt); int64(c.Size) == want {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no witnessed checkpoint of size %d", want)
	}
	for i := range 4 {
		l.Append(context.Background(), verifyEntry(i), nil)
	}
	if l.Witnessed() != nil {
		t.Fatal("submitted before the log grew by 5")
	}
	l.Append(context.Background(), verifyEntry(4), nil)
	waitSize(5)
}

// TestLogFeedsDirCollector: the log feeds a DirWitness (a collector, no
// cosignature); its directory is evidence for VerifyLog, and a rolled-back
// copy of the log is refused by it, which stops appends.
func TestLogFeedsDirCollector(t *testing.T) {
	skey, vkey, _ := GenerateKey("kiosk-7.example")
	cdir := filepath.Join(t.TempDir(), "collected")
	coll, err := NewDirWitness(cdir, vkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opt := Options{Controller: testController().Recipient(), Witnesses: []Witness{coll}, WitnessPolicy: WitnessPolicy{Interval: time.Hour}}
	l, err := Open(dir, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		l.Append(ctx, verifyEntry(i), nil)
	}
	snapshot := copyDir(t, dir)
	for i := 5; i < 9; i++ {
		l.Append(ctx, verifyEntry(i), nil)
	}
	if _, err := l.Witness(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep, err := VerifyLog(dir, vkey, VerifyOptions{EvidenceDir: cdir}); err != nil || rep.CheckpointSize != 9 {
		t.Fatalf("VerifyLog with the collection: %v", err)
	}
	if _, err := VerifyLog(snapshot, vkey, VerifyOptions{EvidenceDir: cdir}); !errors.Is(err, ErrRollback) {
		t.Fatalf("rolled-back copy: %v", err)
	}
	l2, err := Open(snapshot, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	l2.Append(ctx, verifyEntry(50), nil)
	if _, err := l2.Witness(ctx); !errors.Is(err, ErrWitnessRefused) {
		t.Fatalf("collector on a rolled-back log: %v", err)
	}
	if _, err := l2.Append(ctx, verifyEntry(51), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after the refusal: %v", err)
	}
}

// TestLogFeedsLitewitness: the log itself feeds a real witness server
// (litewitness from filippo.io/torchwood v0.6.1, started on 127.0.0.1 by
// startLitewitness with its key in an ssh-agent) through the HTTP client:
// the cosigned checkpoints count for VerifyLog with the witness's
// cosignature key; a forked copy of the log, opened with the same key and
// witness, is refused (HTTP 422), the log surfaces the refusal and stops
// appending, and VerifyLog reports the fork.
func TestLogFeedsLitewitness(t *testing.T) {
	skey, vkey, _ := GenerateKey("kiosk-7.example")
	w := startLitewitness(t, map[string]string{"kiosk-7.example": vkey})
	hw, _ := w.client(t)
	wv, err := NewCosignatureVerifier(w.vkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opt := Options{Controller: testController().Recipient(), Witnesses: []Witness{hw}, WitnessPolicy: WitnessPolicy{Interval: time.Hour}}
	l, err := Open(dir, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 6 {
		l.Append(ctx, verifyEntry(i), personal(1, byte(i)))
	}
	if _, err := l.Witness(ctx); err != nil {
		t.Fatal(err)
	}
	fork := copyDir(t, dir)
	for i := 6; i < 10; i++ {
		l.Append(ctx, verifyEntry(i), nil)
	}
	cosigned, err := l.Witness(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep, err := VerifyLog(dir, vkey, VerifyOptions{WitnessKeys: []note.Verifier{wv}, MinCosignatures: 1})
	if err != nil || rep.Checkpoints < 2 || rep.CheckpointSize != 10 {
		t.Fatalf("VerifyLog with litewitness's cosignatures: %v %+v", err, rep)
	}
	t.Logf("litewitness cosigned:\n%s", cosigned)
	opt.WitnessPolicy = WitnessPolicy{Every: 1000} // submit by hand below
	lf, err := Open(fork, skey, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	for i := range 6 {
		e := verifyEntry(i)
		e.Reason = "forked"
		lf.Append(ctx, e, nil)
	}
	if _, err := lf.Witness(ctx); !errors.Is(err, ErrWitnessRefused) || !errors.Is(lf.WitnessErr(), ErrWitnessRefused) {
		t.Fatalf("litewitness on a fork: %v", err)
	} else {
		t.Logf("refusal surfaced: %v", err)
	}
	if _, err := lf.Append(ctx, verifyEntry(99), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after the refusal: %v", err)
	}
	if _, err := VerifyLog(fork, vkey, VerifyOptions{Checkpoints: [][]byte{cosigned}, WitnessKeys: []note.Verifier{wv}, MinCosignatures: 1}); !errors.Is(err, ErrFork) {
		t.Fatalf("VerifyLog of the fork against the cosigned checkpoint: %v", err)
	}
}

// TestReceiptsAsEvidence: a person's receipt of an entry later cut off is
// evidence: VerifyLog with a directory of receipts reports the rollback.
func TestReceiptsAsEvidence(t *testing.T) {
	l := newTestLog(t, Options{})
	ev := t.TempDir()
	for i := range 8 {
		a, err := l.Append(context.Background(), verifyEntry(i), personal(1, byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(ev, fmt.Sprintf("receipt-%d.txt", i)), bytes.ReplaceAll(a.Receipt, []byte("\n"), []byte("\r\n")), 0o600)
	}
	l.Close()
	if rep, err := VerifyLog(l.dir, l.vkey, VerifyOptions{EvidenceDir: ev}); err != nil || rep.CheckpointSize != 8 {
		t.Fatalf("intact log with its receipts: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(l.dir, entriesFile))
	ps, _, _, _ := readFrames(data)
	os.WriteFile(filepath.Join(l.dir, entriesFile), frames(ps[:6]), 0o600)
	os.Remove(filepath.Join(l.dir, checkpointsFile))
	_, err := VerifyLog(l.dir, l.vkey, VerifyOptions{EvidenceDir: ev})
	var ce *CorruptError
	if !errors.Is(err, ErrRollback) || !errors.As(err, &ce) || ce.Index != 6 {
		t.Fatalf("receipts of entries cut off: %v", err)
	}
	t.Logf("%v", err)
}

// TestWitnessedFolderLinkRefused: a symbolic link planted in place of the
// log's witnessed/ folder (pointing to a folder anyone can write) must not
// receive the cosigned checkpoints: the write is refused, naming the link.
func TestWitnessedFolderLinkRefused(t *testing.T) {
	skey, vkey, _ := GenerateKey("kiosk-8.example")
	wkey, _ := genWitnessKey("witness.test")
	w := newDirWitness(t.TempDir(), wkey, vkey)
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Mkdir(elsewhere, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(elsewhere, 0o777)
	if err := os.Symlink(elsewhere, filepath.Join(dir, witnessedDir)); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, skey, Options{Controller: testController().Recipient(), Witnesses: []Witness{w}, WitnessPolicy: WitnessPolicy{Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Append(ctx, verifyEntry(0), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Witness(ctx); !errors.Is(err, ErrUnsafeDir) {
		t.Fatalf("witnessing through a planted link: %v, want ErrUnsafeDir", err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Fatalf("%d files written through the link", len(ents))
	}
}
