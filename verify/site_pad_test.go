//go:build cgo

package verify

import (
	"context"
	"errors"
	"math"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/site"
)

// sitePADFile signs a site calibration for the kiosk's model with the
// shipped comparison threshold and the given PAD part.
func sitePADFile(t *testing.T, k *kiosk, skey string, p *site.PAD) []byte {
	t.Helper()
	id := k.verifier.model
	shipped := k.verifier.thresholds[id][1]
	b, err := site.Sign(&site.Calibration{Site: "door-test", ModelID: id.String(), TargetFMR: 1e-3, Points: []site.Point{{
		Photos: 1, Threshold: shipped, Shipped: shipped, FMR: calib.Rate{Trials: 5041}, FNMR: calib.Rate{Trials: 657}, Supported: true}},
		PAD: p}, skey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shippedPAD(threshold float64, attacks ...site.PADAttack) *site.PAD {
	return &site.PAD{Models: []string{pad.Shipped.Models[0].String()}, Widen: pad.Shipped.Widen, TargetBPCER: 0.05,
		Threshold: threshold, Shipped: pad.Shipped.Threshold, BPCER: calib.Rate{Errors: 3, Trials: 80}, Supported: true, Attacks: attacks}
}

// lastPolicy is the policy summary of the kiosk log's last entry.
func lastPolicy(t *testing.T, k *kiosk) *audit.PolicySummary {
	t.Helper()
	r, err := audit.ParseRecord(must(k.log.Entry(k.log.Size() - 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Policy()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSitePADThreshold: without a site calibration the shipped PAD
// threshold applies and the configuration entry says "shipped"; a site
// calibration's PAD threshold replaces it (a stricter one refuses the live
// frame the shipped one accepted), and the entry says "site". A PAD part
// measured for other networks, another crop or another shipped threshold
// stops New; a lowered threshold without attack captures cannot even be
// signed as a site calibration, and a hand-signed one is refused.
func TestSitePADThreshold(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	ctx := context.Background()
	if p := lastPolicy(t, k); p.PADThreshold != pad.Shipped.Threshold || p.PADCalibration != audit.PADShipped || p.SiteCalibration != nil {
		t.Fatalf("configuration entry without a site calibration: %+v", p)
	}
	enr := k.enrollFile(t, spoofFrames(t, "0001", "01", "live")[0])
	live := readFile(t, spoofFrames(t, "0001", "02", "live")[0])
	if d, err := k.verifier.Verify(ctx, k.request(enr.Reference, live)); err != nil || !d.Match {
		t.Fatalf("live frame at the shipped threshold: %+v %v", d, err)
	}
	// The frame's own score, as Verify computes it.
	img, _, err := imageio.Decode(live, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.engine.analyzeFrame(ctx, Frame{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Single()
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.engine.pad.Score(ctx, img, f.Box)
	if err != nil {
		t.Fatal(err)
	}
	above := math.Ceil(s.Live*1e4+1) / 1e4
	if above <= pad.Shipped.Threshold || above > 1 {
		t.Skipf("live score %.4f leaves no stricter threshold to test with", s.Live)
	}

	skey, vkey, err := note.GenerateKey(nil, "door-test")
	if err != nil {
		t.Fatal(err)
	}
	newV := func(cal []byte, mode Liveness) (*Verifier, error) {
		return New(VerifierConfig{Engine: k.engine, Opener: k.verifier.c.Opener, Audit: k.log, State: k.state, KioskKey: k.kioskKey,
			Policy: Policy{Liveness: mode, Notices: k.verifier.p.Notices, UnsealPerMinute: 1 << 20}, Clock: k.clock,
			SiteCalibration: cal, SiteKey: vkey})
	}
	strict, err := newV(sitePADFile(t, k, skey, shippedPAD(above)), LivenessPassive)
	if err != nil {
		t.Fatal(err)
	}
	if p := lastPolicy(t, k); p.PADThreshold != above || p.PADCalibration != audit.PADSite || p.SiteCalibration == nil {
		t.Fatalf("configuration entry with a site PAD threshold: %+v", p)
	}
	d, err := strict.Verify(ctx, k.request(enr.Reference, live))
	if err != nil || !d.Refused || d.Reasons[0].Code != ReasonPresentationAttack {
		t.Fatalf("live score %.4f under the site threshold %.4f: %+v %v", s.Live, above, d, err)
	}
	t.Logf("live frame: score %.4f, matched at the shipped %.4f, refused presentation_attack at the site's %.4f", s.Live, pad.Shipped.Threshold, above)

	// Lowered, with the site's print captures showing no more accepted.
	low := shippedPAD(0.2, site.PADAttack{Type: "print", APCER: calib.Rate{Trials: 40}, ShippedAPCER: calib.Rate{Trials: 40}})
	if _, err := newV(sitePADFile(t, k, skey, low), LivenessBoth); err != nil {
		t.Fatal(err)
	}
	if p := lastPolicy(t, k); p.PADThreshold != 0.2 || p.PADCalibration != audit.PADSite {
		t.Fatalf("lowered site threshold: %+v", p)
	}
	// Without the passive check the PAD part is not used and not recorded.
	if _, err := newV(sitePADFile(t, k, skey, low), LivenessChallenge); err != nil {
		t.Fatal(err)
	}
	if p := lastPolicy(t, k); p.PADThreshold != 0 || p.PADCalibration != "" || p.SiteCalibration == nil {
		t.Fatalf("challenge-only verifier: %+v", p)
	}

	for name, p := range map[string]*site.PAD{
		"other network": func() *site.PAD { p := shippedPAD(0.5); p.Models = []string{pad.MiniFASNetV2.String()}; return p }(),
		"two networks": func() *site.PAD {
			p := shippedPAD(0.5)
			p.Models = append(p.Models, pad.MiniFASNetV2.String())
			return p
		}(),
		"other widening":    func() *site.PAD { p := shippedPAD(0.5); p.Widen = 1; return p }(),
		"shipped misstated": func() *site.PAD { p := shippedPAD(0.7); p.Shipped = 0.6; return p }(),
		// Signed with "measured" attacks, but below the floor at which the
		// shipped measurement's prints would pass (a kiosk owner lowering
		// the check with made-up evidence).
		"below the floor": shippedPAD(pad.Shipped.Floor-0.0001, site.PADAttack{Type: "print", APCER: calib.Rate{Trials: 40}, ShippedAPCER: calib.Rate{Trials: 40}}),
	} {
		if _, err := newV(sitePADFile(t, k, skey, p), LivenessPassive); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v, want ErrPolicy", name, err)
		}
	}
	if _, err := site.Sign(&site.Calibration{Site: "s", ModelID: k.verifier.model.String(), TargetFMR: 1e-3,
		Points: []site.Point{{Photos: 1, Threshold: 0.5, Shipped: 0.5}}, PAD: shippedPAD(0.2)}, skey); !errors.Is(err, site.ErrLooser) {
		t.Errorf("lowered PAD threshold without attack captures signed: %v", err)
	}
}
