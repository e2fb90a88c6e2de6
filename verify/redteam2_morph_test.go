//go:build cgo

package verify

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness"
	"github.com/oneface/oneface/internal/testenv"
)

// rtBlend is (1−alpha)·a + alpha·b, pixel by pixel (same-size images: the
// deep-funneled LFW photos are aligned 250×250).
func rtBlend(a, b image.Image, alpha float64) image.Image {
	r := a.Bounds()
	out := image.NewRGBA(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			mix := func(p, q uint32) uint8 { return uint8(((1-alpha)*float64(p) + alpha*float64(q)) / 257) }
			out.Set(x, y, color.RGBA{mix(ar, br), mix(ag, bg), mix(ab, bb), 255})
		}
	}
	return out
}

// rtEmbedImage is the embedding of img's one face, or nil.
func rtEmbedImage(t testing.TB, e *Engine, img image.Image) []float32 {
	ctx := context.Background()
	fr := Frame{Image: img}
	a, err := e.analyzeFrame(ctx, fr)
	if err != nil {
		return nil
	}
	f, err := a.Single()
	if err != nil {
		return nil
	}
	v, err := e.vector(ctx, ModelArcFace, fr, &f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rtDecodeLFW(t testing.TB, rel string) image.Image {
	img, _, err := imageio.Decode(testenv.ReadLFW(t, rel), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestRedteam2ExploreMorphMix (opt-in: REDTEAM2_SEARCH=1): random
// impostor pairs of LFW dev (deep-funneled, aligned). For each, the
// attacker blends their own photo into a photo of the holder (alpha =
// the attacker's share) and shows the blend in the two smaller frames:
// how many pairs find an alpha where the blend is "the same face" as the
// attacker and the mean of (attacker, blend, blend) matches the holder's
// reference (another photo of the holder).
func TestRedteam2ExploreMorphMix(t *testing.T) {
	if os.Getenv("REDTEAM2_SEARCH") == "" {
		t.Skip("REDTEAM2_SEARCH=1 to run")
	}
	e := realEngine(t)
	const t1 = 0.5757
	root := testenv.LFWDir(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "lfw-deepfunneled", "*"))
	sort.Strings(dirs)
	var multi []string // people with ≥ 2 photos
	var all []string
	for _, d := range dirs {
		fs, _ := filepath.Glob(filepath.Join(d, "*.jpg"))
		for _, f := range fs {
			rel, _ := filepath.Rel(root, f)
			all = append(all, rel)
		}
		if len(fs) >= 2 {
			multi = append(multi, d)
		}
	}
	rng := rand.New(rand.NewPCG(2, 7))
	pairs, broken := 0, 0
	for pairs < 20 {
		hd := multi[rng.IntN(len(multi))]
		hs, _ := filepath.Glob(filepath.Join(hd, "*.jpg"))
		h, _ := filepath.Rel(root, hs[0])
		a := all[rng.IntN(len(all))]
		if filepath.Dir(a) == filepath.Dir(h) {
			continue
		}
		ai := rtDecodeLFW(t, a)
		av, hv := rtEmbedImage(t, e, ai), rtEmbedImage(t, e, rtDecodeLFW(t, h))
		if av == nil || hv == nil || cosd(av, hv) < t1 {
			continue
		}
		pairs++
	pair:
		for _, hp := range hs[1:] {
			p, _ := filepath.Rel(root, hp)
			pi := rtDecodeLFW(t, p)
			for alpha := 0.2; alpha < 0.71; alpha += 0.05 {
				bv := rtEmbedImage(t, e, rtBlend(pi, ai, alpha))
				if bv == nil {
					continue
				}
				same, mean := cosd(av, bv), cosd(meanOf(av, bv, bv), hv)
				if same < t1 && mean < t1 {
					broken++
					t.Logf("pair %d: attacker %s, holder %s (ref %s): single %.4f; blend alpha %.2f: same-face %.4f, mean %.4f", pairs, a, p, h, cosd(av, hv), alpha, same, mean)
					break pair
				}
			}
		}
	}
	t.Logf("%d of %d random impostor pairs accepted through a blended holder photo", broken, pairs)
}

// rtMixImages sends images as the answer to a one-step challenge drawn by
// draw (1 turn_left, 2 turn_right), 250 ms apart.
func rtMixImages(t *testing.T, k *kiosk, ref []byte, draw byte, imgs []image.Image) *Decision {
	t.Helper()
	k.verifier.lv.pending = liveness.NewPending(bytes.NewReader([]byte{draw}), liveness.ChallengeOptions{Steps: 1}, 0)
	dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
		fs := make([]Frame, len(imgs))
		for i, img := range imgs {
			fs[i] = Frame{Image: img, CapturedAt: at.Add(100*time.Millisecond + time.Duration(i)*250*time.Millisecond)}
		}
		return fs
	})
	return dec
}

// TestRedteam2MorphMix: no lookalike needed. The attacker (Vitali
// Klitschko, at cosine distance 0.86 from the holder's reference: nothing
// alike) blends a quarter of their own photo into a photo of the holder
// (Edmund Stoiber) — a crude pixel blend, no morphing tool — and shows the
// blend in the two smaller frames of the answer, their own face largest.
// Found by TestRedteam2ExploreMorphMix (1 of 20 random impostor pairs
// with such a crude blend).
func TestRedteam2MorphMix(t *testing.T) {
	const (
		attacker = "lfw-deepfunneled/Vitali_Klitschko/Vitali_Klitschko_0002.jpg"
		snap     = "lfw-deepfunneled/Edmund_Stoiber/Edmund_Stoiber_0005.jpg"
		refPhoto = "lfw-deepfunneled/Edmund_Stoiber/Edmund_Stoiber_0004.jpg"
	)
	ai := rtDecodeLFW(t, attacker)
	turned := rtDecodeLFW(t, "lfw-deepfunneled/Vitali_Klitschko/Vitali_Klitschko_0003.jpg")
	// Control: the attacker's face alone does not match.
	ctl := newKiosk(t, nil, Policy{Liveness: LivenessNone, MinFacePixels: 40, ExposeDistance: true})
	cd, err := ctl.verifier.Verify(context.Background(), Request{Reference: ctl.enroll(t, refPhoto).Reference,
		Frames: []Frame{{Image: rtScale(ai, 1.2), CapturedAt: ctl.clock()}}, Consent: ctl.consent(), Purpose: "door-main"})
	if err != nil || cd.Match {
		t.Fatalf("control: the attacker alone: %+v %v", cd, err)
	}
	t.Logf("control: the attacker alone: distance %.4f, threshold %.4f: no match", cd.Distance, cd.Threshold)
	for _, mode := range []Liveness{LivenessBoth, LivenessChallenge} {
		k := newKiosk(t, nil, Policy{Liveness: mode, MinFacePixels: 40, ExposeDistance: true})
		ref := k.enroll(t, refPhoto).Reference
		var last *Decision
	tries:
		for _, alpha := range []float64{0.3, 0.35} {
			blend := rtBlend(rtDecodeLFW(t, snap), ai, alpha)
			for _, order := range [][]image.Image{
				{blend, blend, rtScale(ai, 1.2)},
				{rtScale(ai, 1.2), blend, blend},
				{blend, blend, rtScale(ai, 1.2), rtScale(turned, 0.9)}, // the attacker turns (their own face, smallest)
			} {
				for _, draw := range []byte{1, 2} {
					d := rtMixImages(t, k, ref, draw, order)
					last = d
					if d.Match {
						t.Errorf("BROKEN (%s): attacker %s with a %.0f%% pixel blend of their face into the holder's photo (%d frames) matches the holder's reference: %.4f < %.4f",
							mode, attacker, alpha*100, len(order), d.Distance, d.Threshold)
						break tries
					}
					t.Logf("%s alpha %.2f draw %d: %v", mode, alpha, draw, d.Reasons)
				}
			}
		}
		if !last.Match {
			t.Logf("held (%s): last decision %v", mode, last.Reasons)
		}
	}
}
