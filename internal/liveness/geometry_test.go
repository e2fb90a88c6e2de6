package liveness

import (
	"image"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

// TestEARDev measures the eye aspect ratio on the live frames of
// spoof-dev (NUAA webcam captures, eyes open but for the odd half-blink),
// and checks what a blink does to it.
func TestEARDev(t *testing.T) {
	var live []spoofRow
	for _, r := range spoofRows(t) {
		if r.Label == "live" {
			live = append(live, r)
		}
	}
	step := 1
	if testing.Short() {
		step = 5
	}
	var ears []float64
	for i := 0; i < len(live); i += step {
		f := spoofFace(t, live[i].File)
		e := EAR(f.lm)
		ears = append(ears, e)
		if e < 0.10 || e > 0.45 {
			t.Errorf("%s: EAR %.3f of an open-eyed live frame outside 0.10..0.45", live[i].File, e)
		}
		// A blink: lids 90 % closed. Both the raw EAR and the closure
		// against a flat picture of the open frame fall far below the
		// checker's ClosedRatio.
		c := closeEyes(f.lm, 0.9)
		if ce := EAR(c); ce > 0.25*e {
			t.Errorf("%s: EAR %.3f with lids 90%% closed, open %.3f", live[i].File, ce, e)
		}
		if r := closure(vecs(f.lm), vecs(c)); r > 0.3 {
			t.Errorf("%s: closure %.3f of a 90%% blink", live[i].File, r)
		}
		if r := closure(vecs(f.lm), vecs(f.lm)); math.Abs(r-1) > 1e-9 {
			t.Errorf("%s: closure of a frame against itself %.6f, want 1", live[i].File, r)
		}
	}
	slices.Sort(ears)
	med := ears[len(ears)/2]
	t.Logf("EAR of %d live spoof-dev frames: min %.3f, median %.3f, max %.3f", len(ears), ears[0], med, ears[len(ears)-1])
	if med < 0.2 || med > 0.35 {
		t.Errorf("median open-eye EAR %.3f outside 0.20..0.35", med)
	}
}

// lfwTurns are LFW dev people with a frontal photo and a photo turned past
// 0.28: the direction was checked by eye (Prodi's nose points to the
// image's left, he is turned to his own right; Blatter to his own left).
var lfwTurns = []struct {
	frontal, turned string
	dir             Action
}{
	{"lfw/Joseph_Blatter/Joseph_Blatter_0002.jpg", "lfw/Joseph_Blatter/Joseph_Blatter_0001.jpg", TurnLeft},
	{"lfw/Pervez_Musharraf/Pervez_Musharraf_0016.jpg", "lfw/Pervez_Musharraf/Pervez_Musharraf_0006.jpg", TurnLeft},
	{"lfw/Prince_Edward/Prince_Edward_0002.jpg", "lfw/Prince_Edward/Prince_Edward_0001.jpg", TurnLeft},
	{"lfw/Trent_Lott/Trent_Lott_0001.jpg", "lfw/Trent_Lott/Trent_Lott_0016.jpg", TurnLeft},
	{"lfw/Romano_Prodi/Romano_Prodi_0003.jpg", "lfw/Romano_Prodi/Romano_Prodi_0005.jpg", TurnRight},
	{"lfw/Anders_Fogh_Rasmussen/Anders_Fogh_Rasmussen_0002.jpg", "lfw/Anders_Fogh_Rasmussen/Anders_Fogh_Rasmussen_0004.jpg", TurnRight},
	{"lfw/Federico_Trillo/Federico_Trillo_0003.jpg", "lfw/Federico_Trillo/Federico_Trillo_0001.jpg", TurnRight},
	{"lfw/Vaclav_Havel/Vaclav_Havel_0007.jpg", "lfw/Vaclav_Havel/Vaclav_Havel_0006.jpg", TurnRight},
}

// TestYawDev checks Yaw on real faces: frontal photos near 0, turned ones
// past the checker's TurnYaw with the right sign, and a mirrored turned
// photo past it with the other sign.
func TestYawDev(t *testing.T) {
	cases := lfwTurns
	if testing.Short() {
		cases = cases[3:5]
	}
	lim := Limits{}.withDefaults()
	for _, c := range cases {
		want := 1.0
		if c.dir == TurnRight {
			want = -1
		}
		if y := Yaw(lfwFace(t, c.frontal).lm); math.Abs(y) > lim.FrontalYaw {
			t.Errorf("%s: frontal photo has yaw %.3f", c.frontal, y)
		}
		y := Yaw(lfwFace(t, c.turned).lm)
		if want*y < lim.TurnYaw {
			t.Errorf("%s: photo turned (%s) has yaw %.3f", c.turned, c.dir, y)
		}
		// dlib's predictor is not mirror-symmetric on turned faces
		// (Blatter: 0.406 and -0.324 mirrored), so only the sign and the
		// threshold are asserted.
		ym := Yaw(analyse(t, "mirror/"+c.turned, mirror(lfwImage(t, c.turned))).lm)
		if -want*ym < lim.TurnYaw {
			t.Errorf("%s: mirrored, yaw %.3f (unmirrored %.3f): want past %.2f the other way", c.turned, ym, y, lim.TurnYaw)
		}
		t.Logf("%s: yaw %.3f, mirrored %.3f", c.turned, y, ym)
	}
	// The formula itself is exactly negated by a mirror (landmarks
	// renumbered the way the 68-point layout numbers a mirrored face).
	f := lfwFace(t, cases[0].turned)
	if y, ym := Yaw(f.lm), Yaw(mirrorLandmarks(f.lm)); math.Abs(y+ym) > 1e-9 {
		t.Errorf("mirrored landmarks: yaw %.6f vs %.6f", y, ym)
	}
}

// TestInvarianceDev measures how far EAR and Yaw move when a real kiosk-like
// frame (spoof-dev live, 640×480) is mirrored or rotated in plane by ±15°:
// the formulas are invariant, so what moves is dlib's landmark estimate.
// What must hold is that such a change never looks like a blink or a turn:
// the EAR ratio stays above the checker's ClosedRatio and |ΔYaw| within
// FrontalYaw.
func TestInvarianceDev(t *testing.T) {
	var live []spoofRow
	for _, r := range spoofRows(t) {
		if r.Label == "live" && r.Picture == 0 {
			live = append(live, r)
		}
	}
	if testing.Short() {
		live = live[:3]
	}
	var maxEAR, maxYaw float64
	for _, r := range live {
		img := decodeFile(t, filepath.Join(spoofDir(t), r.File))
		f := spoofFace(t, r.File)
		e, y := EAR(f.lm), Yaw(f.lm)
		variants := map[string]image.Image{"mirror": mirror(img), "rot-15": rotate(img, -15), "rot+15": rotate(img, 15)}
		for name, v := range variants {
			g := analyse(t, name+"/"+r.File, v)
			de, dy := math.Abs(EAR(g.lm)-e), math.Abs(Yaw(g.lm)-y)
			if name == "mirror" {
				dy = math.Abs(Yaw(g.lm) + y)
			}
			maxEAR, maxYaw = math.Max(maxEAR, de), math.Max(maxYaw, dy)
			if ratio := EAR(g.lm) / e; ratio <= lim0.ClosedRatio || dy > lim0.FrontalYaw {
				t.Errorf("%s %s: EAR %.3f → %.3f, yaw %.3f → %.3f", r.File, name, e, EAR(g.lm), y, Yaw(g.lm))
			}
		}
	}
	t.Logf("%d frames × (mirror, ±15°): max |ΔEAR| %.3f, max |ΔYaw| %.3f (mirror: |Yaw+Yaw'|)", len(live), maxEAR, maxYaw)
}

var lim0 = Limits{}.withDefaults()

// mirrorLandmarks flips x and renumbers the outer eye corners and the
// nose tip the way the 68-point layout numbers a mirrored face.
func mirrorLandmarks(lm []image.Point) []image.Point {
	out := slices.Clone(lm)
	for i := range out {
		out[i].X = -out[i].X
	}
	out[leftEyeOuter], out[rightEyeOuter] = out[rightEyeOuter], out[leftEyeOuter]
	return out
}
