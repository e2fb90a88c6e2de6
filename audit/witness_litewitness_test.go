package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/oneface/oneface/internal/testenv"
)

// The witness server the tests run: litewitness from filippo.io/torchwood,
// built from the Go module proxy. (Its companion witnessctl does not build:
// one of its dependencies is not on the proxy; the tests write the two rows
// witnessctl add-log and add-key would.)
const litewitnessModule = "filippo.io/torchwood/cmd/litewitness@v0.6.1"

var litewitnessBuild struct {
	once sync.Once
	path string
	err  error
}

// litewitnessBinary builds litewitness once per user and toolchain, into
// the user cache directory, and returns its path.
func litewitnessBinary() (string, error) {
	b := &litewitnessBuild
	b.once.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "oneface-test", "litewitness-v0.6.1-"+runtime.Version())
		bin := filepath.Join(dir, "litewitness")
		if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
			b.path = bin
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = err
			return
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.err = err
			return
		}
		tmp, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			b.err = err
			return
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command(goTool, "install", litewitnessModule)
		cmd.Dir = tmp // outside any module: `go install pkg@version`
		cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go install %s: %v\n%s", litewitnessModule, err, out)
			return
		}
		if err := os.Rename(filepath.Join(tmp, "litewitness"), bin); err != nil {
			b.err = err
			return
		}
		b.path = bin
	})
	return b.path, b.err
}

// liteWitness is a running litewitness.
type liteWitness struct {
	url, vkey, db string
	log           *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLitewitness builds (once) and starts litewitness on 127.0.0.1 with
// a fresh Ed25519 key held by a real ssh-agent, and registers the logs
// (origin → verifier key) in its database as witnessctl would.
func startLitewitness(t *testing.T, logs map[string]string) *liteWitness {
	t.Helper()
	if testing.Short() && os.Getenv("ONEFACE_REQUIRE_ENGINE") == "" {
		t.Skip("-short: not building litewitness (set ONEFACE_REQUIRE_ENGINE=1 to run it anyway)")
	}
	bin, err := litewitnessBinary()
	if err != nil {
		testenv.Missing(t, "litewitness ("+litewitnessModule+", built from the Go module proxy)", err)
	}
	agentBin, err := exec.LookPath("ssh-agent")
	if err != nil {
		testenv.Missing(t, "ssh-agent (Debian package openssh-client)", err)
	}
	sqlite, err := exec.LookPath("sqlite3")
	if err != nil {
		testenv.Missing(t, "sqlite3 (Debian package sqlite3)", err)
	}
	// A short directory: unix socket paths are limited to ~100 bytes.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")

	// ssh-agent in the foreground (-D), killed at the end.
	ag := exec.Command(agentBin, "-D", "-a", sock)
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Process.Kill(); ag.Wait() })
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent did not start: %v", err)
		}
	}
	defer conn.Close()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.NewClient(conn).Add(agent.AddedKey{PrivateKey: priv, Comment: "oneface test witness"}); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}

	// A free port on 127.0.0.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	w := &liteWitness{url: "http://" + addr, db: filepath.Join(dir, "witness.db"), log: &syncBuffer{}}
	cmd := exec.Command(bin, "-name", "witness.test.example/lw", "-db", w.db, "-ssh-agent", sock,
		"-listen", addr, "-key", ssh.FingerprintSHA256(sshPub))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("litewitness log:\n%s", w.log.String())
		}
	})
	vkeyc, ready := make(chan string, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		listening := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(w.log, line)
			if _, v, ok := strings.Cut(line, " vkey="); ok {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				}
				vkeyc <- strings.Fields(v)[0]
			}
			if !listening && strings.Contains(line, "msg=listening") {
				listening = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("litewitness did not start:\n%s", w.log.String())
	}
	w.vkey = <-vkeyc
	// Wait until it answers HTTP.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("litewitness does not listen on %s: %v", addr, err)
		}
	}

	// witnessctl add-log (size 0, the empty tree's hash) and add-key.
	empty := sha256.Sum256(nil)
	var sql strings.Builder
	for origin, vkey := range logs {
		fmt.Fprintf(&sql, "INSERT INTO log (origin, tree_size, tree_hash) VALUES (%s, 0, %s);\n", sqlQuote(origin), sqlQuote(base64.StdEncoding.EncodeToString(empty[:])))
		fmt.Fprintf(&sql, "INSERT INTO key (origin, key) VALUES (%s, %s);\n", sqlQuote(origin), sqlQuote(vkey))
	}
	if out, err := exec.Command(sqlite, w.db, sql.String()).CombinedOutput(); err != nil {
		t.Fatalf("registering the log in litewitness's database: %v\n%s", err, out)
	}
	return w
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// treeSize reads the size litewitness recorded for origin.
func (w *liteWitness) treeSize(t *testing.T, origin string) int64 {
	t.Helper()
	out, err := exec.Command("sqlite3", w.db, "SELECT tree_size FROM log WHERE origin = "+sqlQuote(origin)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("tree size %q", out)
	}
	return n
}

// statusRecorder records the HTTP status of every answer.
type statusRecorder struct {
	mu       sync.Mutex
	statuses []int
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.statuses = append(r.statuses, resp.StatusCode)
		r.mu.Unlock()
	}
	return resp, err
}

func (r *statusRecorder) take() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.statuses
	r.statuses = nil
	return s
}

func (w *liteWitness) client(t *testing.T) (*HTTPWitness, *statusRecorder) {
	t.Helper()
	rec := &statusRecorder{}
	hw, err := NewHTTPWitness(w.url, w.vkey, HTTPWitnessOptions{Client: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	return hw, rec
}

// logProof is the ProofFunc the log gives for its checkpoint of size entries.
func logProof(l *Log, size int64) ProofFunc {
	return func(old int64) ([]tlog.Hash, error) {
		p, err := l.ProveConsistency(old, size)
		return p, err
	}
}

func appendN(t *testing.T, l *Log, n int, tag string) {
	t.Helper()
	for i := range n {
		e := verifyEntry(i)
		e.Reason = fmt.Sprintf("%s-%d", tag, l.Size())
		if _, err := l.Append(context.Background(), e, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func equalInts(a []int, b ...int) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// TestLitewitness runs oneface's tlog-witness client against a real
// witness server (litewitness, filippo.io/torchwood v0.6.1): it cosigns the
// checkpoints of a growing log (the cosignatures verify with the
// witness's key), learns the witness's size from a 409 and retries, and
// refuses a forked history (HTTP 422) and a rollback, which the client
// reports as ErrWitnessRefused; an unknown log and a forged log signature
// are errors, but not refusals.
func TestLitewitness(t *testing.T) {
	l := newTestLog(t, Options{})
	stranger := newTestLogOrigin(t, "kiosk-9.example")
	w := startLitewitness(t, map[string]string{l.Origin(): l.vkey})
	wv, err := NewCosignatureVerifier(w.vkey)
	if err != nil {
		t.Fatalf("litewitness's key %q: %v", w.vkey, err)
	}
	logV := mustVerifier(l.vkey)
	ctx := context.Background()
	hw, rec := w.client(t)
	if hw.Name() != "witness.test.example/lw" {
		t.Fatalf("witness name %q", hw.Name())
	}

	var cosigned [][]byte // checkpoints with their cosignature
	t.Run("cosigns a growing log", func(t *testing.T) {
		for round, n := range []int{1, 1, 3, 20, 250, 7} {
			appendN(t, l.Log, n, "main")
			cp := l.Checkpoint()
			sigs, err := hw.Cosign(ctx, cp, logProof(l.Log, l.Size()))
			if err != nil {
				t.Fatalf("round %d (size %d): %v", round, l.Size(), err)
			}
			full := append(bytes.Clone(cp), sigs...)
			if got := CosignedBy(full, []note.Verifier{wv}); len(got) != 1 || got[0] != hw.Name() {
				t.Fatalf("round %d: cosigned by %v", round, got)
			}
			nt, err := note.Open(full, note.VerifierList(logV, wv))
			if err != nil || len(nt.Sigs) != 2 {
				t.Fatalf("round %d: log signature and cosignature: %v", round, err)
			}
			if got := w.treeSize(t, l.Origin()); got != l.Size() {
				t.Fatalf("round %d: the witness holds %d entries, the log %d", round, got, l.Size())
			}
			cosigned = append(cosigned, full)
		}
		// First use: old 0, which is what the witness holds; later rounds
		// send the proof from the size the witness cosigned last.
		if s := rec.take(); !equalInts(s, 200, 200, 200, 200, 200, 200) {
			t.Fatalf("statuses %v", s)
		}
		// A tampered cosignature does not count.
		bad := bytes.Clone(cosigned[len(cosigned)-1])
		bad[len(bad)-3] ^= 1
		if got := CosignedBy(bad, []note.Verifier{wv}); len(got) != 0 {
			t.Fatalf("a tampered cosignature counted: %v", got)
		}
	})

	t.Run("checkpoint with extension lines", func(t *testing.T) {
		// C2SP tlog-checkpoint allows extension lines after the root; the
		// cosignature covers them (torchwood v0.6.1 signs them, formats
		// verifies them).
		ext := withExtension(t, l.Checkpoint(), l.skey, "oneface-test-extension 1\n")
		sigs, err := hw.Cosign(ctx, ext, logProof(l.Log, l.Size()))
		if err != nil {
			t.Fatal(err)
		}
		if got := CosignedBy(append(bytes.Clone(ext), sigs...), []note.Verifier{wv}); len(got) != 1 {
			t.Fatalf("cosigned by %v", got)
		}
		// The cosignature does not transfer to the checkpoint without them.
		if got := CosignedBy(append(l.Checkpoint(), sigs...), []note.Verifier{wv}); len(got) != 0 {
			t.Fatalf("cosignature moved to another text: %v", got)
		}
		rec.take()
	})

	t.Run("a new client learns the size from 409", func(t *testing.T) {
		hw2, rec2 := w.client(t)
		appendN(t, l.Log, 5, "main")
		if _, err := hw2.Cosign(ctx, l.Checkpoint(), logProof(l.Log, l.Size())); err != nil {
			t.Fatal(err)
		}
		if s := rec2.take(); !equalInts(s, 409, 200) {
			t.Fatalf("statuses %v, want 409 then 200", s)
		}
	})

	t.Run("refuses a fork", func(t *testing.T) {
		held := l.Size()
		// Same key, same origin, another history of more entries.
		fork := openTestLogWithKey(t, l.skey)
		appendN(t, fork, int(held)+4, "fork")
		_, err := hw.Cosign(ctx, fork.Checkpoint(), logProof(fork, fork.Size()))
		if !errors.Is(err, ErrWitnessRefused) || !strings.Contains(err.Error(), "HTTP 422") {
			t.Fatalf("fork: %v, want ErrWitnessRefused (HTTP 422)", err)
		}
		// And of the same size: another root for the size it holds.
		same := openTestLogWithKey(t, l.skey)
		appendN(t, same, int(held), "fork")
		hw3, rec3 := w.client(t)
		_, err = hw3.Cosign(ctx, same.Checkpoint(), logProof(same, same.Size()))
		if !errors.Is(err, ErrWitnessRefused) {
			t.Fatalf("same-size fork: %v", err)
		}
		if s := rec3.take(); !equalInts(s, 409, 422) {
			t.Fatalf("statuses %v, want 409 then 422", s)
		}
		if got := w.treeSize(t, l.Origin()); got != held {
			t.Fatalf("the witness moved to %d entries", got)
		}
		// The real log still goes on.
		appendN(t, l.Log, 1, "main")
		if _, err := hw.Cosign(ctx, l.Checkpoint(), logProof(l.Log, l.Size())); err != nil {
			t.Fatalf("after the fork was refused: %v", err)
		}
	})

	t.Run("refuses a rollback", func(t *testing.T) {
		old := cosigned[2] // a checkpoint of fewer entries than the witness holds
		hw4, rec4 := w.client(t)
		_, err := hw4.Cosign(ctx, old, logProof(l.Log, 5))
		if !errors.Is(err, ErrWitnessRefused) || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("rollback: %v", err)
		}
		if s := rec4.take(); !equalInts(s, 409) {
			t.Fatalf("statuses %v", s)
		}
	})

	t.Run("unknown log and forged signature are errors, not refusals", func(t *testing.T) {
		appendN(t, stranger.Log, 2, "x")
		_, err := hw.Cosign(ctx, stranger.Checkpoint(), logProof(stranger.Log, stranger.Size()))
		if err == nil || errors.Is(err, ErrWitnessRefused) || !strings.Contains(err.Error(), "HTTP 403") {
			t.Fatalf("unknown log: %v", err)
		}
		// A checkpoint of our origin signed by another key.
		impostor := newTestLog(t, Options{}) // same origin, another key
		appendN(t, impostor.Log, int(l.Size())+1, "imp")
		_, err = hw.Cosign(ctx, impostor.Checkpoint(), logProof(impostor.Log, impostor.Size()))
		if err == nil || errors.Is(err, ErrWitnessRefused) || !strings.Contains(err.Error(), "HTTP 403") {
			t.Fatalf("forged signature: %v", err)
		}
	})
}

// withExtension re-signs the text of checkpoint with extension lines added.
func withExtension(t *testing.T, checkpoint []byte, skey, ext string) []byte {
	t.Helper()
	text, _ := noteText(checkpoint)
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: string(text) + ext}, s)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func openTestLogWithKey(t *testing.T, skey string) *Log {
	t.Helper()
	l, err := Open(t.TempDir(), skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newTestLogOrigin(t *testing.T, origin string) *testLog {
	t.Helper()
	skey, vkey, err := GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	l := openTestLogWithKey(t, skey)
	return &testLog{Log: l, dir: l.dir, skey: skey, vkey: vkey}
}
