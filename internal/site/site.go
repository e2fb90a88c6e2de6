// Package site reads and writes a deployment's site calibration: a signed
// statement that the shipped thresholds of internal/calib held on the
// deployment's own consenting captures, or a stricter threshold that does.
// A verifier configured with one calls [Load] and uses the thresholds it
// returns; they can only be stricter (lower) than the shipped table's, and
// [Load] refuses a file that would loosen any of them.
//
// `oneface calibrate-site` measures the captures (package
// internal/site/sitecheck) and signs the result with a key the deployment
// controls. The verifier checks the signature against the deployment's
// public key and records [Override.Hash] in its configuration audit entry,
// so a later audit can tell which calibration every decision used.
//
// # Format
//
// A site calibration is a signed note (golang.org/x/mod/sumdb/note,
// Ed25519) whose text is, line by line, exactly:
//
//	oneface site calibration v1
//	site <name: 1–64 of A–Z a–z 0–9 . _ -)>
//	model <model ID, 32 lowercase hex>
//	target-fmr <target FMR, one the table calibrates, e.g. 0.001>
//	photos <k> threshold <t> shipped <s> fmr <errors> <trials> fnmr <errors> <trials> supported <yes|no>
//	...
//
//	pad models <network[,network]> widen <w> target-bpcer <b> threshold <t> shipped <s> bpcer <errors> <trials> supported <yes|no>
//	pad-attack <type> apcer <errors> <trials> shipped <errors> <trials>
//	...
//
// with one photos line per enrolment count, counts strictly increasing
// from 1 to at most 3; t ≤ s; s is the shipped threshold; the counts are
// the site's impostor and genuine comparisons and errors at t; supported
// says whether the site's impostor count reached 3/target.
//
// The pad lines are optional: the presentation-attack detection (PAD)
// threshold of the site's camera (see [PAD]). The pad line names the
// networks and box widening the threshold was measured with, the stated
// BPCER, the site's threshold t and the shipped one s, the site's live
// captures refused at t, and whether their count reached 3/b. Each
// pad-attack line (types strictly increasing, at most 8) gives the site's
// attack captures of one type accepted at t and at s. t may be below s —
// looser for attacks — only when the site measured attacks and none of
// them is accepted at t that was not at s.
//
// Numbers are decimal in their shortest spelling (thresholds with at most
// 4 decimals), so a calibration has one encoding and one hash. A future
// incompatible format gets a new first line.
package site

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/internal/calib"
)

// intro is the first line of the text; v2 would be a different line.
const intro = "oneface site calibration v1"

// MaxSize bounds a signed site calibration (text and signatures) in bytes.
const MaxSize = 4 << 10

// maxPhotos is the largest enrolment count a site calibration covers.
const maxPhotos = 3

// maxAttackTypes bounds the pad-attack lines.
const maxAttackTypes = 8

// Errors. Every error of [Load] wraps one of them.
var (
	// ErrTooLarge: more than MaxSize bytes.
	ErrTooLarge = errors.New("site: site calibration too large")
	// ErrSignature: not a signed note, or not signed by the given key.
	ErrSignature = errors.New("site: site calibration not signed by the deployment key")
	// ErrFormat: the signed text is not a site calibration v1.
	ErrFormat = errors.New("site: malformed site calibration")
	// ErrLooser: a threshold is above the shipped one, or the model or
	// target is not in the shipped table, or a PAD threshold is below the
	// shipped one without attack captures that show it lets no more
	// attacks through.
	ErrLooser = errors.New("site: site calibration would loosen the shipped calibration")
)

// Point is one enrolment count's site result.
type Point struct {
	Photos    int
	Threshold float64    // the site's threshold: ≤ Shipped
	Shipped   float64    // the shipped table's threshold
	FMR       calib.Rate // site impostor comparisons and false matches at Threshold (Errors, Trials)
	FNMR      calib.Rate // site genuine comparisons and false non-matches at Threshold (Errors, Trials)
	Supported bool       // the site's impostor count reached 3/target
}

// Calibration is the content of a site calibration.
type Calibration struct {
	Site      string
	ModelID   string
	TargetFMR float64
	Points    []Point
	PAD       *PAD // nil: the shipped PAD threshold applies
}

// PAD is a site's presentation-attack detection threshold: the live score
// (the networks' mean softmax probability of the live class, 0..1) at or
// above which a capture counts as bona fide on this site's camera. It is
// chosen for the stated BPCER on the site's own live captures. Above the
// shipped threshold it is stricter and always allowed; below it, it is
// looser for attacks, and allowed only as far as the site's own attack
// captures show: for every attack type measured, no capture accepted at
// Threshold that was refused at Shipped (ISO/IEC 30107-3 APCER per
// attack type unchanged).
type PAD struct {
	Models      []string // network names (internal/liveness/pad Model.String), in the detector's order
	Widen       float64  // box widening the crop was taken with
	TargetBPCER float64  // the stated BPCER, 0 < b < 1
	Threshold   float64  // the site's threshold, 0 < t ≤ 1
	Shipped     float64  // the shipped threshold for the same networks and widening
	BPCER       calib.Rate
	Supported   bool // live captures ≥ 3/TargetBPCER
	Attacks     []PADAttack
}

// PADAttack is one attack type's result: APCER at the site threshold and
// at the shipped one, over the same captures.
type PADAttack struct {
	Type         string // 1–32 of a–z 0–9 _ -
	APCER        calib.Rate
	ShippedAPCER calib.Rate
}

// Override is what a verifier takes from a loaded site calibration.
type Override struct {
	Calibration
	// Thresholds by enrolment count, each ≤ the shipped one.
	Thresholds map[int]float64
	// Hash is the SHA-256 of the signed note as given: record it in the
	// configuration audit entry.
	Hash [32]byte
}

// The PAD part ([Calibration].PAD) is checked by [Load] for its own
// consistency only (the rule on lowering the threshold): the shipped PAD
// threshold lives with the networks, so the verifier checks Shipped,
// Models and Widen against its detector.

// Marshal returns the text of c (unsigned). It checks what [Load] checks
// about the format, but not the shipped table.
func (c *Calibration) Marshal() ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nsite %s\nmodel %s\ntarget-fmr %s\n", intro, c.Site, c.ModelID, strconv.FormatFloat(c.TargetFMR, 'g', -1, 64))
	for _, p := range c.Points {
		sup := "no"
		if p.Supported {
			sup = "yes"
		}
		fmt.Fprintf(&b, "photos %d threshold %s shipped %s fmr %d %d fnmr %d %d supported %s\n", p.Photos,
			strconv.FormatFloat(p.Threshold, 'f', -1, 64), strconv.FormatFloat(p.Shipped, 'f', -1, 64),
			p.FMR.Errors, p.FMR.Trials, p.FNMR.Errors, p.FNMR.Trials, sup)
	}
	if p := c.PAD; p != nil {
		sup := "no"
		if p.Supported {
			sup = "yes"
		}
		fmt.Fprintf(&b, "pad models %s widen %s target-bpcer %s threshold %s shipped %s bpcer %d %d supported %s\n",
			strings.Join(p.Models, ","), strconv.FormatFloat(p.Widen, 'f', -1, 64), strconv.FormatFloat(p.TargetBPCER, 'g', -1, 64),
			strconv.FormatFloat(p.Threshold, 'f', -1, 64), strconv.FormatFloat(p.Shipped, 'f', -1, 64), p.BPCER.Errors, p.BPCER.Trials, sup)
		for _, a := range p.Attacks {
			fmt.Fprintf(&b, "pad-attack %s apcer %d %d shipped %d %d\n", a.Type, a.APCER.Errors, a.APCER.Trials, a.ShippedAPCER.Errors, a.ShippedAPCER.Trials)
		}
	}
	text := []byte(b.String())
	if _, err := parse(string(text)); err != nil {
		return nil, err
	}
	return text, nil
}

// Sign returns c as a signed note, signed with skey, a signed-note private
// key ("PRIVATE+KEY+<name>+…", from note.GenerateKey) the deployment
// controls.
func Sign(c *Calibration, skey string) ([]byte, error) {
	text, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("site: signing key: %v", err)
	}
	return note.Sign(&note.Note{Text: string(text)}, s)
}

// Load verifies a signed site calibration against vkey (the deployment's
// signed-note public key, "<name>+<hash>+<key>"), parses it strictly, and
// checks it against the embedded shipped table: the model and target must
// be calibrated there, and every threshold must be at or below the
// shipped threshold for its enrolment count (the shipped value written in
// the file must also equal the table's). It authenticates before it
// parses.
func Load(text []byte, vkey string) (*Override, error) {
	tab, err := calib.Load()
	if err != nil {
		return nil, err
	}
	return load(text, vkey, tab)
}

func load(text []byte, vkey string, tab *calib.Table) (*Override, error) {
	if len(text) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(text), MaxSize)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("site: deployment public key: %v", err)
	}
	n, err := note.Open(text, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	// One signature, by the deployment key: another signature line would
	// give the same calibration another hash in the audit log.
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return nil, fmt.Errorf("%w: %d signatures by the deployment key and %d others; want exactly one", ErrSignature, len(n.Sigs), len(n.UnverifiedSigs))
	}
	c, err := parse(n.Text)
	if err != nil {
		return nil, err
	}
	o := &Override{Calibration: *c, Thresholds: map[int]float64{}, Hash: sha256.Sum256(text)}
	for _, p := range c.Points {
		sp, err := tab.Lookup(c.ModelID, p.Photos, c.TargetFMR)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrLooser, err)
		}
		if sp.TargetFMR != c.TargetFMR {
			return nil, fmt.Errorf("%w: FMR %g is not a calibrated target (nearest stricter: %g)", ErrLooser, c.TargetFMR, sp.TargetFMR)
		}
		if p.Shipped != sp.Threshold || p.Threshold > sp.Threshold {
			return nil, fmt.Errorf("%w: %d photos: site threshold %v, file's shipped %v, table's %v", ErrLooser, p.Photos, p.Threshold, p.Shipped, sp.Threshold)
		}
		o.Thresholds[p.Photos] = p.Threshold
	}
	return o, nil
}

// parse reads the text strictly: exact lines, keys and order; no blank or
// extra lines; numbers in range.
func parse(text string) (*Calibration, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, bad("no final newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 5 || len(lines) > 4+maxPhotos+1+maxAttackTypes {
		return nil, bad("%d lines", len(lines))
	}
	if lines[0] != intro {
		return nil, bad("unexpected intro %.40q", lines[0])
	}
	field := func(i int, key string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], key+" ")
		if !ok {
			return "", bad("line %d: want %q", i+1, key)
		}
		return v, nil
	}
	c := &Calibration{}
	var err error
	if c.Site, err = field(1, "site"); err != nil {
		return nil, err
	}
	if !validName(c.Site) {
		return nil, bad("line 2: site name %.70q", c.Site)
	}
	if c.ModelID, err = field(2, "model"); err != nil {
		return nil, err
	}
	if !validHex(c.ModelID, 32) {
		return nil, bad("line 3: model ID %.40q", c.ModelID)
	}
	s, err := field(3, "target-fmr")
	if err != nil {
		return nil, err
	}
	if c.TargetFMR, err = number(s, false); err != nil || c.TargetFMR <= 0 || c.TargetFMR >= 1 || strconv.FormatFloat(c.TargetFMR, 'g', -1, 64) != s {
		return nil, bad("line 4: target FMR %.40q", s)
	}
	i := 4
	for ; i < len(lines) && i < 4+maxPhotos && strings.HasPrefix(lines[i], "photos "); i++ {
		f := strings.Split(lines[i], " ")
		if len(f) != 14 || f[0] != "photos" || f[2] != "threshold" || f[4] != "shipped" || f[6] != "fmr" || f[9] != "fnmr" || f[12] != "supported" {
			return nil, bad("line %d: %.80q", i+1, lines[i])
		}
		var p Point
		if p.Photos, err = count(f[1]); err != nil || p.Photos != i-3 {
			return nil, bad("line %d: enrolment count %.10q, want %d", i+1, f[1], i-3)
		}
		if p.Threshold, err = number(f[3], true); err != nil || p.Threshold <= 0 || p.Threshold > 2 {
			return nil, bad("line %d: threshold %.20q", i+1, f[3])
		}
		if p.Shipped, err = number(f[5], true); err != nil || p.Shipped <= 0 || p.Shipped > 2 {
			return nil, bad("line %d: shipped threshold %.20q", i+1, f[5])
		}
		if p.Threshold > p.Shipped {
			return nil, fmt.Errorf("%w: line %d: threshold %v above the shipped %v", ErrLooser, i+1, p.Threshold, p.Shipped)
		}
		var n [4]int
		for j, k := range []int{7, 8, 10, 11} {
			if n[j], err = count(f[k]); err != nil {
				return nil, bad("line %d: count %.20q", i+1, f[k])
			}
		}
		if n[0] > n[1] || n[2] > n[3] {
			return nil, bad("line %d: more errors than comparisons", i+1)
		}
		p.FMR, p.FNMR = calib.Rate{Errors: n[0], Trials: n[1]}, calib.Rate{Errors: n[2], Trials: n[3]}
		switch f[13] {
		case "yes":
			p.Supported = true
		case "no":
		default:
			return nil, bad("line %d: supported %.10q", i+1, f[13])
		}
		if p.Supported != supports(p.FMR.Trials, c.TargetFMR) {
			return nil, bad("line %d: supported %s with %d impostor comparisons at FMR %g (yes needs 3/FMR)", i+1, f[13], p.FMR.Trials, c.TargetFMR)
		}
		c.Points = append(c.Points, p)
	}
	if i == 4 {
		return nil, bad("line 5: no photos line")
	}
	if i == len(lines) {
		return c, nil
	}
	p, err := parsePAD(lines[i:], i, bad)
	if err != nil {
		return nil, err
	}
	c.PAD = p
	return c, nil
}

// parsePAD reads the pad line and its pad-attack lines; first is the
// 0-based line number of the pad line.
func parsePAD(lines []string, first int, bad func(string, ...any) error) (*PAD, error) {
	f := strings.Split(lines[0], " ")
	if len(f) != 16 || f[0] != "pad" || f[1] != "models" || f[3] != "widen" || f[5] != "target-bpcer" || f[7] != "threshold" ||
		f[9] != "shipped" || f[11] != "bpcer" || f[14] != "supported" {
		return nil, bad("line %d: %.80q", first+1, lines[0])
	}
	p := &PAD{Models: strings.Split(f[2], ",")}
	if len(p.Models) > 4 {
		return nil, bad("line %d: %d networks", first+1, len(p.Models))
	}
	for _, m := range p.Models {
		if len(m) > 32 || !validName(m) {
			return nil, bad("line %d: network %.40q", first+1, m)
		}
	}
	var err error
	if p.Widen, err = number(f[4], true); err != nil || p.Widen < 1 || p.Widen > 4 {
		return nil, bad("line %d: widen %.20q", first+1, f[4])
	}
	if p.TargetBPCER, err = number(f[6], false); err != nil || p.TargetBPCER <= 0 || p.TargetBPCER >= 1 || strconv.FormatFloat(p.TargetBPCER, 'g', -1, 64) != f[6] {
		return nil, bad("line %d: target BPCER %.20q", first+1, f[6])
	}
	if p.Threshold, err = number(f[8], true); err != nil || p.Threshold <= 0 || p.Threshold > 1 {
		return nil, bad("line %d: PAD threshold %.20q", first+1, f[8])
	}
	if p.Shipped, err = number(f[10], true); err != nil || p.Shipped <= 0 || p.Shipped > 1 {
		return nil, bad("line %d: shipped PAD threshold %.20q", first+1, f[10])
	}
	if p.BPCER, err = rate(f[12], f[13]); err != nil {
		return nil, bad("line %d: BPCER counts", first+1)
	}
	switch f[15] {
	case "yes":
		p.Supported = true
	case "no":
	default:
		return nil, bad("line %d: supported %.10q", first+1, f[15])
	}
	if p.Supported != supports(p.BPCER.Trials, p.TargetBPCER) {
		return nil, bad("line %d: supported %s with %d live captures at BPCER %g (yes needs 3/BPCER)", first+1, f[15], p.BPCER.Trials, p.TargetBPCER)
	}
	for j, l := range lines[1:] {
		n := first + 2 + j
		a := strings.Split(l, " ")
		if len(a) != 8 || a[0] != "pad-attack" || a[2] != "apcer" || a[5] != "shipped" {
			return nil, bad("line %d: %.80q", n, l)
		}
		at := PADAttack{Type: a[1]}
		if !ValidAttackType(at.Type) {
			return nil, bad("line %d: attack type %.40q", n, at.Type)
		}
		if len(p.Attacks) > 0 && at.Type <= p.Attacks[len(p.Attacks)-1].Type {
			return nil, bad("line %d: attack types not strictly increasing", n)
		}
		if at.APCER, err = rate(a[3], a[4]); err != nil {
			return nil, bad("line %d: APCER counts", n)
		}
		if at.ShippedAPCER, err = rate(a[6], a[7]); err != nil || at.ShippedAPCER.Trials != at.APCER.Trials {
			return nil, bad("line %d: shipped APCER counts", n)
		}
		// Acceptance only grows as the threshold falls.
		if p.Threshold >= p.Shipped && at.APCER.Errors > at.ShippedAPCER.Errors || p.Threshold < p.Shipped && at.APCER.Errors < at.ShippedAPCER.Errors {
			return nil, bad("line %d: APCER counts contradict the thresholds", n)
		}
		p.Attacks = append(p.Attacks, at)
	}
	if p.Threshold < p.Shipped {
		trials := map[string]int{}
		for _, a := range p.Attacks {
			trials[a.Type] = a.APCER.Trials
		}
		if err := LoweringEvidence(p.Supported, trials); err != nil {
			return nil, fmt.Errorf("%w: PAD threshold %v below the shipped %v: %w", ErrLooser, p.Threshold, p.Shipped, err)
		}
		for _, a := range p.Attacks {
			if a.APCER.Errors != a.ShippedAPCER.Errors || a.APCER.Trials == 0 {
				return nil, fmt.Errorf("%w: PAD threshold %v below the shipped %v accepts %d %s attacks of %d (shipped: %d)",
					ErrLooser, p.Threshold, p.Shipped, a.APCER.Errors, a.Type, a.APCER.Trials, a.ShippedAPCER.Errors)
			}
		}
	}
	return p, nil
}

// MinAttackCaptures is the number of captures of each attack type, and of
// printed photos at least, that a site must measure before its PAD
// threshold may go below the shipped one.
const MinAttackCaptures = 20

// LoweringEvidence says whether a site's measurement may take the PAD
// threshold below the shipped one: its live captures support the stated
// BPCER (3/BPCER of them), it measured printed photos ("print", the
// first attack anyone tries), and every attack type it lists has at least
// MinAttackCaptures captures. attackTrials maps attack type to captures.
func LoweringEvidence(liveSupported bool, attackTrials map[string]int) error {
	switch {
	case !liveSupported:
		return errors.New("too few live captures to support the stated BPCER (3/BPCER needed)")
	case attackTrials["print"] == 0:
		return errors.New("no printed-photo attack captures (type print) measured")
	}
	for typ, n := range attackTrials {
		if n < MinAttackCaptures {
			return fmt.Errorf("%d %s attack captures, %d needed", n, typ, MinAttackCaptures)
		}
	}
	return nil
}

// supports is the rule of three: n trials support a rate of target.
func supports(n int, target float64) bool { return target > 0 && float64(n) >= 3/target }

// rate parses "<errors> <trials>" with errors ≤ trials.
func rate(e, n string) (calib.Rate, error) {
	ne, err := count(e)
	if err != nil {
		return calib.Rate{}, err
	}
	nn, err := count(n)
	if err != nil || ne > nn {
		return calib.Rate{}, strconv.ErrSyntax
	}
	return calib.Rate{Errors: ne, Trials: nn}, nil
}

// ValidAttackType reports whether s can name an attack type in a site
// calibration: 1–32 of a–z 0–9 _ -.
func ValidAttackType(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// number parses a finite decimal without sign or spaces. With fixed, it
// must be the canonical spelling (no exponent, no superfluous zeros) with
// at most 4 decimals.
func number(s string, fixed bool) (float64, error) {
	if s == "" || len(s) > 24 || strings.ContainsAny(s, "+- _") {
		return 0, strconv.ErrSyntax
	}
	if fixed {
		if strings.ContainsAny(s, "eEnNiIxXpP") {
			return 0, strconv.ErrSyntax
		}
		if _, frac, ok := strings.Cut(s, "."); ok && (len(frac) == 0 || len(frac) > 4) {
			return 0, strconv.ErrSyntax
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, strconv.ErrSyntax
	}
	if fixed && strconv.FormatFloat(v, 'f', -1, 64) != s { // one spelling per value
		return 0, strconv.ErrSyntax
	}
	return v, nil
}

// count parses a non-negative decimal integer without sign or leading zeros.
func count(s string) (int, error) {
	if s == "" || len(s) > 12 || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
