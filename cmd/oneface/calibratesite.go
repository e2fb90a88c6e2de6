package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/internal/calib"
	"github.com/oneface/oneface/internal/calib/calibgen"
	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/internal/notekey"
	"github.com/oneface/oneface/internal/site"
	"github.com/oneface/oneface/internal/site/sitecheck"
)

// runCalibrateSite measures a deployment's own consenting captures at the
// shipped thresholds and writes a signed site calibration, or refuses.
func runCalibrateSite(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("calibrate-site", stderr)
	model := fs.String("model", "arcface", "model: arcface (default) or dlib")
	target := fs.Float64("fmr", 1e-3, "target false-match rate (a calibrated one: 0.01, 0.001, 0.0001, 1e-05)")
	keyFile := fs.String("key", "", "the deployment's signed-note private key file (PRIVATE+KEY+...)")
	genKey := fs.Bool("genkey", false, "create -key (mode 0600, never overwritten) and print its public key")
	name := fs.String("site", "", "site name (letters, digits, . _ -), written into the calibration")
	out := fs.String("o", "", "write the signed site calibration here (never overwritten)")
	tighten := fs.Bool("tighten", false, "where FMR exceeds the target, write the site's own stricter threshold instead of refusing")
	padOn := fs.Bool("pad", true, "also set the presentation-attack detection threshold of this camera from the captures (needs the PAD networks in -models/antispoof)")
	padBPCER := fs.Float64("pad-bpcer", 0.05, "stated BPCER (share of live captures the passive check may refuse) the PAD threshold is chosen for")
	attacks := fs.String("attacks", "", "folder of attack captures made at this camera, one subfolder per attack type (print, screen, ...): lets the PAD threshold go below the shipped one where they show no more attacks accepted")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *keyFile == "" || *name == "" || *out == "" {
		return usageError{"calibrate-site needs -key FILE -site NAME -o FILE and one folder of captures (one subfolder per person)"}
	}
	if *model != "arcface" && *model != "dlib" {
		return usageError{fmt.Sprintf("unknown model %q (arcface, dlib)", *model)}
	}
	if !(*padBPCER > 0 && *padBPCER < 1) {
		return usageError{fmt.Sprintf("-pad-bpcer %v: a rate strictly between 0 and 1 (e.g. 0.05)", *padBPCER)}
	}
	if *attacks != "" && !*padOn {
		return usageError{"-attacks needs the PAD check (drop -pad=false)"}
	}
	if *genKey {
		skey, vkey, err := note.GenerateKey(rand.Reader, *name)
		if err != nil {
			return err
		}
		if err := writeOutput(*keyFile, []byte(skey+"\n"), modeSecret, false); err != nil {
			return hintError{err, []string{"-genkey never overwrites a key: choose another -key or drop -genkey"}}
		}
		fmt.Fprintf(stdout, "deployment public key (configure the verifier with it): %s\n", vkey)
	}
	skeyBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	skey := strings.TrimSpace(string(skeyBytes))
	clear(skeyBytes)
	if _, err := note.NewSigner(skey); err != nil {
		return fmt.Errorf("%s: not a signed-note private key: %v", *keyFile, err)
	}
	e, err := facerec.Open(*dir, facerec.Options{})
	if err != nil {
		return engineError(*dir, err)
	}
	defer e.Close()
	em, err := embed.Open(*dir, embed.Options{})
	if err != nil {
		return engineError(*dir, err)
	}
	defer em.Close()
	tab, err := calib.Load()
	if err != nil {
		return err
	}
	cfg := sitecheck.Config{Dir: fs.Arg(0), Model: *model, TargetFMR: *target, Tighten: *tighten}
	if *padOn {
		d, err := pad.Open(filepath.Join(*dir, "antispoof"), pad.Options{Models: pad.Shipped.Models, Widen: pad.Shipped.Widen})
		if err != nil {
			return hintError{fmt.Errorf("PAD networks: %w", err), []string{"`make setup` copies them to .models/antispoof; or run with -pad=false to leave the shipped PAD threshold in force"}}
		}
		defer d.Close()
		cfg.PAD = &sitecheck.PADConfig{Detector: d, Shipped: pad.Shipped, Engine: e, TargetBPCER: *padBPCER, AttackDir: *attacks}
	}
	res, err := sitecheck.Check(context.Background(), &calibgen.Analyser{Engine: e, Embedder: em}, tab, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, sitecheck.Summary(res))
	c, err := res.Calibration(*name)
	if errors.Is(err, sitecheck.ErrFMRExceeded) {
		return hintError{err, []string{
			"the shipped threshold does not hold for this site's population or camera: do not enable the policy here",
			"re-run with -tighten to write the site's own stricter threshold (more genuine users refused), or capture more people",
		}}
	}
	if err != nil {
		return err
	}
	signed, err := site.Sign(c, skey)
	if err != nil {
		return err
	}
	if err := writeOutput(*out, signed, modePublic, false); err != nil {
		return err
	}
	_, _, vkey, err := notekey.Private(skey)
	if err != nil {
		return err
	}
	o, err := site.Load(signed, vkey)
	if err != nil {
		return fmt.Errorf("written calibration does not load: %w", err)
	}
	fmt.Fprintf(stdout, "site calibration: %s (SHA-256 %x)\n", *out, o.Hash)
	return nil
}
