package liveness

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Action is one thing the person in front of the camera is asked to do.
type Action uint8

// Actions. The numbering is part of no format; use [Action.String] for
// anything stored or shown.
const (
	// Blink: close both eyes and open them again.
	Blink Action = iota + 1
	// TurnLeft: turn the head to the person's own left (the nose moves to
	// the right of an un-mirrored camera frame).
	TurnLeft
	// TurnRight: turn the head to the person's own right.
	TurnRight
)

var actionNames = [...]string{Blink: "blink", TurnLeft: "turn_left", TurnRight: "turn_right"}

// String is the action's stable name: "blink", "turn_left", "turn_right".
func (a Action) String() string {
	if a >= Blink && a <= TurnRight {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MaxSteps is the largest number of actions in one challenge.
const MaxSteps = 2

// Challenge is what the verifier asks the person to do for one request, bound
// to that request's nonce. Issue it with [NewChallenge] (or [Pending.Issue])
// and check the returned frames with [Check].
type Challenge struct {
	// Nonce is the request nonce (the consent nonce) this challenge answers;
	// [Check] refuses frames sent under any other nonce.
	Nonce []byte
	// Steps are the actions, in the order they must be performed (1 or 2).
	Steps []Action
	// IssuedAt is when the verifier issued the challenge; every frame must be
	// captured after it.
	IssuedAt time.Time
	// Expires is when the challenge stops being answerable; every frame
	// must be captured before it.
	Expires time.Time
}

// String is the instruction in stable names, e.g. "blink, then turn_left".
func (c Challenge) String() string {
	names := make([]string, len(c.Steps))
	for i, s := range c.Steps {
		names[i] = s.String()
	}
	return strings.Join(names, ", then ")
}

// ChallengeOptions configure [NewChallenge]. The zero value selects the
// defaults.
type ChallengeOptions struct {
	// Steps is the number of actions: 1 or 2 (default 2: an attacker who
	// pre-recorded one video per action must guess among 6 sequences, not 3;
	// see docs/liveness.md for what that does and does not stop).
	Steps int
	// Validity is how long the challenge can be answered (default 15 s).
	Validity time.Duration
}

const (
	defaultValidity = 15 * time.Second
	maxNonce        = 256
)

// Errors of challenge issue and of [Pending].
var (
	// ErrNonce means the nonce is empty or longer than 256 bytes.
	ErrNonce = errors.New("liveness: nonce must be 1..256 bytes")
	// ErrReplayed means a challenge was asked for, or answered under, a
	// nonce that was already used. Refuse with [ReasonReplayed].
	ErrReplayed = errors.New("liveness: challenge nonce already used")
	// ErrUnknown means no challenge is pending for the nonce (never issued,
	// forgotten after a restart, or expired and evicted). Fail closed.
	ErrUnknown = errors.New("liveness: no challenge issued for this nonce")
	// ErrFull means too many challenges are pending.
	ErrFull = errors.New("liveness: too many pending challenges")
)

// NewChallenge draws a random challenge for the request nonce from rand
// (crypto/rand.Reader in production; a fixed reader only in tests), issued
// at now. The actions are uniform among [Blink], [TurnLeft] and
// [TurnRight]; with two steps both differ. The caller keeps the challenge
// (or uses [Pending]) and must accept at most one answer per nonce.
func NewChallenge(rand io.Reader, nonce []byte, now time.Time, o ChallengeOptions) (Challenge, error) {
	if len(nonce) == 0 || len(nonce) > maxNonce {
		return Challenge{}, ErrNonce
	}
	n := o.Steps
	if n == 0 {
		n = MaxSteps
	}
	if n < 1 || n > MaxSteps {
		return Challenge{}, fmt.Errorf("liveness: %d challenge steps, want 1..%d", n, MaxSteps)
	}
	v := o.Validity
	if v <= 0 {
		v = defaultValidity
	}
	c := Challenge{Nonce: append([]byte(nil), nonce...), IssuedAt: now, Expires: now.Add(v)}
	choices := []Action{Blink, TurnLeft, TurnRight}
	for range n {
		i, err := uniform(rand, len(choices))
		if err != nil {
			return Challenge{}, fmt.Errorf("liveness: random source: %w", err)
		}
		c.Steps = append(c.Steps, choices[i])
		choices = append(choices[:i:i], choices[i+1:]...)
	}
	return c, nil
}

// uniform returns an unbiased integer in [0, n), n ≤ 255, by rejection.
func uniform(r io.Reader, n int) (int, error) {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, err
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// Pending holds the challenges a verifier has issued and not yet seen
// answered, and the nonces answered recently, in memory. [Pending.Take]
// hands out each challenge once. It is safe for concurrent use.
//
// It is not durable: after a restart every pending challenge is unknown
// ([ErrUnknown], fail closed) and replays of nonces answered before the
// restart must be caught by the caller's durable nonce store (the consent
// nonce state), which is the primary replay defence.
type Pending struct {
	mu    sync.Mutex
	rand  io.Reader
	opts  ChallengeOptions
	max   int
	open  map[string]Challenge
	spent map[string]time.Time // nonce → expiry of its challenge
}

// NewPending returns a store that issues challenges with o, drawing from
// rand, and holds at most max outstanding challenges and at most max
// answered nonces not yet expired (default 1024 each).
func NewPending(rand io.Reader, o ChallengeOptions, max int) *Pending {
	if max <= 0 {
		max = 1024
	}
	return &Pending{rand: rand, opts: o, max: max, open: map[string]Challenge{}, spent: map[string]time.Time{}}
}

// Issue draws a challenge for nonce at now. A nonce that already has a
// challenge, pending or answered, gives [ErrReplayed].
func (p *Pending) Issue(nonce []byte, now time.Time) (Challenge, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evict(now)
	k := string(nonce)
	if _, ok := p.open[k]; ok {
		return Challenge{}, ErrReplayed
	}
	if _, ok := p.spent[k]; ok {
		return Challenge{}, ErrReplayed
	}
	if len(p.open) >= p.max || len(p.spent) >= p.max {
		return Challenge{}, ErrFull
	}
	c, err := NewChallenge(p.rand, nonce, now, p.opts)
	if err != nil {
		return Challenge{}, err
	}
	p.open[k] = c
	return c, nil
}

// Take removes and returns the challenge issued for nonce. A second Take of
// the same nonce gives [ErrReplayed] (until the challenge's expiry has
// passed, after which [ErrUnknown]); a nonce never issued, or a challenge
// expired at now, gives [ErrUnknown]. Take before checking frames, so a
// failed answer also spends the challenge.
func (p *Pending) Take(nonce []byte, now time.Time) (Challenge, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evict(now)
	k := string(nonce)
	if _, ok := p.spent[k]; ok {
		return Challenge{}, ErrReplayed
	}
	c, ok := p.open[k]
	if !ok {
		return Challenge{}, ErrUnknown
	}
	delete(p.open, k)
	p.spent[k] = c.Expires
	return c, nil
}

// evict drops expired challenges and spent nonces past their expiry.
func (p *Pending) evict(now time.Time) {
	for k, c := range p.open {
		if !now.Before(c.Expires) {
			delete(p.open, k)
		}
	}
	for k, exp := range p.spent {
		if !now.Before(exp) {
			delete(p.spent, k)
		}
	}
}

func sameNonce(a, b []byte) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1
}
