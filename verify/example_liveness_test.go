package verify_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"time"

	"github.com/oneface/oneface/verify"
)

// A kiosk with LivenessBoth (the engine opened with EngineOptions{PAD:
// true}): after the consent, ask for the challenge bound to its nonce, show
// it, capture the frames with their capture times, and verify them with
// that consent. Refusals name the check: presentation_attack,
// static_face, mixed_faces, challenge_not_performed, ...
func ExampleVerifier_Challenge() {
	var v *verify.Verifier           // verify.New(... Policy{Liveness: verify.LivenessBoth, ...})
	var camera func() []verify.Frame // the frames captured from now on, each with its CapturedAt
	var card []byte
	const notice = "We compare your face with your card, keep no image, and log the use."

	consent := &verify.Consent{Purpose: "door-main", NoticeVersion: "notice-2026-11",
		NoticeHash: verify.NoticeHash(notice), GivenAt: time.Now()}
	rand.Read(consent.Nonce[:])
	ch, err := v.Challenge(context.Background(), consent.Nonce)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("please:", ch) // e.g. "blink, then turn_left", before ch.Expires
	d, err := v.Verify(context.Background(), verify.Request{Reference: card, Frames: camera(), Consent: consent, Purpose: "door-main"})
	if err != nil {
		log.Fatal(err) // no decision: keep the door shut
	}
	fmt.Println(d.Match, d.Liveness, d.Reasons)
}
