//go:build cgo

package facerec

import (
	"context"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func bugreport(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "bugreports", name))
	if err != nil {
		missing(t, "shared bug report "+name, err)
	}
	return b
}

// TestPNGExifOrientationBugReport: ../shared/bugreports/png-exif-orientation.
// abel-o6.png stores Abel_Pacheco_0004 rotated 90° counter-clockwise with
// an eXIf Orientation=6; abel-o6.jpg is the same pixels and tag in a JPEG.
// Before: the PNG's eXIf was ignored, the face was analysed sideways and
// not found (ErrNoFace, verification refused no_face). After: both
// containers give the same upright frame, one face, the same box, and
// descriptors of the same person (the JPEG is lossy, so not bit-equal).
func TestPNGExifOrientationBugReport(t *testing.T) {
	e := engine(t)
	ctx := context.Background()
	pngA, err := e.Analyze(ctx, Bytes(bugreport(t, "png-exif-orientation/abel-o6.png")))
	if err != nil {
		t.Fatal(err)
	}
	jpgA, err := e.Analyze(ctx, Bytes(bugreport(t, "png-exif-orientation/abel-o6.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	if pngA.Bounds != jpgA.Bounds || pngA.Bounds.Dx() != 250 || pngA.Bounds.Dy() != 250 {
		t.Fatalf("upright frames %v (PNG) and %v (JPEG)", pngA.Bounds, jpgA.Bounds)
	}
	pf, err := pngA.Single()
	if err != nil {
		t.Fatalf("PNG: %v (the face was not found upright)", err)
	}
	jf, err := jpgA.Single()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{pf.Box.Min.X - jf.Box.Min.X, pf.Box.Min.Y - jf.Box.Min.Y, pf.Box.Max.X - jf.Box.Max.X, pf.Box.Max.Y - jf.Box.Max.Y} {
		if d < -3 || d > 3 {
			t.Fatalf("face boxes differ: PNG %v, JPEG %v", pf.Box, jf.Box)
		}
	}
	// The upright face: eyes above the mouth (68-point indices 36..47 and
	// 48..67).
	eyes, mouth := meanY(pf.Landmarks[36:48]), meanY(pf.Landmarks[48:68])
	if eyes >= mouth {
		t.Fatalf("eyes at y=%.0f, mouth at y=%.0f: the face is not upright", eyes, mouth)
	}
	// Same person as the upright original in the LFW dev fold.
	orig := single(t, e, Bytes(readFace(t, personA2)))
	dp, dj := Euclidean(&pf.Descriptor, &orig.Descriptor), Euclidean(&jf.Descriptor, &orig.Descriptor)
	dpj := Euclidean(&pf.Descriptor, &jf.Descriptor)
	t.Logf("distance PNG–JPEG %.4f; to Abel_Pacheco_0004.jpg: PNG %.4f, JPEG %.4f", dpj, dp, dj)
	if dpj > 0.1 || dp > 0.1 || math.Abs(dp-dj) > 0.05 {
		t.Fatalf("PNG and JPEG analyses differ: %.4f %.4f %.4f", dpj, dp, dj)
	}
}

func meanY(ps []image.Point) float64 {
	var s float64
	for _, p := range ps {
		s += float64(p.Y)
	}
	return s / float64(len(ps))
}

// TestWideJPEGBugReport: ../shared/bugreports/jpeg-side-over-65500, a valid
// 65,535 × 2 JPEG. Before: it passed the pixel-count limit and failed
// inside libjpeg ("Maximum supported image dimension is 65500 pixels"), an
// engine error with no decision. After: ErrTooLarge from the header, which
// the verifier refuses as unreadable and audits; the engine is never
// called.
func TestWideJPEGBugReport(t *testing.T) {
	e := engine(t)
	_, err := e.Analyze(context.Background(), Bytes(wideJPEG(t)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	t.Log(err)
	// Even with limits that admit any side, the re-check before the engine
	// holds.
	lax := Limits{MaxSide: 1 << 20, MaxAspect: 1 << 20}.withDefaults()
	f, err := Bytes(wideJPEG(t)).decode(lax)
	if err == nil {
		_, err = encodeJPEG(f.img)
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("lax limits: got %v, want ErrTooLarge", err)
	}
}
