package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness/pad"
	"github.com/oneface/oneface/verify"
)

// conventionalThreshold is dlib's customary Euclidean threshold. It is not
// calibrated to any false-match rate: `compare` prints it for orientation
// only, and says so.
const conventionalThreshold = 0.6

func defaultModelDir() string {
	if d := os.Getenv("ONEFACE_MODELDIR"); d != "" {
		return d
	}
	return ".models"
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("oneface "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("models", defaultModelDir(), "model directory: $ONEFACE_MODELDIR, else .models (made by 'make setup')")
	return fs, dir
}

// modelFlag adds -model to a command that enrols or verifies.
func modelFlag(fs *flag.FlagSet) *string {
	return fs.String("model", string(verify.ModelArcFace), "face model: arcface (ArcFace-class 512-D embedding, the default) or dlib (dlib's 128-D descriptor; see README, Models)")
}

// openEngine opens the face engine for -model: arcface loads dlib (detector,
// landmarks) and the embedding network; dlib loads dlib alone.
func openEngine(dir, model string, pad bool) (*verify.Engine, error) {
	m, err := verify.ParseModel(model)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	e, err := verify.OpenEngine(dir, verify.EngineOptions{Model: m, PAD: pad})
	if err != nil {
		return nil, engineError(dir, err)
	}
	return e, nil
}

// referenceModels are the model IDs `open` accepts: the embedding's (the
// default) and dlib's, derived from the pinned model files without loading
// them.
func referenceModels(dir string) (verify.ModelID, []verify.ModelID, error) {
	id, err := facerec.CheckModels(dir)
	if err != nil {
		return verify.ModelID{}, nil, engineError(dir, err)
	}
	return verify.ModelID(embed.ModelID(id)), []verify.ModelID{verify.ModelID(id)}, nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return exitStatus(exitOK) // -h: the flags were printed; that is all that was asked
	} else if err != nil {
		return usageError{err.Error()}
	}
	return nil
}

// modelHints are the hints for a model file that is missing or not the
// pinned one.
func modelHints(dir string) []string {
	return []string{
		fmt.Sprintf("model directory %s is incomplete or holds other files than the pinned ones", dir),
		"run `make setup` (it assembles .models from $ONEFACE_MODELS, ../shared/models or the models' public sources), or point -models or $ONEFACE_MODELDIR (the variable oneface reads) at a directory holding the pinned files",
	}
}

// engineError adds hints for the failures a newcomer meets first.
func engineError(dir string, err error) error {
	var me *facerec.ModelError
	switch {
	case errors.As(err, &me), errors.Is(err, facerec.ErrModel):
		return hintError{err, modelHints(dir)}
	case errors.Is(err, facerec.ErrUnavailable):
		return hintError{err, []string{"rebuild with CGO_ENABLED=1 and the Debian packages listed in the README"}}
	}
	return err
}

// checkPin hashes dir/file and compares it with its pin.
func checkPin(dir, file, want string) error {
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return hintError{fmt.Errorf("model file %s (expected SHA-256 %s): %w", file, want, err), modelHints(dir)}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("model file %s: %w", file, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return hintError{fmt.Errorf("model file %s has SHA-256 %s, expected %s", file, got, want), modelHints(dir)}
	}
	return nil
}

// runModels checks every file `make setup` assembles against its pin: the
// dlib files (detector, landmarks, descriptor), the ArcFace-class
// embedding network and the passive PAD networks, and prints the model ID
// of each model -model names (arcface, the default, and dlib).
func runModels(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("models", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"models takes no arguments (the folder is -models DIR)"}
	}
	id, err := facerec.CheckModels(*dir)
	if err != nil {
		return engineError(*dir, err)
	}
	fmt.Fprintf(stdout, "model directory: %s\n", *dir)
	line := func(sum, file string) {
		target, _ := filepath.EvalSymlinks(filepath.Join(*dir, file))
		fmt.Fprintf(stdout, "  %s  %s  ok  (%s)\n", sum[:16], file, target)
	}
	for _, p := range facerec.Pins() {
		line(p.SHA256, p.File)
	}
	if err := checkPin(*dir, embed.ModelFile, embed.ModelSHA256()); err != nil {
		return err
	}
	line(embed.ModelSHA256(), embed.ModelFile)
	for _, m := range []pad.Model{pad.MiniFASNetV1SE, pad.MiniFASNetV2, pad.FRLiveness} {
		file := filepath.Join("antispoof", m.File())
		if err := checkPin(*dir, file, m.SHA256()); err != nil {
			return err
		}
		line(m.SHA256(), file)
	}
	fmt.Fprintf(stdout, "model ID: %s (arcface, the default -model: ArcFace-class 512-D embedding)\n", embed.ModelID(id))
	fmt.Fprintf(stdout, "model ID: %s (dlib: dlib's 128-D descriptor)\n", id)
	fmt.Fprintf(stdout, "PAD networks: %v (the default -liveness passive and both), box ×%g\n", pad.Shipped.Models, pad.Shipped.Widen)
	e, err := facerec.Open(*dir, facerec.Options{})
	if err != nil {
		return engineError(*dir, err)
	}
	defer e.Close()
	b := facerec.BLAS()
	fmt.Fprintf(stdout, "engine: dlib via go-face, pool of %d recognizers\n", e.PoolSize())
	fmt.Fprintf(stdout, "BLAS: %s (OpenBLAS threads: %d)\n", b.Library, b.Threads)
	return nil
}

func runCompare(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("compare", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) < 2 {
		return usageError{"compare needs at least two images"}
	}
	e, err := facerec.Open(*dir, facerec.Options{})
	if err != nil {
		return engineError(*dir, err)
	}
	defer e.Close()
	ctx := context.Background()
	descs := make([]facerec.Descriptor, len(paths))
	for i, p := range paths {
		b, err := readInput(p, imageio.DefaultMaxBytes)
		if err != nil {
			return err
		}
		a, err := e.Analyze(ctx, facerec.Bytes(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		f, err := a.Single()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		descs[i] = f.Descriptor
		fmt.Fprintf(stdout, "[%d] %s: %d face(s), subject box %v, %d landmarks\n", i+1, filepath.Base(p), len(a.Faces), f.Box, len(f.Landmarks))
	}
	fmt.Fprintf(stdout, "Euclidean distances of dlib's 128-D descriptors (model %s: dlib, not the default arcface model that enroll and verify use); call at dlib's conventional %.2f, NOT calibrated to a false-match rate:\n", e.ModelID(), conventionalThreshold)
	for i := range descs {
		for j := i + 1; j < len(descs); j++ {
			d := facerec.Euclidean(&descs[i], &descs[j])
			call := "different"
			if d < conventionalThreshold {
				call = "same"
			}
			fmt.Fprintf(stdout, "  [%d]-[%d]  %.4f  %s\n", i+1, j+1, d, call)
		}
	}
	return nil
}
