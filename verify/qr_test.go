package verify

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// cameraFrame pastes a QR PNG into a 1280×720 frame the way a kiosk
// camera sees a card: scaled down, rotated by deg degrees, on a cluttered
// background, with dimmed contrast and sensor noise.
func cameraFrame(t *testing.T, qrPNG []byte, scale, deg float64) *image.RGBA {
	t.Helper()
	qr, err := png.Decode(bytes.NewReader(qrPNG))
	if err != nil {
		t.Fatal(err)
	}
	frame := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < 720; y += 40 { // background clutter
		for x := 0; x < 1280; x += 40 {
			c := uint8(60 + rng.IntN(120))
			draw.Draw(frame, image.Rect(x, y, x+40, y+40), image.NewUniform(color.RGBA{c, c - 20, c + 10, 255}), image.Point{}, draw.Src)
		}
	}
	// Card: a white margin around the code, like a printed badge.
	b := qr.Bounds()
	card := image.NewRGBA(b.Inset(-40))
	draw.Draw(card, card.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(card, b, qr, b.Min, draw.Src)
	th := deg * math.Pi / 180
	cos, sin := math.Cos(th)*scale, math.Sin(th)*scale
	cx, cy := float64(card.Bounds().Dx())/2, float64(card.Bounds().Dy())/2
	tx, ty := 640-cos*cx+sin*cy, 360-sin*cx-cos*cy
	xdraw.BiLinear.Transform(frame, f64.Aff3{cos, -sin, tx, sin, cos, ty}, card, card.Bounds(), xdraw.Over, nil)
	for i := range frame.Pix { // lower contrast, add noise
		if i%4 == 3 {
			continue
		}
		v := 30 + float64(frame.Pix[i])*0.7 + rng.NormFloat64()*6
		frame.Pix[i] = uint8(max(0, min(255, v)))
	}
	return frame
}

func TestQRRoundTripThroughCameraFrame(t *testing.T) {
	d := newDeployment(t)
	id, sealed := d.issue(t, d.request(), "")
	qrPNG, err := QRCode(sealed, 6)
	if err != nil {
		t.Fatal(err)
	}
	// The rendered PNG itself reads back.
	img, err := png.Decode(bytes.NewReader(qrPNG))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadQR(img); err != nil || !bytes.Equal(got, sealed) {
		t.Fatalf("rendered PNG: %v", err)
	}
	// Camera views: 18 placements of the card, all of which must read.
	read := 0
	for _, scale := range []float64{0.4, 0.5, 0.6, 0.7, 0.8, 0.9} { // the whole card in view
		for _, deg := range []float64{0, 7, -12} {
			frame := cameraFrame(t, qrPNG, scale, deg)
			got, err := ReadQR(frame)
			if err != nil {
				t.Errorf("scale %.1f, %v°: %v", scale, deg, err)
				continue
			}
			if !bytes.Equal(got, sealed) {
				t.Fatal("QR round trip changed the reference")
			}
			r, err := d.opener(t, nil).Open(got, "locker", "")
			if err != nil || r.ID() != id {
				t.Fatalf("open after QR: %v", err)
			}
			read++
		}
	}
	t.Logf("%d of 18 camera frames read and opened", read)
	// A frame without a code says so.
	empty := image.NewRGBA(image.Rect(0, 0, 640, 480))
	if _, err := ReadQR(empty); !errors.Is(err, ErrNoQR) {
		t.Fatalf("empty frame: %v", err)
	}
	if _, err := ReadQR(image.NewGray(image.Rect(0, 0, 10000, 5000))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge frame: %v", err)
	}
}
