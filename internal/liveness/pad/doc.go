// Package pad is oneface's passive presentation-attack detection (PAD,
// ISO/IEC 30107-3): small networks that score one face crop as live or
// attack, run through internal/onnx (OpenCV dnn). Built without cgo,
// [Open] returns internal/onnx's ErrUnavailable.
//
// Most callers need [Open], [Detector.Score] with the frame and the face
// engine's box, and a threshold chosen for a stated BPCER (docs/liveness.md).
//
// # Networks and inputs
//
// Three networks, each pinned by SHA-256 (files and provenance in
// ../shared/models/antispoof/README.md):
//
//	model           file                             crop scale  input          channels  live class
//	MiniFASNetV2    2.7_80x80_MiniFASNetV2.onnx      2.7         1×3×80×80      BGR       1 (0, 2: attacks)
//	MiniFASNetV1SE  4_0_0_80x80_MiniFASNetV1SE.onnx  4.0         1×3×80×80      BGR       1 (0, 2: attacks)
//	fr_liveness     fr_liveness.onnx                 2.7         1×3×128×128    BGR       0
//
// Pixel values are 0..255 as float, not normalised, N×C×H×W. The crop is
// Silent-Face's: the face box (optionally widened about its centre,
// [Options].Widen) scaled by min(scale, (H−1)/h, (W−1)/w) about its centre,
// shifted to stay in the frame, corners truncated to integers and
// inclusive, resized bilinearly on pixel centres and rounded to 8 bits
// ([Crop]). On a 640×480 frame with a large face the height bound wins,
// and both MiniFASNet crops are the same full-height square.
//
// Silent-Face's MiniFASNets were trained on RetinaFace boxes; oneface has
// dlib's tighter HOG box. fr_liveness's publisher feeds RGB according to
// its JavaScript; the spoof-dev numbers say BGR (docs/liveness.md).
//
// # Choice and threshold
//
// On spoof-dev every network, alone or fused, separates live frames from
// prints perfectly, so spoof-dev cannot choose among them. What differs is
// whether the threshold transfers to other cameras: at their spoof-dev
// thresholds (stated BPCER 5 %) MiniFASNetV2 refuses 24.6 % and
// fr_liveness 41.8 % of 768 LFW-dev photos of live people, MiniFASNetV1SE
// 7.6–7.8 %. [Open] therefore defaults to MiniFASNetV1SE alone, and
// [Shipped] is its threshold with the counts behind it. It is a
// threshold for the NUAA webcam and printed photos; a site calibrates its
// own camera.
//
// # Golden vectors
//
// testdata/golden.json holds the softmax of the ORIGINAL networks —
// PyTorch on the Silent-Face .pth weights, and PyTorch executing
// fr_liveness's ONNX graph op by op — on the exact crops this package
// makes from 32 real dev images (26 spoof-dev, 6 LFW), with each crop's
// SHA-256. TestGolden requires OpenCV dnn to agree within 1e-4; measured
// 4.3e-7 (MiniFASNetV2), 1.3e-7 (MiniFASNetV1SE), 7.7e-8 (fr_liveness).
// testdata/golden.py regenerates them (not run in CI).
package pad
