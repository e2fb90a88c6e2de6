package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// cosigner is a cosignature/v1 key made with transparency-dev/formats (an
// implementation other than the one litewitness signs with).
type cosigner struct {
	signer note.Signer
	vkey   string
}

func newCosigner(t testing.TB, name string) cosigner {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return cosigner{s, cvkey}
}

// cosign returns the signature lines of c over the text of checkpoint.
func (c cosigner) cosign(t testing.TB, checkpoint []byte) []byte {
	t.Helper()
	text, _ := noteText(checkpoint)
	signed, err := note.Sign(&note.Note{Text: string(text)}, c.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed[len(text)+1:]
}

// fakeWitness serves add-checkpoint with answers chosen by the test: a
// fake, to reach the client's error paths a real witness does not take.
func fakeWitness(t *testing.T, answer func(n int, body []byte, w http.ResponseWriter)) string {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/w/add-checkpoint" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		answer(int(n.Add(1)), body, w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/w"
}

func TestHTTPWitnessRequestAndErrors(t *testing.T) {
	l := newTestLog(t, Options{})
	appendN(t, l.Log, 9, "h")
	cp := l.Checkpoint()
	proof := logProof(l.Log, 9)
	wit := newCosigner(t, "witness.example/fake")
	other := newCosigner(t, "witness.example/fake") // same name, another key
	ctx := context.Background()

	cosign := func(url string, opt HTTPWitnessOptions) ([]byte, error) {
		hw, err := NewHTTPWitness(url, wit.vkey, opt)
		if err != nil {
			t.Fatal(err)
		}
		return hw.Cosign(ctx, cp, proof)
	}

	t.Run("request format and retry after 409", func(t *testing.T) {
		p4, _ := l.ProveConsistency(4, 9)
		want := addCheckpointBody(4, p4, cp)
		var bodies [][]byte
		url := fakeWitness(t, func(n int, body []byte, w http.ResponseWriter) {
			bodies = append(bodies, body)
			if n == 1 {
				w.Header().Set("Content-Type", "text/x.tlog.size")
				w.WriteHeader(http.StatusConflict)
				io.WriteString(w, "4\n")
				return
			}
			w.Write(wit.cosign(t, cp))
		})
		sigs, err := cosign(url, HTTPWitnessOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(bodies[0]) != "old 0\n\n"+string(cp) || !bytes.Equal(bodies[1], want) {
			t.Fatalf("requests:\n%q\n%q", bodies[0], bodies[1])
		}
		// The golden shape: "old 4", the proof's hashes in base64, "", the note.
		lines := strings.Split(string(bodies[1]), "\n")
		if lines[0] != "old 4" || len(p4) == 0 || lines[1] != p4[0].String() || lines[len(p4)+1] != "" {
			t.Fatalf("body %q", bodies[1])
		}
		v, _ := NewCosignatureVerifier(wit.vkey)
		if got := CosignedBy(append(bytes.Clone(cp), sigs...), []note.Verifier{v, v}); len(got) != 1 {
			t.Fatalf("cosigned by %v", got)
		}
	})

	for _, tc := range []struct {
		name    string
		answer  func(n int, body []byte, w http.ResponseWriter)
		opt     HTTPWitnessOptions
		refused bool
		want    string
	}{
		{"cosignature by another key", func(_ int, _ []byte, w http.ResponseWriter) { w.Write(other.cosign(t, cp)) }, HTTPWitnessOptions{}, false, "does not verify"},
		{"cosignature of another checkpoint", func(_ int, _ []byte, w http.ResponseWriter) {
			w.Write(wit.cosign(t, []byte("kiosk-7.example\n9\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— x y\n")))
		}, HTTPWitnessOptions{}, false, "does not verify"},
		{"no signature lines", func(_ int, _ []byte, w http.ResponseWriter) {}, HTTPWitnessOptions{}, false, "malformed cosignature"},
		{"oversized answer", func(_ int, _ []byte, w http.ResponseWriter) {
			w.Write(bytes.Repeat(wit.cosign(t, cp), maxWitnessResponse/100))
		}, HTTPWitnessOptions{}, false, "larger than"},
		{"409 twice", func(_ int, _ []byte, w http.ResponseWriter) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "4\n")
		}, HTTPWitnessOptions{}, false, "409 twice"},
		{"409 malformed", func(_ int, _ []byte, w http.ResponseWriter) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "04\n")
		}, HTTPWitnessOptions{}, false, "malformed tree size"},
		{"witness holds more", func(_ int, _ []byte, w http.ResponseWriter) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "10\n")
		}, HTTPWitnessOptions{}, true, "rolled back"},
		{"422", func(_ int, _ []byte, w http.ResponseWriter) {
			http.Error(w, "bad consistency proof", http.StatusUnprocessableEntity)
		}, HTTPWitnessOptions{}, true, "HTTP 422"},
		{"404", func(_ int, _ []byte, w http.ResponseWriter) { http.Error(w, "unknown log", http.StatusNotFound) }, HTTPWitnessOptions{}, false, "does not know the log"},
		{"403", func(_ int, _ []byte, w http.ResponseWriter) { http.Error(w, "invalid signature", http.StatusForbidden) }, HTTPWitnessOptions{}, false, "HTTP 403"},
		{"redirect not followed", func(_ int, _ []byte, w http.ResponseWriter) {
			w.Header().Set("Location", "http://127.0.0.1:1/")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, HTTPWitnessOptions{}, false, "HTTP 307"},
		{"timeout", func(_ int, _ []byte, w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }, HTTPWitnessOptions{Timeout: 50 * time.Millisecond}, false, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cosign(fakeWitness(t, tc.answer), tc.opt)
			if err == nil || errors.Is(err, ErrWitnessRefused) != tc.refused || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v (want %q, refused %v)", err, tc.want, tc.refused)
			}
		})
	}

	t.Run("bad configuration", func(t *testing.T) {
		_, logVkey, _ := GenerateKey("witness.example")
		for _, c := range [][2]string{
			{"ftp://witness.example", wit.vkey},
			{"http://", wit.vkey},
			{"https://w.example/?x=1", wit.vkey},
			{"https://w.example", logVkey}, // a plain Ed25519 note key
			{"https://w.example", "nonsense"},
		} {
			if _, err := NewHTTPWitness(c[0], c[1], HTTPWitnessOptions{}); err == nil {
				t.Errorf("%q %q accepted", c[0], c[1])
			}
		}
	})

	t.Run("proof errors and oversized checkpoints", func(t *testing.T) {
		url := fakeWitness(t, func(_ int, _ []byte, w http.ResponseWriter) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "4\n")
		})
		hw, _ := NewHTTPWitness(url, wit.vkey, HTTPWitnessOptions{})
		boom := errors.New("no proof")
		if _, err := hw.Cosign(ctx, cp, func(int64) ([]tlog.Hash, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("proof error: %v", err)
		}
		big := append(bytes.Clone(cp), bytes.Repeat([]byte("— w AAAA\n"), maxCheckpointNote/8)...)
		if _, err := hw.Cosign(ctx, big, proof); err == nil {
			t.Fatal("oversized checkpoint sent")
		}
	})
}

func ExampleCosignedBy() {
	// A log and a witness key (a witness's vkey is published by its operator).
	skey, vkey, _ := GenerateKey("kiosk-1.example")
	wskey, wvkey, _ := note.GenerateKey(rand.Reader, "witness.example/w1")
	cosignVkey, _ := fnote.VKeyToCosignatureV1(wvkey)
	signer, _ := note.NewSigner(skey)
	wsigner, _ := fnote.NewSignerForCosignatureV1(wskey)
	_ = vkey

	// A checkpoint signed by the log, then cosigned by the witness.
	text := "kiosk-1.example\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	cp, _ := note.Sign(&note.Note{Text: text}, signer, wsigner)

	w, _ := NewCosignatureVerifier(cosignVkey)
	fmt.Println(CosignedBy(cp, []note.Verifier{w}))
	// Output: [witness.example/w1]
}
