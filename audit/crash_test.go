package audit

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestCrashChild is the child of TestCrashLoop: it appends from four
// goroutines until killed, printing "ack <index> <reason>" after each
// acknowledged append.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("AUDIT_CRASH_DIR")
	if dir == "" {
		t.Skip("child process of TestCrashLoop only")
	}
	opt := Options{}
	if wdir := os.Getenv("AUDIT_CRASH_WITNESS_DIR"); wdir != "" {
		opt.Witnesses = []Witness{newDirWitness(wdir, os.Getenv("AUDIT_CRASH_WITNESS_KEY"), os.Getenv("AUDIT_CRASH_VKEY"))}
	}
	l, err := Open(dir, os.Getenv("AUDIT_CRASH_KEY"), opt)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	run := os.Getenv("AUDIT_CRASH_RUN")
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				e := verifyEntry(i)
				e.Reason = fmt.Sprintf("c%s-%d-%d", run, g, i)
				var p *Personal
				if i%2 == 0 {
					p = personal(byte(g), byte(i))
				}
				a, err := l.Append(context.Background(), e, p)
				if err != nil {
					fmt.Println("append:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", a.Index, e.Reason)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashLoop SIGKILLs a child appending in a loop at random moments,
// 200 times (40 under -short), and checks after each kill that every entry
// the child acknowledged is present with the content it acknowledged, and
// that the log reopens and verifies. The child witnesses every checkpoint
// (a directory witness in the C2SP tlog-witness shape, in the child's
// process, so it is killed too): after each kill the log must also agree
// with every checkpoint the witness cosigned (no rollback, no fork).
func TestCrashLoop(t *testing.T) {
	if os.Getenv("AUDIT_CRASH_DIR") != "" {
		t.Skip()
	}
	runs := 200
	if testing.Short() {
		runs = 40
	}
	skey, vkey, _ := GenerateKey("kiosk-7.example")
	wsk, wvk := genWitnessKey("witness-1.example")
	wdir := t.TempDir()
	dir := t.TempDir()
	l0, err := Open(dir, skey, Options{Controller: testController().Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	l0.Close()
	witnessOpt := VerifyOptions{EvidenceDir: filepath.Join(wdir, "checkpoints"), WitnessKeys: []note.Verifier{mustVerifier(wvk)}, MinCosignatures: 1}
	rng := rand.New(rand.NewPCG(7, 7))
	acked := map[int64]string{}
	witnessed := int64(0)
	for run := range runs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AUDIT_CRASH_DIR="+dir, "AUDIT_CRASH_KEY="+skey,
			"AUDIT_CRASH_VKEY="+vkey, "AUDIT_CRASH_WITNESS_DIR="+wdir, "AUDIT_CRASH_WITNESS_KEY="+wsk, "AUDIT_CRASH_RUN="+strconv.Itoa(run))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill at a random moment after the first acknowledgement.
		first, ok := <-lines
		if !ok || !strings.HasPrefix(first, "ack ") {
			t.Fatalf("run %d: child said %q", run, first)
		}
		time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		record := func(line string) {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("run %d: child said %q", run, line)
			}
			idx, _ := strconv.ParseInt(f[1], 10, 64)
			acked[idx] = f[2]
		}
		record(first)
		for line := range lines {
			record(line)
		}
		cmd.Wait()

		l, err := Open(dir, skey, Options{})
		if err != nil {
			t.Fatalf("run %d: reopen after SIGKILL: %v", run, err)
		}
		for idx, reason := range acked {
			data, err := l.Entry(idx)
			if err != nil {
				t.Fatalf("run %d: acknowledged entry %d lost: %v", run, idx, err)
			}
			if r, err := ParseRecord(data); err != nil || r.Entry.Reason != reason {
				t.Fatalf("run %d: entry %d is not what was acknowledged", run, idx)
			}
		}
		// After every kill: the entries against the device's checkpoint and
		// the witness's latest; every 20 kills and after the last, against
		// everything (every checkpoint the device and the witness signed).
		entries := must(os.ReadFile(filepath.Join(dir, entriesFile)))
		if _, err := verifyEntries(entries, l.Checkpoint(), vkey); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		var cps []string // a kill can leave a witness's temporary file
		ents, _ := os.ReadDir(witnessOpt.EvidenceDir)
		for _, e := range ents {
			if !strings.Contains(e.Name(), ".tmp-") {
				cps = append(cps, e.Name())
			}
		}
		if len(cps) > 0 {
			latest := must(os.ReadFile(filepath.Join(witnessOpt.EvidenceDir, cps[len(cps)-1])))
			if _, err := verifyEntries(entries, latest, vkey); err != nil {
				t.Fatalf("run %d: against the witness's latest checkpoint: %v", run, err)
			}
			if run%20 == 19 || run == runs-1 {
				rep, err := VerifyLog(dir, vkey, witnessOpt)
				if err != nil {
					t.Fatalf("run %d: against all checkpoints: %v", run, err)
				}
				witnessed = rep.CheckpointSize
			}
		}
		l.Close()
	}
	ents, _ := os.ReadDir(witnessOpt.EvidenceDir)
	t.Logf("%d SIGKILLs: %d acknowledged entries, all present; the log verifies after every kill and agrees with all %d checkpoints the witness cosigned (largest %d)", runs, len(acked), len(ents), witnessed)
}
