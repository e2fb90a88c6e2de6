package liveness

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestNewChallengeUniform(t *testing.T) {
	// Every ordered pair of distinct actions appears, about equally often.
	counts := map[string]int{}
	const n = 6000
	for range n {
		c, err := NewChallenge(rand.Reader, []byte("nonce"), t0, ChallengeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Steps) != 2 || c.Steps[0] == c.Steps[1] {
			t.Fatalf("challenge %v: want two different steps", c)
		}
		counts[c.String()]++
	}
	if len(counts) != 6 {
		t.Fatalf("saw %d different challenges, want 6: %v", len(counts), counts)
	}
	for k, v := range counts {
		// Binomial(6000, 1/6): mean 1000, sd ≈ 29; ±6 sd.
		if v < 825 || v > 1175 {
			t.Errorf("%s drawn %d times of %d", k, v, n)
		}
	}
	one, err := NewChallenge(rand.Reader, []byte("n"), t0, ChallengeOptions{Steps: 1})
	if err != nil || len(one.Steps) != 1 {
		t.Fatalf("one step: %v, %v", one, err)
	}
}

func TestNewChallengeBinding(t *testing.T) {
	nonce := []byte("consent nonce 1")
	c, err := NewChallenge(rand.Reader, nonce, t0, ChallengeOptions{Validity: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	nonce[0] ^= 1 // the challenge keeps its own copy
	if !bytes.Equal(c.Nonce, []byte("consent nonce 1")) {
		t.Fatalf("challenge nonce %q aliases the caller's slice", c.Nonce)
	}
	if !c.IssuedAt.Equal(t0) || !c.Expires.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("times %v..%v", c.IssuedAt, c.Expires)
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, 257)} {
		if _, err := NewChallenge(rand.Reader, bad, t0, ChallengeOptions{}); !errors.Is(err, ErrNonce) {
			t.Errorf("nonce of %d bytes: %v, want ErrNonce", len(bad), err)
		}
	}
	if _, err := NewChallenge(rand.Reader, []byte("n"), t0, ChallengeOptions{Steps: 3}); err == nil {
		t.Error("3 steps accepted")
	}
	if _, err := NewChallenge(bytes.NewReader(nil), []byte("n"), t0, ChallengeOptions{}); err == nil {
		t.Error("an exhausted random source gave a challenge")
	}
}

func TestPending(t *testing.T) {
	p := NewPending(rand.Reader, ChallengeOptions{Validity: time.Minute}, 2)
	a, err := p.Issue([]byte("a"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue([]byte("a"), t0); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second Issue of a pending nonce: %v, want ErrReplayed", err)
	}
	if _, err := p.Issue([]byte("b"), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue([]byte("c"), t0); !errors.Is(err, ErrFull) {
		t.Fatalf("third pending challenge with max 2: %v, want ErrFull", err)
	}
	got, err := p.Take([]byte("a"), t0.Add(time.Second))
	if err != nil || got.String() != a.String() {
		t.Fatalf("Take: %v, %v", got, err)
	}
	if _, err := p.Take([]byte("a"), t0.Add(2*time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second Take: %v, want ErrReplayed", err)
	}
	if _, err := p.Issue([]byte("a"), t0.Add(2*time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("Issue of an answered nonce: %v, want ErrReplayed", err)
	}
	if _, err := p.Take([]byte("never"), t0); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Take of an unknown nonce: %v, want ErrUnknown", err)
	}
	if _, err := p.Take([]byte("b"), t0.Add(time.Minute)); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Take of an expired challenge: %v, want ErrUnknown", err)
	}
}
