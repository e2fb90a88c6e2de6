// Command frames is a kiosk loop over a camera stream: frames arrive as
// decoded images (image.Image, as a camera driver hands them over; no JPEG
// round trip), and the kiosk verifies the presented card against them a
// few frames at a time until it gets a decision: a match, no match, or a
// refusal that a retry cannot fix. A refusal that asks for a retry (no
// face in these frames, blur, exposure, pose) moves on to the next frames.
// Exit codes, as oneface verify's: 0 match, 3 no match, 4 refused, 1 no
// decision could be made, 2 usage.
//
// Liveness is LivenessBoth by default: per attempt the kiosk asks for a
// challenge (blink, turn left or right), shows it, and verifies the frames
// captured after it, which the presentation-attack network also scores.
//
// Here the "camera" reads a directory of JPEG/PNG frames in name order,
// handing one over every 100 ms (a 10 fps camera).
//
//	frames -keys /etc/oneface -data /var/lib/oneface -receipt receipt.txt card.png frames/
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // the camera stand-in decodes JPEG and PNG files
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

const notice = "We compare your face with your card, keep no image, and log the use."

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "frames:", err)
	}
	os.Exit(code)
}

func run() (int, error) {
	models := flag.String("models", ".models", "face model directory (made by 'make setup')")
	keys := flag.String("keys", "keys", "directory holding kiosk.key, issuer.pub, deployment.secret and log.key")
	data := flag.String("data", "data", "the kiosk's directory: audit/ (the audit log) and state")
	purpose := flag.String("purpose", "door-main", "what the verification is for")
	liveness := flag.String("liveness", "both", "liveness check: both (a challenge, then presentation-attack detection), challenge, passive (presentation-attack detection on the compared frame) or none (a photo of the holder matches too)")
	window := flag.Int("window", 10, "frames per attempt (1..10; a challenge needs at least 3, over 300 ms per step)")
	receipt := flag.String("receipt", "", "write the person's audit receipt of the decision to this new file")
	flag.Parse()
	if flag.NArg() != 2 || *window < 1 || *window > 10 {
		return 2, errors.New("usage: frames [-window 1..10] [flags] CARD FRAME-DIR (CARD: the card's QR code as PNG/JPEG, or the reference file)")
	}
	var errs []error
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(*keys, name))
		errs = append(errs, err)
		return strings.TrimSpace(string(b))
	}
	kioskKey, err1 := verify.ParseVerifierKey(read("kiosk.key"))
	issuer, err2 := verify.ParseIssuerPublicKey(read("issuer.pub"))
	secret, err3 := verify.ParseDeploymentSecret(read("deployment.secret"))
	signer, err4 := verify.ParseKioskKey(read("log.key"))
	card, err5 := readCard(context.Background(), flag.Arg(0))
	if err := errors.Join(append(errs, err1, err2, err3, err4, err5)...); err != nil {
		return 1, err
	}

	log, err := audit.Open(filepath.Join(*data, "audit"), read("log.key"), audit.Options{})
	if err != nil {
		return 1, err
	}
	defer log.Close()
	state, err := verify.OpenState(filepath.Join(*data, "state"), kioskKey, log.Size() == 0)
	if err != nil {
		return 1, err
	}
	defer state.Close()
	mode := verify.Liveness(*liveness)
	// PAD: the passive presentation-attack network (.models/antispoof).
	engine, err := verify.OpenEngine(*models, verify.EngineOptions{PoolSize: 1, PAD: mode == verify.LivenessPassive || mode == verify.LivenessBoth}) // one analysis at a time
	if err != nil {
		return 1, err
	}
	defer engine.Close()
	opener, err := verify.NewOpener(verify.OpenerConfig{Issuers: []*verify.IssuerPublicKey{issuer},
		Keys: []*verify.VerifierKey{kioskKey}, Secret: secret, ModelID: engine.ModelID()})
	if err != nil {
		return 1, err
	}
	policy := verify.Policy{TargetFMR: 1e-3, MaxFailures: 5, LockoutWindow: 15 * time.Minute,
		Notices: map[string][32]byte{"notice-1": verify.NoticeHash(notice)}, Liveness: mode}
	v, err := verify.New(verify.VerifierConfig{Engine: engine, Opener: opener, Audit: log, State: state, KioskKey: signer, Policy: policy})
	if err != nil {
		return 1, err
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop() // stops the camera
	stream := camera(ctx, flag.Arg(1))
	for attempt := 1; ; attempt++ {
		consent := consentScreen(*purpose)
		var since time.Time
		if mode == verify.LivenessChallenge || mode == verify.LivenessBoth {
			ch, err := v.Challenge(ctx, consent.Nonce)
			if err != nil {
				return 1, err
			}
			fmt.Printf("attempt %d: please %s\n", attempt, strings.Join(steps(ch.Steps), ", then "))
			since = ch.IssuedAt
		}
		var batch []verify.Frame
		for f := range stream {
			if f.CapturedAt.Before(since) {
				continue // captured before the challenge was shown
			}
			if batch = append(batch, f); len(batch) == *window {
				break
			}
		}
		if len(batch) == 0 {
			fmt.Println("the camera stopped before a decision")
			return 4, nil
		}
		d, err := v.Verify(ctx, verify.Request{Reference: card, Frames: batch, Consent: consent, Purpose: *purpose})
		if err != nil {
			return 1, err // no decision: keep the door shut
		}
		if d.Receipt != nil && *receipt != "" && (!d.Refused || !retry(d.Reasons)) {
			if err := writeNew(*receipt, d.Receipt); err != nil {
				return 1, err
			}
		}
		switch {
		case d.Match:
			fmt.Printf("attempt %d: match: open the door\n", attempt)
			return 0, nil
		case d.Refused && retry(d.Reasons):
			fmt.Printf("attempt %d: %s; next frames\n", attempt, codes(d.Reasons))
		case d.Refused:
			fmt.Printf("attempt %d: refused: %s\n", attempt, codes(d.Reasons))
			return 4, nil
		default:
			fmt.Printf("attempt %d: no match\n", attempt)
			return 3, nil
		}
	}
}

// steps spells a challenge for the screen.
func steps(as []verify.Action) []string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = strings.ReplaceAll(string(a), "_", " ")
	}
	return s
}

// camera stands in for a camera driver: every 100 ms it sends the next
// frame of dir, in name order, as a decoded image with its capture time,
// and closes the stream after the last.
func camera(ctx context.Context, dir string) <-chan verify.Frame {
	out := make(chan verify.Frame)
	go func() {
		defer close(out)
		names, _ := filepath.Glob(filepath.Join(dir, "*"))
		slices.Sort(names)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for _, name := range names {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			b, err := os.ReadFile(name)
			if err != nil {
				continue
			}
			img, _, err := image.Decode(bytes.NewReader(b))
			if err != nil {
				continue // a driver never hands over an undecodable frame
			}
			select {
			case out <- verify.Frame{Image: img, CapturedAt: time.Now()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// consentScreen shows the notice and returns the person's consent. Here the
// person always agrees; a real kiosk waits for the tap and asks again for
// every attempt (a consent's nonce is used once).
func consentScreen(purpose string) *verify.Consent {
	c := &verify.Consent{Purpose: purpose, NoticeVersion: "notice-1", NoticeHash: verify.NoticeHash(notice), GivenAt: time.Now()}
	rand.Read(c.Nonce[:])
	return c
}

// readCard reads the card: a picture of its QR code, or the reference file.
func readCard(ctx context.Context, name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if img, _, err := image.Decode(bytes.NewReader(b)); err == nil {
		return verify.ReadQR(ctx, img)
	}
	return b, nil
}

// retry reports whether every reason says a new attempt may succeed.
func retry(rs []verify.FrameReason) bool {
	for _, r := range rs {
		if !r.Retry {
			return false
		}
	}
	return len(rs) > 0
}

func codes(rs []verify.FrameReason) string {
	var s []string
	for _, r := range rs {
		s = append(s, string(r.Code))
	}
	return strings.Join(s, ",")
}

// writeNew writes a new file readable by its owner only; it never replaces
// an existing file nor follows a planted link.
func writeNew(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}
