package verify

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/state"
)

// The kill -9 loop runs the verifier in a child process (this test binary,
// re-executed) and kills it with SIGKILL at random moments, over and over.
// The child uses a FAKE face engine — frame "G" gives the holder's
// descriptor, "I" an impostor's — because loading dlib takes seconds per
// start and the property under test is the state store and the order of
// reserve, decide, audit, settle, not face analysis.

const killChildEnv = "ONEFACE_KILL9_CHILD"

const killNotice = "We compare your face with your card, keep no image, and log the use."

var fakeModel = ModelID{0xfa, 0x4e, 0x00, 0x01}

type killConfig struct {
	Issuer, Verifier, Secret, LogKey string
	AuditDir, StatePath, NoncesFile  string
	Genuine, Withdrawn               string
	Impostors                        []string
	Now                              time.Time
}

func fakeAnalyze(_ context.Context, in Frame) (*facerec.Analysis, error) {
	var seed float32
	switch string(in.Encoded) {
	case "G":
		seed = 1
	case "I":
		seed = -1
	default:
		return nil, facerec.ErrCorruptImage
	}
	f := facerec.Face{Box: image.Rect(0, 0, 120, 120), Quality: facerec.Quality{Sharpness: 100, Brightness: 120}}
	copy(f.Descriptor[:], syntheticVector(seed, 128))
	return &facerec.Analysis{Bounds: image.Rect(0, 0, 400, 400), Faces: []facerec.Face{f}, DetectScale: 1}, nil
}

func fakeVerifier(t testing.TB, c *killConfig, st *State, alog AuditLog, skey string) *Verifier {
	t.Helper()
	ik, err := ParseIssuerKey(c.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	vk, _ := ParseVerifierKey(c.Verifier)
	secret, _ := ParseDeploymentSecret(c.Secret)
	clock := func() time.Time { return c.Now }
	o, err := NewOpener(OpenerConfig{Issuers: []*IssuerPublicKey{ik.Public()}, Keys: []*VerifierKey{vk}, Secret: secret, ModelID: fakeModel, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	kk, err := ParseKioskKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	tab := &calib.Table{Models: []calib.Model{{ModelID: fakeModel.String(), Entries: []calib.Entry{{Photos: 1, TargetFMR: 1e-3, Threshold: 0.5}}}}}
	m := fakeModel
	v, err := New(VerifierConfig{Opener: o, Audit: alog, State: st, KioskKey: kk, Clock: clock,
		Policy: Policy{Notices: map[string][32]byte{"notice-1": NoticeHash(killNotice)}, Liveness: LivenessNone,
			LockoutWindow: 1000 * time.Hour, UnsealPerMinute: 1 << 30},
		calib: tab, analyze: fakeAnalyze, model: &m})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestKillNineChild is the child's body; it does nothing unless the
// parent started it.
func TestKillNineChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("run by TestKillNineState")
	}
	var c killConfig
	readJSON(t, path, &c)
	alog, err := audit.Open(c.AuditDir, c.LogKey, audit.Options{Clock: func() time.Time { return c.Now }})
	if err != nil {
		t.Fatal(err)
	}
	vk, _ := ParseVerifierKey(c.Verifier)
	st, err := OpenState(c.StatePath, vk, false)
	if err != nil {
		t.Fatal(err)
	}
	v := fakeVerifier(t, &c, st, alog, c.LogKey)
	var used [][16]byte
	if b, err := os.ReadFile(c.NoncesFile); err == nil {
		for _, l := range strings.Fields(string(b)) {
			var n [16]byte
			hex.Decode(n[:], []byte(l))
			used = append(used, n)
		}
	}
	var mu sync.Mutex // one line at a time on stdout
	worker := func(seed uint64) {
		r := mrand.New(mrand.NewPCG(seed, 1))
		for {
			consent := &Consent{Purpose: "door-main", NoticeVersion: "notice-1", NoticeHash: NoticeHash(killNotice), GivenAt: c.Now}
			rand.Read(consent.Nonce[:])
			op, k := r.IntN(4), 0
			req := Request{Purpose: "door-main", Consent: consent}
			switch op {
			case 0: // the holder, fresh consent
				req.Reference, req.Frames = []byte(c.Genuine), []Frame{{Encoded: []byte("G")}}
			case 1: // the holder, replaying a consent acknowledged earlier
				if len(used) == 0 {
					continue
				}
				consent.Nonce = used[r.IntN(len(used))]
				req.Reference, req.Frames = []byte(c.Genuine), []Frame{{Encoded: []byte("G")}}
			case 2: // a withdrawn reference, its holder's face
				req.Reference, req.Frames = []byte(c.Withdrawn), []Frame{{Encoded: []byte("G")}}
			case 3: // an impostor
				k = r.IntN(len(c.Impostors))
				req.Reference, req.Frames = []byte(c.Impostors[k]), []Frame{{Encoded: []byte("I")}}
			}
			d, err := v.Verify(context.Background(), req)
			if err != nil {
				fmt.Fprintf(os.Stderr, "verify: %v\n", err)
				os.Exit(3)
			}
			mu.Lock()
			fmt.Printf("ACK %d %d %x %v %s\n", op, k, consent.Nonce, d.Match, d.Reasons[len(d.Reasons)-1].Code)
			mu.Unlock()
		}
	}
	for i := range 3 {
		go worker(uint64(time.Now().UnixNano()) + uint64(i))
	}
	select {}
}

// TestKillNineState: ≥ 100 SIGKILLs at random moments while the child
// verifies with 3 concurrent workers. After each kill the parent checks,
// against everything the child acknowledged (printed after Verify
// returned): no consent nonce was accepted twice and every accepted one is
// still recorded; no withdrawn reference matched; each impostor
// reference's recorded attempts are never fewer than its acknowledged
// no-matches, and no impostor reference got more than MaxFailures
// comparisons over the whole run.
func TestKillNineState(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 loop")
	}
	const kills = 120
	const maxFailures = 5
	dir := t.TempDir()
	d := newDeployment(t)
	d.model = fakeModel
	skey, _, _ := audit.GenerateKey("kiosk-kill9.test")
	req := d.request()
	req.purposes = []string{"door-main"}
	req.descs = [][]float32{syntheticVector(1, 128)}
	gid, genuine := d.issue(t, req, "")
	wid, withdrawn := d.issue(t, req, "")
	c := killConfig{Issuer: d.issuer.String(), Verifier: d.verifier.String(), Secret: d.secret.String(), LogKey: skey,
		AuditDir: filepath.Join(dir, "audit"), StatePath: filepath.Join(dir, "kiosk.state"), NoncesFile: filepath.Join(dir, "nonces"),
		Genuine: EncodeText(genuine), Withdrawn: EncodeText(withdrawn), Now: d.now}
	var impIDs []ReferenceID
	for range 10 {
		id, b := d.issue(t, req, "")
		impIDs = append(impIDs, id)
		c.Impostors = append(c.Impostors, EncodeText(b))
	}
	cfgPath := filepath.Join(dir, "config.json")
	writeJSON(t, cfgPath, c)
	// The kiosk is set up: state created, the withdrawal recorded.
	st, err := OpenState(c.StatePath, d.verifier, true)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(c.AuditDir, skey, audit.Options{Clock: func() time.Time { return d.now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Withdraw(context.Background(), alog, wid, Pseudonym{}); err != nil {
		t.Fatal(err)
	}
	alog.Close()
	st.Close()

	accepted := map[string]bool{}
	noMatches := make([]int, len(impIDs))
	var acks, replays, withdrawnTries, genuineMatches int
	for i := range kills {
		var nonces []string
		for n := range accepted {
			nonces = append(nonces, n)
		}
		if err := os.WriteFile(c.NoncesFile, []byte(strings.Join(nonces, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+cfgPath)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		done := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			close(done)
		}()
		time.Sleep(time.Duration(mrand.IntN(400)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		<-done
		cmd.Wait()
		if strings.Contains(stderr.String(), "verify:") || strings.Contains(stderr.String(), "FAIL") {
			t.Fatalf("kill %d: child failed: %s", i, stderr.String())
		}
		for _, l := range lines {
			var op, k int
			var nonce, reason string
			var match bool
			if _, err := fmt.Sscanf(l, "ACK %d %d %s %v %s", &op, &k, &nonce, &match, &reason); err != nil {
				continue // a line cut by the kill
			}
			acks++
			switch op {
			case 0, 1:
				if op == 1 {
					replays++
				}
				if match || reason == string(ReasonNoMatch) { // the consent was accepted
					if accepted[nonce] {
						t.Fatalf("kill %d: consent nonce %s accepted twice", i, nonce)
					}
					accepted[nonce] = true
					if match {
						genuineMatches++
					}
				} else if op == 1 && reason != string(ReasonConsentReplayed) {
					t.Fatalf("kill %d: replayed consent refused as %s", i, reason)
				}
			case 2:
				withdrawnTries++
				if match || reason != string(ReasonReferenceRevoked) {
					t.Fatalf("kill %d: withdrawn reference gave match=%v %s", i, match, reason)
				}
			case 3:
				if match {
					t.Fatalf("kill %d: an impostor matched", i)
				}
				if reason == string(ReasonNoMatch) {
					noMatches[k]++
				}
			}
		}
		// The state after the kill.
		st, err := OpenState(c.StatePath, d.verifier, false)
		if err != nil {
			t.Fatalf("kill %d: state does not open: %v", i, err)
		}
		for k, id := range impIDs {
			n, err := st.Attempts(id, d.now, 1000*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if n < noMatches[k] {
				t.Fatalf("kill %d: impostor reference %d: %d attempts recorded, %d no-matches acknowledged", i, k, n, noMatches[k])
			}
			if noMatches[k] > maxFailures {
				t.Fatalf("kill %d: impostor reference %d compared %d times, MaxFailures %d", i, k, noMatches[k], maxFailures)
			}
		}
		for n := range accepted {
			var raw [16]byte
			hex.Decode(raw[:], []byte(n))
			if seen, err := st.s.NonceSeen(raw); err != nil || !seen {
				t.Fatalf("kill %d: accepted nonce %s forgotten (%v)", i, n, err)
			}
		}
		if b, _, err := st.s.IsBlocked(wid); err != nil || b != state.Withdrawn {
			t.Fatalf("kill %d: withdrawal lost", i)
		}
		st.Close()
	}
	entries, err := audit.ReadEntries(c.AuditDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills; %d acknowledged decisions (%d genuine matches, %d consent replays refused, %d withdrawn refused, impostor no-matches per reference %v); %d audit entries",
		kills, acks, genuineMatches, replays, withdrawnTries, noMatches, len(entries))
	if acks < kills || len(entries) < acks+1 {
		t.Fatalf("%d acknowledged decisions, %d audit entries: too few to mean anything, or decisions missing from the log", acks, len(entries))
	}
	_ = gid
}
