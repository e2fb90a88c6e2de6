package site

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/internal/calib"
)

const model = "0123456789abcdef0123456789abcdef"

var table = &calib.Table{Models: []calib.Model{{ModelID: model, Entries: []calib.Entry{
	{Photos: 1, TargetFMR: 1e-3, Threshold: 0.5757},
	{Photos: 2, TargetFMR: 1e-3, Threshold: 0.573},
	{Photos: 1, TargetFMR: 1e-2, Threshold: 0.6225},
}}}}

func keys(t testing.TB) (skey, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "kiosk-site")
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

func good() *Calibration {
	return &Calibration{Site: "lobby-1", ModelID: model, TargetFMR: 1e-3, Points: []Point{
		{Photos: 1, Threshold: 0.5757, Shipped: 0.5757, FMR: calib.Rate{Errors: 0, Trials: 5041}, FNMR: calib.Rate{Errors: 2, Trials: 657}, Supported: true},
		{Photos: 2, Threshold: 0.55, Shipped: 0.573, FMR: calib.Rate{Errors: 0, Trials: 900}, FNMR: calib.Rate{Errors: 0, Trials: 100}},
	}}
}

func TestRoundTrip(t *testing.T) {
	skey, vkey := keys(t)
	signed, err := Sign(good(), skey)
	if err != nil {
		t.Fatal(err)
	}
	o, err := load(signed, vkey, table)
	if err != nil {
		t.Fatal(err)
	}
	if o.Thresholds[1] != 0.5757 || o.Thresholds[2] != 0.55 || len(o.Thresholds) != 2 || o.Site != "lobby-1" || !o.Points[0].Supported || o.Points[1].FMR.Trials != 900 {
		t.Fatalf("%+v", o)
	}
	if o.Hash == [32]byte{} {
		t.Fatal("no hash")
	}
	t.Logf("%s", signed)
}

// TestRefusesLooser: the deployment key holder (the attacker owns the
// kiosk's disk and keys) signs a threshold above the shipped one, or
// writes a shipped value that differs from the table's: Load refuses
// both, because it compares with the embedded table, not with the file.
func TestRefusesLooser(t *testing.T) {
	skey, vkey := keys(t)
	cases := map[string]func(c *Calibration){
		"threshold above shipped":  func(c *Calibration) { c.Points[0].Threshold, c.Points[0].Shipped = 0.7, 0.7 },
		"shipped misstated":        func(c *Calibration) { c.Points[1].Shipped = 0.56 },
		"uncalibrated target":      func(c *Calibration) { c.TargetFMR, c.Points[1].Supported = 5e-3, true },
		"unknown model":            func(c *Calibration) { c.ModelID = strings.Repeat("f", 32) },
		"uncalibrated photo count": func(c *Calibration) { c.Points = append(c.Points, Point{Photos: 3, Threshold: 0.5, Shipped: 0.5}) },
	}
	for name, mut := range cases {
		c := good()
		mut(c)
		signed, err := Sign(c, skey)
		if err != nil {
			t.Fatalf("%s: sign: %v", name, err)
		}
		if _, err := load(signed, vkey, table); !errors.Is(err, ErrLooser) {
			t.Errorf("%s: %v, want ErrLooser", name, err)
		}
	}
	// Marshal itself refuses a threshold above the file's shipped value.
	c := good()
	c.Points[1].Threshold = 0.6
	if _, err := Sign(c, skey); !errors.Is(err, ErrLooser) {
		t.Errorf("threshold above the file's shipped: %v", err)
	}
}

func TestRefusesForgery(t *testing.T) {
	skey, vkey := keys(t)
	signed, err := Sign(good(), skey)
	if err != nil {
		t.Fatal(err)
	}
	// Stricter is harmless, but any change breaks the signature.
	tampered := bytes.Replace(signed, []byte("threshold 0.55 "), []byte("threshold 0.54 "), 1)
	if _, err := load(tampered, vkey, table); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered: %v", err)
	}
	otherS, _ := keys(t)
	other, _ := Sign(good(), otherS)
	if _, err := load(other, vkey, table); !errors.Is(err, ErrSignature) {
		t.Errorf("other key: %v", err)
	}
	if _, err := load(append(bytes.Repeat([]byte("x"), MaxSize), signed...), vkey, table); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize: %v", err)
	}
}

func TestParseStrict(t *testing.T) {
	text, err := good().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	for name, bad := range map[string]string{
		"intro v2":          strings.Replace(s, "v1", "v2", 1),
		"no final newline":  strings.TrimSuffix(s, "\n"),
		"blank line":        s + "\n",
		"CRLF":              strings.ReplaceAll(s, "\n", "\r\n"),
		"site spaces":       strings.Replace(s, "lobby-1", "lobby 1", 1),
		"upper hex":         strings.Replace(s, model, strings.ToUpper(model), 1),
		"exponent":          strings.Replace(s, "threshold 0.55 ", "threshold 5.5e-1 ", 1),
		"5 decimals":        strings.Replace(s, "threshold 0.55 ", "threshold 0.55001 ", 1),
		"NaN":               strings.Replace(s, "threshold 0.55 ", "threshold NaN ", 1),
		"negative count":    strings.Replace(s, "fmr 0 900", "fmr -1 900", 1),
		"leading zero":      strings.Replace(s, "fmr 0 900", "fmr 0 0900", 1),
		"errors > trials":   strings.Replace(s, "fnmr 0 100", "fnmr 101 100", 1),
		"photos out of seq": strings.Replace(s, "photos 2", "photos 3", 1),
		"supported maybe":   strings.Replace(s, "supported no", "supported maybe", 1),
		"extra field":       strings.Replace(s, "supported no", "supported no x", 1),
		"target spelled":    strings.Replace(s, "target-fmr 0.001", "target-fmr 1e-3", 1),
		"no points":         strings.Join(strings.Split(s, "\n")[:4], "\n") + "\n",
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

// TestEmbeddedTable loads a site calibration against the shipped table.
func TestEmbeddedTable(t *testing.T) {
	tab, err := calib.Load()
	if err != nil {
		t.Fatal(err)
	}
	m := tab.Models[len(tab.Models)-1]
	p, err := tab.Lookup(m.ModelID, 1, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := keys(t)
	c := &Calibration{Site: "s", ModelID: m.ModelID, TargetFMR: 1e-3, Points: []Point{{Photos: 1, Threshold: p.Threshold, Shipped: p.Threshold}}}
	signed, err := Sign(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Load(signed, vkey)
	if err != nil || o.Thresholds[1] != p.Threshold {
		t.Fatalf("%v %+v", err, o)
	}
}

func FuzzLoad(f *testing.F) {
	skey, vkey := keys(f)
	signed, err := Sign(good(), skey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	text, _ := good().Marshal()
	f.Add(text)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := load(b, vkey, table)
		if err == nil {
			for k, th := range o.Thresholds {
				p, _ := table.Lookup(model, k, o.TargetFMR)
				if th > p.Threshold {
					t.Fatalf("accepted looser threshold %v > %v", th, p.Threshold)
				}
			}
		}
		// The parser behind the signature, on any text.
		if c, err := parse(string(b)); err == nil {
			again, err := c.Marshal()
			if err != nil || string(again) != string(b) {
				t.Fatalf("parse→marshal not identity: %q → %q, %v", b, again, err)
			}
		}
	})
}

func withPAD() *Calibration {
	c := good()
	c.PAD = &PAD{Models: []string{"MiniFASNetV1SE"}, Widen: 1.5, TargetBPCER: 0.05, Threshold: 0.2112, Shipped: 0.3276,
		BPCER: calib.Rate{Errors: 3, Trials: 64}, Supported: true, Attacks: []PADAttack{
			{Type: "print", APCER: calib.Rate{Errors: 0, Trials: 40}, ShippedAPCER: calib.Rate{Errors: 0, Trials: 40}},
			{Type: "screen", APCER: calib.Rate{Errors: 1, Trials: 30}, ShippedAPCER: calib.Rate{Errors: 1, Trials: 30}},
		}}
	return c
}

func TestPADRoundTrip(t *testing.T) {
	skey, vkey := keys(t)
	signed, err := Sign(withPAD(), skey)
	if err != nil {
		t.Fatal(err)
	}
	o, err := load(signed, vkey, table)
	if err != nil {
		t.Fatal(err)
	}
	p := o.PAD
	if p == nil || p.Threshold != 0.2112 || p.Shipped != 0.3276 || len(p.Attacks) != 2 || p.Attacks[1].Type != "screen" ||
		p.Attacks[1].APCER.Errors != 1 || p.BPCER.Trials != 64 || !p.Supported || p.Widen != 1.5 || p.Models[0] != "MiniFASNetV1SE" {
		t.Fatalf("%+v", p)
	}
	t.Logf("%s", signed)
	// Without the PAD part the calibration still loads, with PAD nil.
	signed, _ = Sign(good(), skey)
	if o, err := load(signed, vkey, table); err != nil || o.PAD != nil {
		t.Fatalf("%v %+v", err, o)
	}
}

// TestPADNeverLooserUnmeasured: the rule "never looser than shipped for
// attacks it measured", checked on the signed file whoever signed it.
func TestPADNeverLooserUnmeasured(t *testing.T) {
	skey, vkey := keys(t)
	cases := map[string]func(p *PAD){
		"lowered without attacks": func(p *PAD) { p.Attacks = nil },
		"lowered admits a print": func(p *PAD) {
			p.Attacks[0].APCER.Errors = 2
		},
		"lowered with an empty attack type": func(p *PAD) {
			p.Attacks = []PADAttack{{Type: "print"}}
		},
	}
	for name, mut := range cases {
		c := withPAD()
		mut(c.PAD)
		if _, err := c.Marshal(); !errors.Is(err, ErrLooser) {
			t.Errorf("%s: Marshal: %v, want ErrLooser", name, err)
		}
		// Signed by hand past Marshal's check: Load refuses it too.
		text := strings.Replace(string(mustMarshal(t, withPAD())), "pad-attack print apcer 0 40", "pad-attack print apcer 2 40", 1)
		if name == "lowered admits a print" {
			s, _ := note.NewSigner(skey)
			signed, err := note.Sign(&note.Note{Text: text}, s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := load(signed, vkey, table); !errors.Is(err, ErrLooser) {
				t.Errorf("%s: Load: %v, want ErrLooser", name, err)
			}
		}
	}
	// Stricter than shipped needs no attack captures.
	c := withPAD()
	c.PAD.Threshold, c.PAD.Attacks = 0.5, nil
	if _, err := c.Marshal(); err != nil {
		t.Errorf("stricter without attacks: %v", err)
	}
	// Equal to shipped is not looser either.
	c.PAD.Threshold = c.PAD.Shipped
	if _, err := c.Marshal(); err != nil {
		t.Errorf("shipped without attacks: %v", err)
	}
}

func mustMarshal(t *testing.T, c *Calibration) []byte {
	t.Helper()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPADParseStrict(t *testing.T) {
	s := string(mustMarshal(t, withPAD()))
	for name, bad := range map[string]string{
		"attack order":        strings.Replace(strings.Replace(s, "pad-attack print", "pad-attack zz", 1), "pad-attack screen", "pad-attack print", 1),
		"attack duplicated":   strings.Replace(s, "pad-attack screen", "pad-attack print", 1),
		"attack type upper":   strings.Replace(s, "pad-attack print", "pad-attack Print", 1),
		"threshold above 1":   strings.Replace(s, "threshold 0.2112 shipped 0.3276", "threshold 1.2 shipped 0.3276", 1),
		"5 decimals":          strings.Replace(s, "threshold 0.2112 ", "threshold 0.21121 ", 1),
		"bpcer errors>trials": strings.Replace(s, "bpcer 3 64", "bpcer 65 64", 1),
		"shipped trials":      strings.Replace(s, "shipped 0 40", "shipped 0 41", 1),
		"target spelled":      strings.Replace(s, "target-bpcer 0.05", "target-bpcer 5e-2", 1),
		"widen below 1":       strings.Replace(s, "widen 1.5", "widen 0.5", 1),
		"no networks":         strings.Replace(s, "models MiniFASNetV1SE", "models ", 1),
		"pad before photos":   strings.Replace(s, "photos 2", "padx 2", 1),
		"pad twice":           s + strings.Split(s, "\n")[6] + "\n",
		"attack without pad":  strings.Replace(s, "pad models", "pad-attack models", 1),
		"supported maybe":     strings.Replace(s, "supported yes\npad-attack", "supported maybe\npad-attack", 1),
	} {
		if bad == s {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if _, err := parse(bad); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

func FuzzParsePAD(f *testing.F) {
	text, _ := withPAD().Marshal()
	f.Add(string(text))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parse(s)
		if err != nil {
			return
		}
		if p := c.PAD; p != nil && p.Threshold < p.Shipped {
			for _, a := range p.Attacks {
				if a.APCER.Errors != a.ShippedAPCER.Errors {
					t.Fatalf("accepted a lowered PAD threshold that admits more attacks: %q", s)
				}
			}
			if len(p.Attacks) == 0 {
				t.Fatalf("accepted a lowered PAD threshold without attacks: %q", s)
			}
		}
		again, err := c.Marshal()
		if err != nil || string(again) != s {
			t.Fatalf("parse→marshal not identity: %q → %q, %v", s, again, err)
		}
	})
}

// TestOneSignatureOneHash: a second signature line (any key) would give
// the same calibration a second hash in the audit log: refused.
func TestOneSignatureOneHash(t *testing.T) {
	skey, vkey := keys(t)
	otherS, _ := keys(t)
	s1, _ := note.NewSigner(skey)
	s2, _ := note.NewSigner(otherS)
	text, _ := good().Marshal()
	twice, err := note.Sign(&note.Note{Text: string(text)}, s1, s2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load(twice, vkey, table); !errors.Is(err, ErrSignature) {
		t.Errorf("two signatures: %v", err)
	}
}

// TestSupportedMatchesCounts: "supported yes" is the rule of three on the
// counts written beside it, never a free claim.
func TestSupportedMatchesCounts(t *testing.T) {
	for name, mut := range map[string]func(c *Calibration){
		"photos yes on 900 at 1e-3":  func(c *Calibration) { c.Points[1].Supported = true },
		"photos no on 5041 at 1e-3":  func(c *Calibration) { c.Points[0].Supported = false },
		"pad yes on 0 live captures": func(c *Calibration) { c.PAD.BPCER = calib.Rate{}; c.PAD.Threshold, c.PAD.Attacks = 0.5, nil },
	} {
		c := withPAD()
		mut(c)
		if _, err := c.Marshal(); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

// TestPADLoweringNeedsEvidence: below the shipped threshold only with
// live captures that support the stated BPCER, printed photos measured,
// and at least MinAttackCaptures captures of every attack type listed.
func TestPADLoweringNeedsEvidence(t *testing.T) {
	for name, mut := range map[string]func(p *PAD){
		"unsupported live count": func(p *PAD) { p.BPCER, p.Supported = calib.Rate{Errors: 0, Trials: 10}, false },
		"no print":               func(p *PAD) { p.Attacks = p.Attacks[1:] },
		"one screen capture": func(p *PAD) {
			p.Attacks[1].APCER, p.Attacks[1].ShippedAPCER = calib.Rate{Trials: 1}, calib.Rate{Trials: 1}
		},
		"19 prints": func(p *PAD) {
			p.Attacks[0].APCER, p.Attacks[0].ShippedAPCER = calib.Rate{Trials: 19}, calib.Rate{Trials: 19}
		},
	} {
		c := withPAD()
		mut(c.PAD)
		if _, err := c.Marshal(); !errors.Is(err, ErrLooser) {
			t.Errorf("%s: %v, want ErrLooser", name, err)
		}
	}
	if _, err := withPAD().Marshal(); err != nil {
		t.Fatal(err)
	}
}
