//go:build cgo

package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"image/png"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/oneface/oneface/internal/ref"
	"github.com/oneface/oneface/internal/testenv"
)

// forgeContainer is what anyone with the kiosk's public recipient can
// make: a v2 container claiming reference id, with a PIN layer under a
// PIN and a deployment secret of the forger's choosing over garbage.
func forgeContainer(t testing.TB, to *VerifierRecipient, id ReferenceID) []byte {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	sealed, err := ref.SealV2([]byte("not a signed reference"), id[:], []age.Recipient{to.r}, &ref.PIN{PIN: "0000", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// pinAttempts is how many PIN attempts the kiosk counts against the
// sealed container a reference's bytes (any form) carry.
func (k *kiosk) pinAttempts(t testing.TB, reference []byte) int {
	t.Helper()
	outer, err := k.verifier.c.Opener.unseal(reference, true)
	if err != nil {
		t.Fatal(err)
	}
	defer k.verifier.c.Opener.wipeOuter(outer)
	n, err := k.state.s.Attempts(pinAttemptKey(outer), k.clock(), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestForgedContainersCannotLockOutHolder: the red team's denial of
// service. Forged containers claiming the holder's reference ID, with
// wrong PINs, many more than MaxFailures, fresh ones and one repeated.
// Before: each counted a failure against the holder's reference ID, so
// the holder, with the right PIN and face, was locked out. Now PIN
// attempts count against the sealed container, which a forger cannot
// reproduce without the kiosk's key: the forgeries lock out only
// themselves, and the holder matches.
func TestForgedContainersCannotLockOutHolder(t *testing.T) {
	k := newKiosk(t, nil, Policy{MaxFailures: 3})
	calls := k.countEngine()
	enr := k.enrollPIN(t, "2468", abel1)
	good := testenv.ReadLFW(t, abel4)
	same := forgeContainer(t, k.d.verifier.Recipient(), enr.ID)
	for i := range 8 {
		forged := forgeContainer(t, k.d.verifier.Recipient(), enr.ID)
		if i%2 == 1 {
			forged = same
		}
		req := k.request(forged, good)
		req.PIN = "1234"
		d, err := k.verifier.Verify(context.Background(), req)
		if err != nil || !d.Refused || (d.Reasons[0].Code != ReasonReferenceAuth && d.Reasons[0].Code != ReasonLockedOut) {
			t.Fatalf("forgery %d: %+v %v", i, d, err)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("%d engine calls for forgeries", calls.Load())
	}
	req := k.request(enr.Reference, good)
	req.PIN = "2468"
	d, err := k.verifier.Verify(context.Background(), req)
	if err != nil || !d.Match {
		t.Fatalf("the holder after a flood of forgeries: %+v %v", d.Reasons, err)
	}
	if n := k.pinAttempts(t, same); n != 3 {
		t.Fatalf("the repeated forgery has %d attempts, want 3 (MaxFailures: it locks itself out)", n)
	}
	if n, _ := k.state.Attempts(enr.ID, k.clock(), 15*time.Minute); n != 0 {
		t.Fatalf("%d attempts against the holder's reference from forgeries", n)
	}
}

// TestStolenCardFormsShareOneCount: a thief with the real card tries
// PINs through every form of it — binary, text, text wrapped with CRLF
// as a mail client leaves it, and the bytes a QR reader returns — and
// still gets MaxFailures guesses in all: the count is keyed by the sealed
// content, the same whatever the transport. Then the right PIN is locked
// out; comparisons still count against the reference ID.
func TestStolenCardFormsShareOneCount(t *testing.T) {
	k := newKiosk(t, nil, Policy{MaxFailures: 4})
	enr := k.enrollPIN(t, "2468", abel1)
	good := testenv.ReadLFW(t, abel4)
	text := EncodeText(enr.Reference)
	var wrapped strings.Builder
	for i := 0; i < len(text); i += 64 {
		wrapped.WriteString(text[i:min(i+64, len(text))] + "\r\n")
	}
	qr, err := QRCode(enr.Reference, 6)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(qr))
	if err != nil {
		t.Fatal(err)
	}
	fromQR, err := ReadQR(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	forms := [][]byte{enr.Reference, []byte(text), []byte(wrapped.String()), fromQR}
	for i, form := range forms {
		req := k.request(form, good)
		req.PIN = "000" + string(rune('0'+i))
		d, err := k.verifier.Verify(context.Background(), req)
		if err != nil || !d.Refused || d.Reasons[0].Code != ReasonReferenceAuth {
			t.Fatalf("wrong PIN through form %d: %+v %v", i, d, err)
		}
	}
	for i, form := range forms {
		if n := k.pinAttempts(t, form); n != 4 {
			t.Fatalf("form %d: %d PIN attempts counted, want 4", i, n)
		}
	}
	for i, form := range forms {
		req := k.request(form, good)
		req.PIN = "2468"
		d, err := k.verifier.Verify(context.Background(), req)
		if err != nil || d.Match || d.Reasons[0].Code != ReasonLockedOut {
			t.Fatalf("right PIN through form %d after 4 wrong ones: %+v %v", i, d, err)
		}
	}
	// After the window: a wrong face with the right PIN counts against
	// the reference ID, and the PIN attempt is no failure.
	k.advance(16 * time.Minute)
	req := k.request(enr.Reference, testenv.ReadLFW(t, akhmed))
	req.PIN = "2468"
	d, err := k.verifier.Verify(context.Background(), req)
	if err != nil || d.Match {
		t.Fatalf("impostor with the right PIN: %+v %v", d, err)
	}
	if n, _ := k.state.Attempts(enr.ID, k.clock(), 15*time.Minute); n != 1 {
		t.Fatalf("%d no-match attempts against the reference, want 1", n)
	}
	if n := k.pinAttempts(t, enr.Reference); n != 0 {
		t.Fatalf("%d PIN attempts after the right PIN, want 0", n)
	}
	req = k.request(enr.Reference, good)
	req.PIN = "2468"
	if d, err := k.verifier.Verify(context.Background(), req); err != nil || !d.Match {
		t.Fatalf("the holder: %+v %v", d, err)
	}
	if n, _ := k.state.Attempts(enr.ID, k.clock(), 15*time.Minute); n != 0 {
		t.Fatalf("%d attempts left after a match", n)
	}
}
