package verify

import (
	"bytes"
	"errors"
	"filippo.io/age"
	"strings"
	"testing"
	"time"

	"github.com/oneface/oneface/internal/ref"
)

type testDeployment struct {
	issuer   *IssuerKey
	verifier *VerifierKey
	secret   *DeploymentSecret
	model    ModelID
	now      time.Time
}

func newDeployment(t testing.TB) *testDeployment {
	t.Helper()
	ik, err := GenerateIssuerKey("issuer.example")
	if err != nil {
		t.Fatal(err)
	}
	vk, err := GenerateVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testDeployment{issuer: ik, verifier: vk, secret: GenerateDeploymentSecret(),
		model: ModelID{0xaa, 0xbb}, now: time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)}
}

// syntheticVector is a deterministic test template of dims values.
func syntheticVector(seed float32, dims int) []float32 {
	d := make([]float32, dims)
	for i := range d {
		d[i] = seed * float32(i%7-3) / 10
	}
	return d
}

func syntheticDescriptor(seed float32) [ref.DescriptorDims]float32 {
	var d [ref.DescriptorDims]float32
	for i := range d {
		d[i] = seed * float32(i%7-3) / 10
	}
	return d
}

func (d *testDeployment) request() issueRequest {
	return issueRequest{
		subject:   d.secret.Pseudonym("employee-42"),
		issuedAt:  d.now.Add(-time.Hour),
		expiresAt: d.now.Add(365 * 24 * time.Hour),
		purposes:  []string{"door-main", "locker"},
		model:     d.model,
		quality:   Quality{Photos: 1, MinFacePx: 120},
		descs:     [][]float32{syntheticVector(1, 128)},
	}
}

func (d *testDeployment) issue(t testing.TB, req issueRequest, pin string, to ...*VerifierRecipient) (ReferenceID, []byte) {
	t.Helper()
	if len(to) == 0 {
		to = []*VerifierRecipient{d.verifier.Recipient()}
	}
	id, sealed, err := issue(d.issuer, d.secret, req, to, pin)
	if err != nil {
		t.Fatal(err)
	}
	return id, sealed
}

func (d *testDeployment) opener(t testing.TB, revoked RevocationList) *Opener {
	t.Helper()
	o, err := NewOpener(OpenerConfig{
		Issuers: []*IssuerPublicKey{d.issuer.Public()},
		Keys:    []*VerifierKey{d.verifier},
		Secret:  d.secret,
		Revoked: revoked,
		ModelID: d.model,
		Clock:   func() time.Time { return d.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOpenRoundTrip(t *testing.T) {
	d := newDeployment(t)
	req := d.request()
	id, sealed := d.issue(t, req, "")
	for name, form := range map[string][]byte{"binary": sealed, "text": []byte(EncodeText(sealed))} {
		r, err := d.opener(t, nil).Open(form, "locker", "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.ID() != id || r.Subject() != req.subject || r.ModelID() != d.model || r.IssuerKeyID() != d.issuer.Public().ID() ||
			!r.ExpiresAt().Equal(req.expiresAt.Truncate(time.Second)) || strings.Join(r.Purposes(), ",") != "door-main,locker" ||
			r.EnrollQuality() != req.quality {
			t.Fatalf("%s: fields differ: %+v", name, r)
		}
		live := syntheticDescriptor(1)
		if dist := distance(ModelDlib, r.descs[0], live[:]); dist > 1e-3 {
			t.Fatalf("template changed by %v", dist)
		}
		r.Wipe()
		if r.descs != nil {
			t.Fatal("Wipe left the template")
		}
	}
	_, again := d.issue(t, req, "")
	if bytes.Equal(sealed, again) {
		t.Fatal("two references of the same content are equal")
	}
}

func TestOpenErrors(t *testing.T) {
	d := newDeployment(t)
	good := d.request()
	id, sealed := d.issue(t, good, "")
	_, pinned := d.issue(t, good, "2468")

	expired := good
	expired.issuedAt, expired.expiresAt = d.now.Add(-48*time.Hour), d.now.Add(-time.Second)
	_, expiredRef := d.issue(t, expired, "")
	future := good
	future.issuedAt = d.now.Add(time.Hour)
	_, futureRef := d.issue(t, future, "")
	otherModel := good
	otherModel.model = ModelID{0x01}
	_, otherModelRef := d.issue(t, otherModel, "")
	stranger := newDeployment(t)
	_, otherIssuer := stranger.issue(t, stranger.request(), "", d.verifier.Recipient())
	_, otherVerifier := d.issue(t, good, "", stranger.verifier.Recipient())

	cases := []struct {
		name    string
		ref     []byte
		purpose string
		pin     string
		revoked RevocationList
		want    error
	}{
		{"wrong verifier key", otherVerifier, "locker", "", nil, ErrAuthentication},
		{"untrusted issuer", otherIssuer, "locker", "", nil, ErrUntrustedIssuer},
		{"expired", expiredRef, "locker", "", nil, ErrExpired},
		{"not yet valid", futureRef, "locker", "", nil, ErrNotYetValid},
		{"revoked", sealed, "locker", "", RevocationSet{id: {}}, ErrRevoked},
		{"wrong model", otherModelRef, "locker", "", nil, ErrModelMismatch},
		{"purpose not allowed", sealed, "vault", "", nil, ErrPurpose},
		{"PIN required", pinned, "locker", "", nil, ErrPINRequired},
		{"wrong PIN", pinned, "locker", "1357", nil, ErrAuthentication},
		{"garbage", []byte("hello"), "locker", "", nil, ErrMalformed},
		{"too large", make([]byte, ref.MaxSealed+1), "locker", "", nil, ErrTooLarge},
		{"too long text", []byte(ref.TextIntroV2 + strings.Repeat("A", ref.MaxText)), "locker", "", nil, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := d.opener(t, c.revoked).Open(c.ref, c.purpose, c.pin)
			if !errors.Is(err, c.want) || r != nil {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if r, err := d.opener(t, nil).Open(pinned, "locker", "2468"); err != nil || r == nil {
		t.Fatalf("right PIN: %v", err)
	}
}

// TestSealedReferenceMutations: every bit flip (two per byte), every
// truncation and 100 extensions of a sealed reference fail; none panics.
func TestSealedReferenceMutations(t *testing.T) {
	d := newDeployment(t)
	_, sealed := d.issue(t, d.request(), "")
	o := d.opener(t, nil)
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(sealed)
			b[i] ^= bit
			if r, err := o.Open(b, "locker", ""); err == nil || r != nil {
				t.Fatalf("flip %#x at byte %d accepted", bit, i)
			}
		}
	}
	for n := range len(sealed) {
		if r, err := o.Open(sealed[:n], "locker", ""); err == nil || r != nil {
			t.Fatalf("truncation to %d bytes accepted", n)
		}
	}
	for n := 1; n <= 100; n++ {
		if r, err := o.Open(append(bytes.Clone(sealed), make([]byte, n)...), "locker", ""); err == nil || r != nil {
			t.Fatalf("extension by %d bytes accepted", n)
		}
	}
}

// TestSizes prints the v2 size table and holds the budget: ≤ 1,024 bytes
// sealed for one verifier with PIN and a 512-D int8 template.
func TestSizes(t *testing.T) {
	d := newDeployment(t)
	var recips []*VerifierRecipient
	for range 10 {
		k, _ := GenerateVerifierKey()
		recips = append(recips, k.Recipient())
	}
	t.Logf("%-16s %-10s %-5s %8s %8s", "template", "verifiers", "PIN", "binary", "text")
	for _, tmpl := range []struct {
		name string
		dims int
	}{{"128-D float16", 128}, {"512-D int8", 512}} {
		req := d.request()
		req.descs = [][]float32{syntheticVector(0.7, tmpl.dims)}
		for _, n := range []int{1, 3, 10} {
			for _, pin := range []string{"", "2468"} {
				_, sealed := d.issue(t, req, pin, recips[:n]...)
				t.Logf("%-16s %-10d %-5v %8d %8d", tmpl.name, n, pin != "", len(sealed), len(EncodeText(sealed)))
				if n == 1 && len(sealed) > 1024 {
					t.Errorf("%s: %d bytes sealed for one verifier (PIN %v), budget 1024", tmpl.name, len(sealed), pin != "")
				}
			}
		}
	}
}

func FuzzOpen(f *testing.F) {
	d := newDeployment(f)
	_, sealed := d.issue(f, d.request(), "")
	_, pinned := d.issue(f, d.request(), "2468")
	f.Add(sealed, "")
	f.Add(pinned, "2468")
	f.Add([]byte(EncodeText(sealed)), "")
	o := d.opener(f, nil)
	f.Fuzz(func(t *testing.T, data []byte, pin string) {
		if len(pin) > 16 {
			pin = pin[:16]
		}
		r, err := o.Open(data, "locker", pin)
		if (err == nil) == (r == nil) {
			t.Fatalf("reference %v with error %v", r, err)
		}
		if err == nil && !bytes.Equal(data, sealed) && !bytes.Equal(data, pinned) && string(data) != EncodeText(sealed) {
			t.Fatalf("accepted a reference that was never issued")
		}
	})
}

// stripPIN is the attack of issue 11: with the kiosk key and the
// deployment secret (and the PIN, found offline), re-seal the signed
// envelope without its PIN layer.
func stripPIN(t testing.TB, d *testDeployment, sealed []byte, pin string) []byte {
	t.Helper()
	outer, err := ref.UnsealOuter(sealed, []age.Identity{d.verifier.id})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := outer.Open(&ref.PIN{PIN: pin, Secret: d.secret.b[:]})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ref.SealV2(signed, outer.ID, []age.Recipient{d.verifier.Recipient().r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
