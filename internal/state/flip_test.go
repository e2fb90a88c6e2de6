package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flipEnv names the state file a TestFlipChild process damages; the
// parent, TestEveryByteFlip, sets it.
const flipEnv = "ONEFACE_STATE_FLIP_FILE"

// flipMemCap is the address space the child may map beyond what it
// has mapped when it starts: bbolt's pages
// alone are a few MiB, so a flip that makes the open allocate more than
// this is a crash, which the parent reports.
const flipMemCap = 1 << 30

// flipMasks are XORed into each byte in turn: the low bit (a length or
// page ID off by one) and the whole byte.
var flipMasks = []byte{0x01, 0xff}

// realStateFile builds a small state file the way a kiosk does: a
// revocation, a withdrawal, consent nonces, attempts and the unseal
// limiter, and enough nonces that the nonces bucket splits into a branch
// page over leaves. It returns the file's bytes and what a reader must
// see.
func realStateFile(t testing.TB) ([]byte, func(*Store) error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "real")
	s, err := Open(p, testKey, true)
	if err != nil {
		t.Fatal(err)
	}
	s.Block([16]byte{1}, Revoked, t0)
	s.Block([16]byte{4}, Withdrawn, t0)
	exp := t0.Add(time.Hour)
	for i := range 120 {
		if _, out, err := s.Reserve([16]byte{2, byte(i % 3)}, [16]byte{3, byte(i), byte(i >> 8)}, exp, t0, time.Hour, MaxAttempts); err != nil || out != OK {
			t.Fatal(out, err)
		}
	}
	s.TakeToken(t0, 1, 3)
	s.Close()
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	check := func(st *Store) error {
		kind, blocked, err := st.IsBlocked([16]byte{1})
		if err != nil {
			return err
		}
		kind4, blocked4, err := st.IsBlocked([16]byte{4})
		if err != nil {
			return err
		}
		n, err := st.Attempts([16]byte{2, 1}, t0, time.Hour)
		if err != nil {
			return err
		}
		for _, i := range []int{0, 1, 60, 119} {
			seen, err := st.NonceSeen([16]byte{3, byte(i), byte(i >> 8)})
			if err != nil {
				return err
			}
			if !seen {
				return fmt.Errorf("nonce %d forgotten", i)
			}
		}
		if !blocked || kind != Revoked || !blocked4 || kind4 != Withdrawn || n != 40 {
			return fmt.Errorf("answers changed: %v %v, %v %v, %d attempts", blocked, kind, blocked4, kind4, n)
		}
		return errSame
	}
	return good, check
}

var errSame = errors.New("same answers")

// TestEveryByteFlip: a low-bit and a whole-byte flip of every byte of
// the pages of a small real state file, opened in a child process whose address
// space is capped at 1 GiB beyond its start: each open fails with ErrCorrupt or ErrKey,
// or opens a store that answers as before; never a
// crash (a fault, a panic, running out of memory), never a store that
// silently answers otherwise. Before the page check, the child died with
// "fatal error: out of memory" in bbolt.(*Bucket).openBucket: a flipped
// byte had made an inline bucket's value size 512 MiB; and a lowered
// element count of a leaf silently lost the entry after it.
func TestEveryByteFlip(t *testing.T) {
	if raceEnabled {
		t.Skip("damaged bbolt pages trip checkptr under -race")
	}
	if testing.Short() {
		t.Skip("slow")
	}
	if !canCapMemory {
		t.Skip("no address-space limit on this platform")
	}
	good, _ := realStateFile(t)
	p := filepath.Join(t.TempDir(), "good")
	if err := os.WriteFile(p, good, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlipChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), flipEnv+"="+p)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last, counts, other := "", map[string]int{}, []string(nil)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 1 || f[0] != "flip" {
			other = append(other, sc.Text())
			continue
		}
		last = sc.Text()
		if len(f) >= 4 {
			counts[f[3]]++
			if f[3] != "refused" && f[3] != "same" {
				t.Errorf("%s", sc.Text())
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		tail := stderr.String()
		if len(tail) > 2000 {
			tail = tail[:2000]
		}
		t.Fatalf("child crashed (%v) after %q:\n%s\n%s", err, last, strings.Join(other, "\n"), tail)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != usedBytes(good)*len(flipMasks) {
		t.Fatalf("child reported %d flips, want %d", total, usedBytes(good)*len(flipMasks))
	}
	t.Logf("%d-byte file, %d bytes in pages, %d flips: %d refused, %d opened with the same answers, %d silently changed", len(good), usedBytes(good), total, counts["refused"], counts["same"], counts["silent"])
}

// usedBytes is how much of a bbolt file its meta pages count (the rest
// is space the file grew into, which bbolt never reads).
func usedBytes(b []byte) int {
	ps := binary.NativeEndian.Uint32(b[pageHdr+8:])
	hwm := max(binary.NativeEndian.Uint64(b[pageHdr+40:]), binary.NativeEndian.Uint64(b[int(ps)+pageHdr+40:]))
	return int(hwm) * int(ps)
}

// TestFlipChild is TestEveryByteFlip's child; alone it does nothing.
func TestFlipChild(t *testing.T) {
	p := os.Getenv(flipEnv)
	if p == "" {
		t.Skip("run by TestEveryByteFlip")
	}
	if err := capMemory(flipMemCap); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	_, check := realStateFile(t)
	dir := t.TempDir()
	for i := range usedBytes(good) {
		for _, m := range flipMasks {
			b := bytes.Clone(good)
			b[i] ^= m
			fmt.Fprintf(os.Stdout, "flip %d %#02x ", i, m)
			// A fresh name each time: a file whose open panicked inside
			// bbolt may stay locked until the process exits.
			q := filepath.Join(dir, strconv.Itoa(i)+"-"+strconv.Itoa(int(m)))
			if err := os.WriteFile(q, b, 0o600); err != nil {
				t.Fatal(err)
			}
			res := func() string {
				st, err := Open(q, testKey, false)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrKey) {
						return "error-kind:" + strings.ReplaceAll(err.Error(), " ", "_")
					}
					return "refused"
				}
				defer st.Close()
				if err := check(st); !errors.Is(err, errSame) {
					if errors.Is(err, ErrCorrupt) {
						return "refused"
					}
					return "silent:" + strings.ReplaceAll(fmt.Sprint(err), " ", "_")
				}
				return "same"
			}()
			os.Remove(q)
			kind, _, _ := strings.Cut(res, ":")
			fmt.Fprintf(os.Stdout, "%s %s\n", kind, res)
		}
	}
}

// TestCheckAcceptsRealFiles: the page check accepts what bbolt writes as
// a store grows past one page per bucket (branch pages, a freelist over
// several pages) and shrinks again, reopened after every step.
func TestCheckAcceptsRealFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grow")
	s, err := Open(p, testKey, true)
	if err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(time.Hour)
	var rs []Reservation
	for step := range 6 {
		for i := range 250 {
			n := step*250 + i
			id := [16]byte{5, byte(n), byte(n >> 8)}
			r, out, err := s.Reserve(id, [16]byte{6, byte(n), byte(n >> 8)}, exp, t0.Add(time.Duration(step)*time.Minute), time.Hour, MaxAttempts)
			if err != nil || out != OK {
				t.Fatal(out, err)
			}
			rs = append(rs, r)
			if n%3 == 0 {
				if err := s.Block(id, Revoked, t0); err != nil {
					t.Fatal(err)
				}
			}
		}
		if step >= 3 { // settle and expire: the trees shrink, pages go free
			for _, r := range rs[:250] {
				if err := s.Succeeded(r); err != nil {
					t.Fatal(err)
				}
			}
			rs = rs[250:]
			if _, _, err := s.Reserve([16]byte{7}, [16]byte{}, exp, exp.Add(time.Duration(step)*time.Second), time.Hour, MaxAttempts); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if s, err = Open(p, testKey, false); err != nil {
			fi, _ := os.Stat(p)
			t.Fatalf("step %d (%d bytes): %v", step, fi.Size(), err)
		}
	}
	fi, _ := os.Stat(p)
	t.Logf("%d bytes, %d pages in use", fi.Size(), func() int { b, _ := os.ReadFile(p); return usedBytes(b) / 4096 }())
	s.Close()
}

// TestFileSizeBound: a file larger than MaxFileSize (here a sparse one)
// is refused before anything of it is read or mapped.
func TestFileSizeBound(t *testing.T) {
	good, _ := realStateFile(t)
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, MaxFileSize+1); err != nil {
		t.Skip(err)
	}
	if st, err := Open(p, testKey, false); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "more than") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("a file of MaxFileSize+1 bytes: %v", err)
	}
}
