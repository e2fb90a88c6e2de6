//go:build cgo

package verify

// Red-team (outside attacker, round 2): the signed site calibration and its
// PAD threshold, through the public verifier configuration. Each test fails
// when the attack works.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/site"
)

// rtNewVerifier is a verifier on k's engine, opener, log and state, with
// the given site calibration and key.
func rtNewVerifier(k *kiosk, mode Liveness, cal []byte, vkey string) (*Verifier, error) {
	return New(VerifierConfig{Engine: k.engine, Opener: k.verifier.c.Opener, Audit: k.log, State: k.state, KioskKey: k.kioskKey,
		Policy: Policy{Liveness: mode, Notices: k.verifier.p.Notices, UnsealPerMinute: 1 << 20, ExposeDistance: true}, Clock: k.clock,
		SiteCalibration: cal, SiteKey: vkey})
}

// rtSiteText is the text of a site calibration for k's model (one photos
// line at the shipped threshold) followed by extra lines.
func rtSiteText(k *kiosk, extra ...string) string {
	id := k.verifier.model
	th := trimFloat(k.verifier.thresholds[id][1])
	s := "oneface site calibration v1\nsite door-test\nmodel " + id.String() + "\ntarget-fmr 0.001\n" +
		"photos 1 threshold " + th + " shipped " + th + " fmr 0 5041 fnmr 0 657 supported yes\n"
	for _, l := range extra {
		s += l + "\n"
	}
	return s
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.4f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func rtSignText(t *testing.T, text, skey string) []byte {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRedteam2SiteKeyWithoutFile: an integrator (or `oneface verify
// -site-calibration -` on an empty standard input) hands New the
// deployment key but a nil calibration — e.g. the bytes of an empty file
// read through a bytes.Buffer. The configuration asks for a site
// calibration; New must refuse rather than run on the shipped thresholds
// as if none had been asked for.
func TestRedteam2SiteKeyWithoutFile(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	_, vkey, err := note.GenerateKey(nil, "door-test")
	if err != nil {
		t.Fatal(err)
	}
	var empty bytes.Buffer // an empty site file read into a buffer
	v, err := rtNewVerifier(k, LivenessPassive, empty.Bytes(), vkey)
	if err == nil {
		p := lastPolicy(t, k)
		t.Fatalf("BROKEN: SiteKey set, SiteCalibration empty (nil): New accepted it and runs on shipped thresholds (PAD %v/%s, calibration %x); want ErrPolicy",
			p.PADThreshold, p.PADCalibration, p.SiteCalibration)
	}
	_ = v
}

// TestRedteam2SiteHashOneEncoding: the package doc promises "one encoding
// and one hash" per calibration, and the configuration entry records that
// hash so an auditor can tell which calibration decided. The kiosk's owner
// adds a second signature (any key of their own) to the deployment's
// signed file: same calibration, same thresholds, another hash in the
// audit log — the auditor's copy no longer matches.
func TestRedteam2SiteHashOneEncoding(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	other, _, _ := note.GenerateKey(nil, "kiosk-owner")
	text := rtSiteText(k)
	s1, _ := note.NewSigner(skey)
	s2, _ := note.NewSigner(other)
	orig, err := note.Sign(&note.Note{Text: text}, s1)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := note.Sign(&note.Note{Text: text}, s1, s2)
	if err != nil {
		t.Fatal(err)
	}
	o1, err := site.Load(orig, vkey)
	if err != nil {
		t.Fatal(err)
	}
	o2, err := site.Load(twice, vkey)
	if err == nil && o1.Hash != o2.Hash {
		if _, err := rtNewVerifier(k, LivenessPassive, twice, vkey); err != nil {
			t.Fatal(err)
		}
		t.Fatalf("BROKEN: the same calibration loads under two hashes (%x… and %x…): an extra signature line changes what the configuration entry records",
			o1.Hash[:6], o2.Hash[:6])
	}
}

// TestRedteam2SiteSupportedMustMatchCounts: "supported says whether the
// site's impostor count reached 3/target" — a signed file claiming
// "supported yes" on zero comparisons (photos and PAD) must not load: the
// claim reaches the auditor as a measured fact.
func TestRedteam2SiteSupportedMustMatchCounts(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	id := k.verifier.model
	th := trimFloat(k.verifier.thresholds[id][1])
	for name, text := range map[string]string{
		"photos: supported yes on 0 impostor comparisons": "oneface site calibration v1\nsite door-test\nmodel " + id.String() + "\ntarget-fmr 0.001\n" +
			"photos 1 threshold " + th + " shipped " + th + " fmr 0 0 fnmr 0 0 supported yes\n",
		"pad: supported yes on 0 live captures": rtSiteText(k, "pad models "+pad.Shipped.Models[0].String()+" widen 1.5 target-bpcer 0.05 threshold 0.5 shipped "+
			trimFloat(pad.Shipped.Threshold)+" bpcer 0 0 supported yes"),
	} {
		if _, err := site.Load(rtSignText(t, text, skey), vkey); err == nil {
			t.Errorf("BROKEN: %s: loaded", name)
		}
	}
}

// TestRedteam2SitePADLoweredOnNoEvidence: the deployment key signs a PAD
// threshold at the floor (0.0257, vs shipped 0.3276) "measured" on zero
// live captures (supported no) and one attack capture of a type the
// shipped measurement never saw. The rule says the threshold goes below
// shipped only "as far as the site's own attack captures show"; one
// capture shows nothing, and prints (which this site did not measure)
// lose the protection the shipped threshold gave them.
func TestRedteam2SitePADLoweredOnNoEvidence(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	floor := trimFloat(pad.Shipped.Floor)
	text := rtSiteText(k, "pad models "+pad.Shipped.Models[0].String()+" widen 1.5 target-bpcer 0.05 threshold "+floor+" shipped "+
		trimFloat(pad.Shipped.Threshold)+" bpcer 0 0 supported no", "pad-attack screen apcer 0 1 shipped 0 1")
	if _, err := rtNewVerifier(k, LivenessPassive, rtSignText(t, text, skey), vkey); err == nil {
		p := lastPolicy(t, k)
		t.Errorf("BROKEN: PAD threshold lowered to %v/%s (shipped %v) on 0 live captures and 1 attack capture of an unmeasured type; want refused (no evidence: supported no)",
			p.PADThreshold, p.PADCalibration, pad.Shipped.Threshold)
	}
}

// TestRedteam2SiteParserTricks: edited spellings of a valid calibration,
// re-signed with the right key, that must not load (one encoding per
// value; exact lines).
func TestRedteam2SiteParserTricks(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	good := rtSiteText(k)
	if _, err := site.Load(rtSignText(t, good, skey), vkey); err != nil {
		t.Fatalf("the valid base text does not load: %v\n%s", err, good)
	}
	id := k.verifier.model
	th := trimFloat(k.verifier.thresholds[id][1])
	padLine := func(th, shipped string) string {
		return "pad models " + pad.Shipped.Models[0].String() + " widen 1.5 target-bpcer 0.05 threshold " + th + " shipped " + shipped + " bpcer 0 80 supported yes"
	}
	ship := trimFloat(pad.Shipped.Threshold)
	bad := map[string]string{
		"CRLF":                    strings.ReplaceAll(good, "\n", "\r\n"),
		"trailing space":          strings.Replace(good, "supported yes\n", "supported yes \n", 1),
		"double space":            strings.Replace(good, "threshold ", "threshold  ", 1),
		"duplicate photos line":   good + strings.SplitAfter(good, "\n")[4],
		"blank line":              good + "\n",
		"fmr as 1e-3":             strings.Replace(good, "0.001", "1e-3", 1),
		"fmr as .001":             strings.Replace(good, "target-fmr 0.001", "target-fmr .001", 1),
		"fmr with zero":           strings.Replace(good, "target-fmr 0.001", "target-fmr 0.0010", 1),
		"threshold padded":        strings.Replace(good, "threshold "+th, "threshold "+th+"0", 1),
		"threshold hex":           strings.Replace(good, "threshold "+th, "threshold 0x1p-1", 1),
		"threshold underscore":    strings.Replace(good, "threshold "+th, "threshold 0.5_1", 1),
		"count leading zero":      strings.Replace(good, "fmr 0 5041", "fmr 0 05041", 1),
		"count plus":              strings.Replace(good, "fmr 0 5041", "fmr +0 5041", 1),
		"uppercase model":         strings.Replace(good, id.String(), strings.ToUpper(id.String()), 1),
		"unicode digit":           strings.Replace(good, "fmr 0 5041", "fmr 0 ５041", 1),
		"pad threshold 1e-1":      rtSiteText(k, padLine("1e-1", ship)),
		"pad threshold NaN":       rtSiteText(k, padLine("NaN", ship)),
		"two pad lines":           rtSiteText(k, padLine("0.5", ship), padLine("0.5", ship)),
		"pad line first":          strings.Replace(good, "photos 1", padLine("0.5", ship)+"\nphotos 1", 1),
		"pad attack dup type":     rtSiteText(k, padLine("0.2", ship), "pad-attack print apcer 0 40 shipped 0 40", "pad-attack print apcer 0 40 shipped 0 40"),
		"pad attack trials mism.": rtSiteText(k, padLine("0.2", ship), "pad-attack print apcer 0 40 shipped 0 41"),
		"pad attack more at low":  rtSiteText(k, padLine("0.2", ship), "pad-attack print apcer 3 40 shipped 0 40"),
		"pad below floor":         rtSiteText(k, padLine("0.0256", ship), "pad-attack print apcer 0 40 shipped 0 40"),
		"pad zero":                rtSiteText(k, padLine("0", ship), "pad-attack print apcer 0 40 shipped 0 40"),
		"shipped misstated":       rtSiteText(k, padLine("0.2", "0.2"), "pad-attack print apcer 0 40 shipped 0 40"),
		"model list dup":          strings.Replace(rtSiteText(k, padLine("0.5", ship)), "models "+pad.Shipped.Models[0].String(), "models "+pad.Shipped.Models[0].String()+","+pad.Shipped.Models[0].String(), 1),
		"huge":                    good + strings.Repeat("x", site.MaxSize) + "\n",
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range bad {
		signed, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			t.Logf("held: %s: not even a signed note (%v)", name, err)
			continue
		}
		_, err = rtNewVerifier(k, LivenessPassive, signed, vkey)
		if !errors.Is(err, ErrPolicy) {
			t.Errorf("BROKEN: %s: New gave %v, want ErrPolicy", name, err)
		}
	}
	// A note whose signature block is separated by CRLF, unsigned extras.
	signed := rtSignText(t, good, skey)
	if _, err := site.Load(bytes.ReplaceAll(signed, []byte("\n"), []byte("\r\n")), vkey); err == nil {
		t.Error("BROKEN: CRLF re-encoding of a signed note loads")
	}
}

// TestRedteam2SharedLogConfigLies: the configuration entry is the only
// record of the PAD threshold in force, so verify entries must say which
// configuration decided them (Entry.Policy, the config's hash). Two verifiers on one audit log (the API
// allows it; the package's own tests do it): the kiosk owner runs a
// verifier on the shipped PAD threshold, then creates — and never uses —
// one whose site calibration is strict (0.99). Every later decision is
// made at 0.3276 while the log's last configuration entry says
// pad=0.99/site. An auditor cannot tell.
func TestRedteam2SharedLogConfigLies(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	ctx := context.Background()
	enr := k.enrollFile(t, spoofFrames(t, "0001", "01", "live")[0])
	live := readFile(t, spoofFrames(t, "0001", "02", "live")[0])
	loose := k.verifier // shipped 0.3276

	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	if _, err := rtNewVerifier(k, LivenessPassive, sitePADFile(t, k, skey, shippedPAD(0.99)), vkey); err != nil {
		t.Fatal(err)
	}
	d, err := loose.Verify(ctx, k.request(enr.Reference, live))
	if err != nil || !d.Match {
		t.Fatalf("live frame: %+v %v", d, err)
	}
	img, _, err := imageio.Decode(live, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := k.engine.analyzeFrame(ctx, Frame{Image: img})
	f, _ := a.Single()
	s, err := k.engine.pad.Score(ctx, img, f.Box)
	if err != nil {
		t.Fatal(err)
	}
	// The auditor's reconstruction: the configuration entry whose policy
	// hash the decision names (Entry.Policy).
	es, err := audit.ReadEntries(k.logDir)
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	var cfg *audit.PolicySummary
	for _, e := range es {
		if e.Entry.Kind == audit.KindConfig {
			if p, err := e.Policy(); err == nil {
				if h, _ := p.Hash(); h == last.Entry.Policy {
					cfg = p
				}
			}
		}
	}
	if cfg == nil {
		t.Fatalf("BROKEN: the decision (entry %d, detail %q) names no configuration entry of the log", last.Index, last.Detail)
	}
	t.Logf("held: the match names policy %s: pad=%v/%s, the frame scored %.4f", last.Entry.Policy, cfg.PADThreshold, cfg.PADCalibration, s.Live)
	if last.Entry.Decision == audit.DecisionMatch && s.Live < cfg.PADThreshold {
		t.Fatalf("BROKEN: the log shows a match (entry %d, detail %q) under configuration pad=%v/%s, but the frame scored %.4f: it was decided at the shipped %v by another verifier on the same log",
			last.Index, last.Detail, cfg.PADThreshold, cfg.PADCalibration, s.Live, pad.Shipped.Threshold)
	}
}

// TestRedteam2SiteNotBoundToKiosk: a site calibration is "the PAD
// threshold of the site's camera". The attacker (the disk is theirs)
// swaps in another site's file: refused when the verifier names its site
// (VerifierConfig.Site). The superseded file from before the deployment
// raised its threshold after an incident (a rollback) still loads — a
// documented limit (VerifierConfig.Site's doc): the configuration entry
// records its hash, so an auditor sees which file each decision used.
func TestRedteam2SiteNotBoundToKiosk(t *testing.T) {
	k := livenessKiosk(t, LivenessPassive)
	skey, vkey, _ := note.GenerateKey(nil, "door-test")
	ship := trimFloat(pad.Shipped.Threshold)
	pl := func(th string) string {
		return "pad models " + pad.Shipped.Models[0].String() + " widen 1.5 target-bpcer 0.05 threshold " + th + " shipped " + ship + " bpcer 2 80 supported yes"
	}
	current := rtSiteText(k, pl("0.6")) // this kiosk's file, raised after an incident
	older := rtSiteText(k, pl("0.0257"), "pad-attack print apcer 0 40 shipped 0 40")
	lobby := strings.Replace(older, "site door-test", "site lobby-far-away", 1)
	if _, err := rtNewVerifier(k, LivenessPassive, rtSignText(t, current, skey), vkey); err != nil {
		t.Fatal(err)
	}
	at := func(cal []byte, site string) (*Verifier, error) {
		return New(VerifierConfig{Engine: k.engine, Opener: k.verifier.c.Opener, Audit: k.log, State: k.state, KioskKey: k.kioskKey,
			Policy: Policy{Liveness: LivenessPassive, Notices: k.verifier.p.Notices, UnsealPerMinute: 1 << 20}, Clock: k.clock,
			SiteCalibration: cal, SiteKey: vkey, Site: site})
	}
	if _, err := at(rtSignText(t, lobby, skey), "door-test"); !errors.Is(err, ErrPolicy) {
		t.Errorf("BROKEN: another site's file accepted at site door-test: %v", err)
	}
	signedOlder := rtSignText(t, older, skey)
	if _, err := at(signedOlder, "door-test"); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(signedOlder)
	if p := lastPolicy(t, k); !bytes.Equal(p.SiteCalibration, want[:]) || p.PADThreshold != 0.0257 {
		t.Errorf("the rolled-back file is not visible in the configuration entry: %+v", p)
	}
}
