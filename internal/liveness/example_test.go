package liveness_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/oneface/oneface/internal/liveness"
)

// The verifier's side of a challenge: issue it for the request nonce, take
// it back once when the kiosk answers, check the frames.
func ExamplePending() {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	// Production draws from crypto/rand; a fixed source makes the example
	// reproducible. DO NOT use a predictable source in a kiosk.
	p := liveness.NewPending(bytes.NewReader([]byte{0, 1}), liveness.ChallengeOptions{}, 0)
	ch, err := p.Issue([]byte("consent nonce 7f3a"), now)
	if err != nil {
		panic(err)
	}
	fmt.Println("show:", ch)

	// ... the kiosk captures frames; the verifier analyses them ...
	got, err := p.Take([]byte("consent nonce 7f3a"), now.Add(4*time.Second))
	fmt.Println("take:", got.String() == ch.String(), err)
	_, err = p.Take([]byte("consent nonce 7f3a"), now.Add(5*time.Second))
	fmt.Println("again:", err)
	// Then: liveness.Check(got, seq, now, liveness.Limits{}) on the
	// frames' capture times and landmarks.

	// Output:
	// show: blink, then turn_right
	// take: true <nil>
	// again: liveness: challenge nonce already used
}
