package verify

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/fxamacker/cbor/v2"
	"github.com/oneface/oneface/internal/ref"
)

//go:generate go test -run ^TestVectors$ -generate-vectors

var generateVectors = flag.Bool("generate-vectors", false, "rewrite testdata/vectors (golden references)")

const vectorDir = "testdata/vectors"

// vectorKeys are TEST keys, published in testdata: never use them for
// anything else.
type vectorKeys struct {
	Issuer        string `json:"issuer"`
	OtherIssuer   string `json:"other_issuer"`
	Verifier      string `json:"verifier"`
	OtherVerifier string `json:"other_verifier"`
	Secret        string `json:"deployment_secret"`
	ModelID       string `json:"model_id"`
	Now           string `json:"now"`
	Revoked       string `json:"revoked"`
}

type vector struct {
	Name    string `json:"name"` // what it breaks
	Desc    string `json:"desc"`
	File    string `json:"file"`
	Purpose string `json:"purpose"`
	PIN     string `json:"pin,omitempty"`
	AllowV1 bool   `json:"allow_v1,omitempty"` // open with OpenerConfig.AllowV1
	WantErr string `json:"want_err,omitempty"` // sentinel name; empty: opens
	WantID  string `json:"want_id,omitempty"`
}

var sentinels = map[string]error{
	"ErrMalformed": ErrMalformed, "ErrTooLarge": ErrTooLarge, "ErrAuthentication": ErrAuthentication,
	"ErrPINRequired": ErrPINRequired, "ErrUntrustedIssuer": ErrUntrustedIssuer, "ErrExpired": ErrExpired,
	"ErrNotYetValid": ErrNotYetValid, "ErrRevoked": ErrRevoked, "ErrPurpose": ErrPurpose,
	"ErrModelMismatch": ErrModelMismatch, "ErrV1": ErrV1,
}

// writeVectors generates the golden references: each is named after what
// it breaks, and the manifest says how opening it must end.
func writeVectors(t *testing.T) {
	d := newDeployment(t)
	other := newDeployment(t)
	d.model = ModelID{0x22, 0xf8, 0xe3, 0xa4}
	keys := vectorKeys{
		Issuer: d.issuer.String(), OtherIssuer: other.issuer.String(),
		Verifier: d.verifier.String(), OtherVerifier: other.verifier.String(),
		Secret: d.secret.String(), ModelID: d.model.String(), Now: d.now.Format(time.RFC3339),
	}
	os.RemoveAll(vectorDir)
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var vs []vector
	add := func(name, desc string, sealed []byte, purpose, pin, wantErr string, id *ReferenceID) {
		file := name + ".ref"
		if err := os.WriteFile(filepath.Join(vectorDir, file), []byte(EncodeText(sealed)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		v := vector{Name: name, Desc: desc, File: file, Purpose: purpose, PIN: pin, WantErr: wantErr}
		if id != nil {
			v.WantID = id.String()
		}
		vs = append(vs, v)
	}
	req := d.request()
	id, valid := d.issue(t, req, "")
	add("valid", "a valid v2 reference for door-main and locker (128-D float16 template)", valid, "locker", "", "", &id)
	r512 := req
	r512.descs = [][]float32{syntheticVector(0.5, 512)}
	id512, valid512 := d.issue(t, r512, "")
	add("valid-512-int8", "a valid v2 reference with a 512-D int8 template", valid512, "locker", "", "", &id512)
	pid, pinned := d.issue(t, req, "2468")
	add("valid-pin", "a valid PIN-protected reference, PIN 2468", pinned, "door-main", "2468", "", &pid)
	add("pin-missing", "the PIN-protected reference opened without its PIN", pinned, "door-main", "", "ErrPINRequired", nil)
	add("pin-wrong", "the PIN-protected reference opened with PIN 1357", pinned, "door-main", "1357", "ErrAuthentication", nil)
	add("purpose-not-allowed", "the valid reference presented for purpose vault", valid, "vault", "", "ErrPurpose", nil)

	// The attack of issue 11: with the kiosk key and the deployment
	// secret, find the PIN offline, then re-seal the signed envelope
	// without the PIN layer. The signed body still says PIN required.
	outer, err := ref.UnsealOuter(pinned, []age.Identity{d.verifier.id})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := outer.Open(&ref.PIN{PIN: "2468", Secret: d.secret.b[:]})
	if err != nil {
		t.Fatal(err)
	}
	stripped, err := ref.SealV2(signed, outer.ID, []age.Recipient{d.verifier.Recipient().r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	add("pin-stripped", "the PIN reference's signed envelope re-sealed without the PIN layer (signed body says PIN required)", stripped, "door-main", "", "ErrAuthentication", nil)
	// And the reverse: a PIN layer added to a reference issued without.
	outer, _ = ref.UnsealOuter(valid, []age.Identity{d.verifier.id})
	signedPlain, _ := outer.Open(nil)
	added, err := ref.SealV2(signedPlain, outer.ID, []age.Recipient{d.verifier.Recipient().r}, &ref.PIN{PIN: "0000", Secret: d.secret.b[:]})
	if err != nil {
		t.Fatal(err)
	}
	add("pin-added", "a reference issued without PIN re-sealed under a PIN layer (PIN given)", added, "locker", "0000", "ErrAuthentication", nil)
	var otherID [16]byte
	otherID[0] = 0x42
	swapped, err := ref.SealV2(signedPlain, otherID[:], []age.Recipient{d.verifier.Recipient().r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	add("id-swapped", "the container claims another reference ID than the signed body (to dodge the lockout)", swapped, "locker", "", "ErrAuthentication", nil)
	// Another deployment's reference, by the same (trusted) issuer, sealed
	// to this verifier: the body's deployment ID is not ours.
	od := *d
	od.secret = other.secret
	_, otherDep := od.issue(t, req, "")
	add("other-deployment", "issued by the trusted issuer for another deployment, sealed to this verifier", otherDep, "locker", "", "ErrAuthentication", nil)

	r := req
	r.issuedAt, r.expiresAt = d.now.Add(-48*time.Hour), d.now.Add(-time.Second)
	_, b := d.issue(t, r, "")
	add("expired", "expired one second before now", b, "locker", "", "ErrExpired", nil)
	r = req
	r.issuedAt = d.now.Add(ClockSkew + time.Minute)
	_, b = d.issue(t, r, "")
	add("not-yet-valid", "issued six minutes in the future", b, "locker", "", "ErrNotYetValid", nil)
	rid, b := d.issue(t, req, "")
	keys.Revoked = rid.String()
	add("revoked", "its ID is on the revocation list", b, "locker", "", "ErrRevoked", nil)
	r = req
	r.model = ModelID{0x01}
	_, b = d.issue(t, r, "")
	add("other-model", "made under another model ID", b, "locker", "", "ErrModelMismatch", nil)
	_, b = other.issue(t, other.request(), "", d.verifier.Recipient())
	add("untrusted-issuer", "signed by an issuer the verifier does not trust", b, "locker", "", "ErrUntrustedIssuer", nil)
	_, b = d.issue(t, req, "", other.verifier.Recipient())
	add("other-verifier", "sealed to another verifier only", b, "locker", "", "ErrAuthentication", nil)

	// Signed, then altered, then sealed: the seal is fine, the signature
	// is not.
	var bid [16]byte
	body := mustBody(t, d, req, nil)
	signed, err = ref.SignV2(body, d.issuer.Public().ID(), d.issuer.priv)
	if err != nil {
		t.Fatal(err)
	}
	signed[len(signed)-1] ^= 1
	add("bad-signature", "last signature byte flipped before sealing", mustSeal(t, d, signed, bid), "locker", "", "ErrAuthentication", nil)
	// A v1 signature over a v2 body: the external AAD differs.
	signed, _ = ref.Sign(body, d.issuer.Public().ID(), d.issuer.priv)
	add("v1-signature-on-v2", "a v2 body signed with the v1 external AAD", mustSeal(t, d, signed, bid), "locker", "", "ErrAuthentication", nil)
	// Correctly signed, but the body breaks v2: strict parsing after
	// authentication still refuses it.
	body = mustBody(t, d, req, func(m map[int]any) { m[13] = "extension" })
	signed, _ = ref.SignV2(body, d.issuer.Public().ID(), d.issuer.priv)
	add("body-unknown-key", "authentic, but the body has a key v2 does not define", mustSeal(t, d, signed, bid), "locker", "", "ErrMalformed", nil)
	body = mustBody(t, d, req, func(m map[int]any) { m[4] = uint32(0xdeadbeef) })
	signed, _ = ref.SignV2(body, d.issuer.Public().ID(), d.issuer.priv)
	add("body-issuer-mismatch", "authentic, but the body names another issuer key", mustSeal(t, d, signed, bid), "locker", "", "ErrMalformed", nil)
	body = mustBody(t, d, req, func(m map[int]any) { m[9] = map[int]any{1: 2, 2: 512, 3: make([]byte, 516)} })
	signed, _ = ref.SignV2(body, d.issuer.Public().ID(), d.issuer.priv)
	add("template-int8-zero-scale", "authentic, but the int8 template's scale is 0", mustSeal(t, d, signed, bid), "locker", "", "ErrMalformed", nil)

	bad := append([]byte("OFR3"), valid[4:]...)
	add("bad-intro", "container intro OFR3", bad, "locker", "", "ErrMalformed", nil)
	flags := append([]byte{}, valid...)
	flags[4] |= 1
	add("flags-pin-forged", "PIN flag set on a reference without PIN (PIN given)", flags, "locker", "0000", "ErrAuthentication", nil)
	add("truncated", "last byte missing", valid[:len(valid)-1], "locker", "", "ErrAuthentication", nil)

	// Version 1: refused unless the opener opts in; with the opt-in, the
	// v1 weakness (a strippable PIN) is still there, and pinned here.
	v1id, v1 := issueV1(t, d, req, nil)
	add("v1-without-opt-in", "a valid v1 reference, opener without AllowV1", v1, "locker", "", "ErrV1", nil)
	add("v1-with-opt-in", "the same v1 reference, opener with AllowV1", v1, "locker", "", "", &v1id)
	vs[len(vs)-1].AllowV1 = true
	_, v1pinned := issueV1(t, d, req, &ref.PIN{PIN: "2468", Secret: d.secret.b[:]})
	v1signed, err := ref.Unseal(v1pinned, []age.Identity{d.verifier.id}, &ref.PIN{PIN: "2468", Secret: d.secret.b[:]})
	if err != nil {
		t.Fatal(err)
	}
	v1stripped, _ := ref.Seal(v1signed, []age.Recipient{d.verifier.Recipient().r}, nil)
	add("v1-pin-stripped-with-opt-in", "WEAKNESS OF v1, kept visible: a stripped v1 PIN reference opens without PIN under AllowV1", v1stripped, "locker", "", "", &v1id)
	vs[len(vs)-1].WantID = ""
	vs[len(vs)-1].AllowV1 = true

	writeJSON(t, filepath.Join(vectorDir, "keys.json"), keys)
	writeJSON(t, filepath.Join(vectorDir, "vectors.json"), vs)
}

// issueV1 makes a version 1 reference with the v1 code that stays in
// internal/ref for reading v1.
func issueV1(t *testing.T, d *testDeployment, req issueRequest, pin *ref.PIN) (ReferenceID, []byte) {
	t.Helper()
	var id ReferenceID
	rand.Read(id[:])
	var arr [ref.DescriptorDims]float32
	copy(arr[:], req.descs[0])
	enc, err := ref.EncodeDescriptors([][ref.DescriptorDims]float32{arr})
	if err != nil {
		t.Fatal(err)
	}
	b := &ref.Body{Version: 1, ID: id[:], Subject: req.subject[:], IssuerKeyID: d.issuer.Public().ID(),
		IssuedAt: req.issuedAt.Unix(), ExpiresAt: req.expiresAt.Unix(), Purposes: req.purposes, ModelID: req.model[:],
		Descriptors: enc, Quality: ref.Quality{Photos: 1, MinFacePx: 120}}
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ref.Sign(raw, d.issuer.Public().ID(), d.issuer.priv)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ref.Seal(signed, []age.Recipient{d.verifier.Recipient().r}, pin)
	if err != nil {
		t.Fatal(err)
	}
	return id, sealed
}

func mustBody(t *testing.T, d *testDeployment, req issueRequest, edit func(map[int]any)) []byte {
	t.Helper()
	tmpl, err := ref.EncodeTemplate(ref.EncodingFloat16, req.descs)
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := ref.DeploymentID(d.secret.b[:])
	b := &ref.BodyV2{Version: 2, ID: make([]byte, 16), Subject: req.subject[:], IssuerKeyID: d.issuer.Public().ID(),
		IssuedAt: req.issuedAt.Unix(), ExpiresAt: req.expiresAt.Unix(), Purposes: req.purposes, ModelID: req.model[:],
		Template: tmpl, Quality: ref.Quality{Photos: 1, MinFacePx: 120}, Deployment: dep}
	raw, err := b.Marshal()
	if err != nil || edit == nil {
		return raw
	}
	var m map[int]any
	cbor.Unmarshal(raw, &m)
	edit(m)
	em, _ := cbor.CoreDetEncOptions().EncMode()
	out, _ := em.Marshal(m)
	return out
}

func mustSeal(t *testing.T, d *testDeployment, signed []byte, id [16]byte) []byte {
	t.Helper()
	sealed, err := ref.SealV2(signed, id[:], []age.Recipient{d.verifier.Recipient().r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func writeJSON(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestVectors opens every committed golden reference (v2, and v1 with and
// without the opt-in) and checks how it
// ends: this pins the v1 bytes (any format change breaks them) and each
// failure's sentinel.
func TestVectors(t *testing.T) {
	if *generateVectors {
		writeVectors(t)
	}
	var keys vectorKeys
	var vs []vector
	readJSON(t, filepath.Join(vectorDir, "keys.json"), &keys)
	readJSON(t, filepath.Join(vectorDir, "vectors.json"), &vs)
	if len(vs) < 25 {
		t.Fatalf("only %d vectors", len(vs))
	}
	ik, err := ParseIssuerKey(keys.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := ParseVerifierKey(keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := ParseDeploymentSecret(keys.Secret)
	if err != nil {
		t.Fatal(err)
	}
	model, err := ParseModelID(keys.ModelID)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, keys.Now)
	revoked, _ := ParseReferenceID(keys.Revoked)
	openers := map[bool]*Opener{}
	for _, allow := range []bool{false, true} {
		o, err := NewOpener(OpenerConfig{Issuers: []*IssuerPublicKey{ik.Public()}, Keys: []*VerifierKey{vk}, Secret: secret,
			Revoked: RevocationSet{revoked: {}}, ModelID: model, Clock: func() time.Time { return now }, AllowV1: allow})
		if err != nil {
			t.Fatal(err)
		}
		openers[allow] = o
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join(vectorDir, v.File))
			if err != nil {
				t.Fatal(err)
			}
			r, err := openers[v.AllowV1].Open([]byte(strings.TrimSpace(string(raw))), v.Purpose, v.PIN)
			if v.WantErr == "" {
				if err != nil {
					t.Fatalf("%s: %v", v.Desc, err)
				}
				if v.WantID != "" && r.ID().String() != v.WantID {
					t.Fatalf("ID %s, want %s", r.ID(), v.WantID)
				}
				return
			}
			want, ok := sentinels[v.WantErr]
			if !ok {
				t.Fatalf("unknown sentinel %s", v.WantErr)
			}
			if !errors.Is(err, want) || r != nil {
				t.Fatalf("%s: got %v, want %s", v.Desc, err, v.WantErr)
			}
		})
	}
}
