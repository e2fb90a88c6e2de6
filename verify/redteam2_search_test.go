//go:build cgo

package verify

import (
	"bytes"
	"context"
	"image"
	"time"

	"golang.org/x/image/draw"

	"encoding/json"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/liveness"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/testenv"
)

// lfwVec is one LFW dev photo's embedding and face geometry.
type lfwVec struct {
	File  string
	Vec   []float32
	Width int
	Yaw   float64
}

// lfwEmbeddings embeds every LFW dev photo (original framing) with one
// face; cached in cache (a JSON file outside the repo) when set.
func lfwEmbeddings(t *testing.T, e *Engine, cache string) []lfwVec {
	t.Helper()
	if cache != "" {
		if b, err := os.ReadFile(cache); err == nil {
			var out []lfwVec
			if json.Unmarshal(b, &out) == nil && len(out) > 0 {
				return out
			}
		}
	}
	root := testenv.LFWDir(t)
	files, _ := filepath.Glob(filepath.Join(root, "lfw", "*", "*.jpg"))
	sort.Strings(files)
	ctx := context.Background()
	var out []lfwVec
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fr := Frame{Encoded: b}
		a, err := e.analyzeFrame(ctx, fr)
		if err != nil {
			continue
		}
		face, err := a.Single()
		if err != nil {
			continue
		}
		v, err := e.vector(ctx, ModelArcFace, fr, &face)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		out = append(out, lfwVec{File: rel, Vec: v, Width: face.Box.Dx(), Yaw: face.Quality.Yaw})
	}
	if cache != "" {
		b, _ := json.Marshal(out)
		_ = os.WriteFile(cache, b, 0o600)
	}
	return out
}

func person(file string) string { return strings.Split(file, "/")[1] }

func cosd(a, b []float32) float64 {
	return embed.CosineDistance((*embed.Embedding)(a), (*embed.Embedding)(b))
}

func meanOf(vs ...[]float32) []float32 {
	es := make([]embed.Embedding, len(vs))
	for i, v := range vs {
		copy(es[i][:], v)
	}
	m, _ := embed.Mean(es)
	return m[:]
}

// TestRedteam2SearchMeanMix (opt-in: REDTEAM2_SEARCH=1) lists, over LFW
// dev, the (attacker photo a, holder photos p ≠ h) where a single frame of
// a does not match h's reference but a and p are "the same face" and the
// mean of (a, p, p) matches h — at FMR 1e-3, one photo.
func TestRedteam2SearchMeanMix(t *testing.T) {
	if os.Getenv("REDTEAM2_SEARCH") == "" {
		t.Skip("REDTEAM2_SEARCH=1 to run")
	}
	e := realEngine(t)
	vs := lfwEmbeddings(t, e, os.Getenv("REDTEAM2_CACHE"))
	const t1, t3 = 0.5757, 0.5757
	t.Logf("%d embedded photos", len(vs))
	var single, viaMean, impostorPairs int
	for i := range vs {
		for j := range vs {
			if person(vs[i].File) == person(vs[j].File) || i == j {
				continue
			}
			impostorPairs++
			if cosd(vs[i].Vec, vs[j].Vec) < t1 {
				single++
			}
		}
	}
	for _, a := range vs {
		for _, p := range vs {
			if person(a.File) == person(p.File) || cosd(a.Vec, p.Vec) >= t1 {
				continue
			}
			for _, h := range vs {
				if h.File == p.File || person(h.File) != person(p.File) || cosd(a.Vec, h.Vec) < t1 {
					continue
				}
				m := meanOf(a.Vec, p.Vec, p.Vec)
				if d := cosd(m, h.Vec); d < t3 {
					viaMean++
					t.Logf("attacker %s  holder photo %s  reference %s: single %.4f, same-face %.4f, mean %.4f", a.File, p.File, h.File, cosd(a.Vec, h.Vec), cosd(a.Vec, p.Vec), d)
				}
			}
		}
	}
	t.Logf("ordered impostor pairs %d, single-frame false matches %d; (attacker, holder photo, other reference) accepted only via the mean: %d", impostorPairs, single, viaMean)
}

// rtScaled decodes an LFW photo and scales it by f (bilinear).
func rtScaled(t testing.TB, rel string, f float64) image.Image {
	t.Helper()
	img, _, err := imageio.Decode(testenv.ReadLFW(t, rel), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, int(float64(b.Dx())*f), int(float64(b.Dy())*f)))
	draw.BiLinear.Scale(out, out.Bounds(), img, b, draw.Src, nil)
	return out
}

// rtMixAnswer sends frames (file, scale) as the answer to a one-step
// challenge drawn by draw (1 turn_left, 2 turn_right).
func rtMixAnswer(t *testing.T, k *kiosk, ref []byte, draw byte, files []string, scales []float64) *Decision {
	t.Helper()
	k.verifier.lv.pending = liveness.NewPending(bytes.NewReader([]byte{draw}), liveness.ChallengeOptions{Steps: 1}, 0)
	dec, _ := k.answer(t, ref, func(at time.Time) []Frame {
		fs := make([]Frame, len(files))
		for i, f := range files {
			fs[i] = Frame{Image: rtScaled(t, f, scales[i]), CapturedAt: at.Add(100*time.Millisecond + time.Duration(i)*250*time.Millisecond)}
		}
		return fs
	})
	return dec
}

// TestRedteam2SearchMixSequences (opt-in: REDTEAM2_SEARCH=1,
// REDTEAM2_TRIPLES=a,p,h;...) tries frame orders for each triple under
// LivenessChallenge and LivenessBoth.
func TestRedteam2SearchMixSequences(t *testing.T) {
	if os.Getenv("REDTEAM2_SEARCH") == "" || os.Getenv("REDTEAM2_TRIPLES") == "" {
		t.Skip("REDTEAM2_SEARCH=1 REDTEAM2_TRIPLES=a,p,h[,t];... to run")
	}
	for _, mode := range []Liveness{LivenessChallenge, LivenessBoth} {
		k := newKiosk(t, nil, Policy{Liveness: mode, MinFacePixels: 40, ExposeDistance: true})
		for _, tr := range strings.Split(os.Getenv("REDTEAM2_TRIPLES"), ";") {
			f := strings.Split(tr, ",")
			a, p, h := f[0], f[1], f[2]
			ref := k.enroll(t, h).Reference
			type try struct {
				files  []string
				scales []float64
			}
			tries := []try{{[]string{p, p, a}, []float64{1.1, 1.1, 1.3}}, {[]string{a, p, p}, []float64{1.3, 1.1, 1.1}}, {[]string{p, a, p}, []float64{1.1, 1.3, 1.1}}}
			for _, x := range f[3:] {
				tries = append(tries, try{[]string{a, p, p, x}, []float64{1.3, 1.1, 1.1, 0.9}}, try{[]string{p, p, a, x}, []float64{1.1, 1.1, 1.3, 0.9}},
					try{[]string{x, p, p, a}, []float64{0.9, 1.1, 1.1, 1.3}})
			}
			for _, tr := range tries {
				for _, d := range []byte{1, 2} {
					dec := rtMixAnswer(t, k, ref, d, tr.files, tr.scales)
					t.Logf("%s ref %s draw %d %v: match %v dist %.4f reasons %v", mode, h, d, tr.files, dec.Match, dec.Distance, dec.Reasons)
				}
			}
		}
	}
}
