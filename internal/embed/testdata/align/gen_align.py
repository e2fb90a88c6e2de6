#!/usr/bin/python3
"""Reference alignment for internal/embed (TestWarpMatchesOpenCV). Not run in CI.

Regenerate with Debian's python3-opencv (4.6) and python3-numpy, from this folder:

    /usr/bin/python3 gen_align.py

It draws a synthetic RGB test card (no faces), places five "face" points on it
under several similarity transforms (plus fixed sub-pixel jitter so the fit is
a real least-squares problem), and writes, per case:
  - src: the five points (image coordinates);
  - opencv: cv2.estimateAffinePartial2D(src -> template) with every point an
    inlier and Levenberg-Marquardt refinement (the least-squares similarity);
  - skimage: skimage.transform.SimilarityTransform.estimate (Umeyama), when
    python3-skimage is installed (else null);
  - crop_<name>.png: cv2.warpAffine(card, opencv matrix, 112x112, INTER_LINEAR,
    BORDER_CONSTANT 0), RGB. OpenCV quantises source positions to 1/32 px;
  - exact_<name>.png (only with python3-skimage): skimage.transform.warp of the
    card by the same matrix, order 1 (exact bilinear in float64), constant 0
    outside, rounded to nearest: the exact-interpolation reference.
"""
import json
import math

import cv2
import numpy as np

TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)

W, H = 160, 140


def card():
    y, x = np.mgrid[0:H, 0:W]
    r = (x * 7 + y * 3) % 256
    g = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 7.0)
    b = ((x // 8 + y // 8) % 2) * 200 + 20
    img = np.stack([r, g, b], axis=-1)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)  # RGB


JITTER = np.array([[0.4, -0.3], [-0.25, 0.5], [0.1, 0.35], [-0.45, -0.2], [0.3, 0.15]])

# (name, scale image-px per template-px, rotation degrees, centre x, centre y)
CASES = [
    ("upright", 1.0, 0.0, 80, 70),
    ("small_tilted", 0.7, 12.0, 60, 55),
    ("large_rotated", 1.6, -25.0, 85, 75),
    ("near_edge", 1.1, 5.0, 25, 20),
    ("half_outside", 1.3, -8.0, 150, 130),
    ("upside_down", 0.9, 170.0, 90, 60),
]


def place(scale, deg, cx, cy):
    th = math.radians(deg)
    c, s = math.cos(th), math.sin(th)
    centred = TEMPLATE - TEMPLATE.mean(axis=0)
    rot = np.array([[c, -s], [s, c]])
    return (centred @ rot.T) * scale + np.array([cx, cy]) + JITTER


def main():
    img = card()
    cv2.imwrite("card.png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    try:
        from skimage.transform import SimilarityTransform
    except ImportError:
        SimilarityTransform = None
    out = {"generator": "gen_align.py, OpenCV " + cv2.__version__, "template": TEMPLATE.tolist(), "cases": []}
    for name, scale, deg, cx, cy in CASES:
        src = place(scale, deg, cx, cy)
        m, inl = cv2.estimateAffinePartial2D(src.reshape(-1, 1, 2), TEMPLATE.reshape(-1, 1, 2),
                                             method=cv2.RANSAC, ransacReprojThreshold=1e6,
                                             maxIters=2000, confidence=0.999999, refineIters=1000)
        assert int(inl.sum()) == 5
        sk = None
        if SimilarityTransform is not None:
            t = SimilarityTransform()
            assert t.estimate(src, TEMPLATE)
            sk = t.params[:2].tolist()
        crop = cv2.warpAffine(img, m, (112, 112), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        cv2.imwrite("crop_%s.png" % name, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        if SimilarityTransform is not None:
            from skimage.transform import AffineTransform, warp
            full = np.vstack([m, [0, 0, 1]])
            ex = warp(img, AffineTransform(matrix=full).inverse, output_shape=(112, 112), order=1,
                      mode="constant", cval=0, preserve_range=True)
            ex = np.clip(np.floor(ex + 0.5), 0, 255).astype(np.uint8)
            cv2.imwrite("exact_%s.png" % name, cv2.cvtColor(ex, cv2.COLOR_RGB2BGR))
        out["cases"].append({"name": name, "src": src.tolist(), "opencv": m.tolist(), "skimage": sk})
    with open("align.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
