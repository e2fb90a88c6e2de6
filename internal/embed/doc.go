// Package embed turns a face found by internal/facerec into an
// ArcFace-class 512-D embedding and compares two embeddings. It is pure Go
// except for the network, which runs through internal/onnx (OpenCV dnn);
// without cgo, [Open] fails with onnx.ErrUnavailable.
//
// Most callers need three things: [Open] a model directory, [Embedder.Embed]
// a frame with the 68 landmarks facerec found in it, and compare two
// embeddings with [CosineDistance].
//
// # Pipeline
//
//  1. Five points from dlib's 68 landmarks ([FivePoints]): eye centres =
//     means of points 36–41 and 42–47, nose tip 30, mouth corners 48 and 54.
//  2. The least-squares similarity transform ([Similarity]) from those
//     points to the standard ArcFace 112×112 [Template] (InsightFace's
//     arcface_dst; the same numbers as the publisher's
//     REFERENCE_FACIAL_POINTS). The publisher's JavaScript fits an exact
//     affine transform on three of its own five points instead; a
//     least-squares similarity over all five is the standard InsightFace
//     alignment and does not shear the face.
//  3. Warp to a 112×112 RGB crop ([Warp]): bilinear, outside = black,
//     rounded to 8 bits, OpenCV warpAffine's pixel convention.
//  4. The network ([ModelFile], pinned in models.sha256): input
//     1×3×112×112 float32, planes R, G, B, each value (v − 127)/128 — the
//     publisher's lib/fr_feature.js (npm faceplugin-face-recognition-js
//     0.0.1, preprocessFeature; its image comes from an RGBA canvas and it
//     takes channels 0, 1, 2). Output 1×512 float32, not normalised.
//  5. L2 normalisation in Go (float64 accumulation) → [Embedding].
//  6. [CosineDistance] = 1 − a·b, in [0, 2], the ArcFace training metric.
//     The publisher's matchFeature subtracts the two vectors' element-wise
//     mean from each before the cosine; as written that leaves (a − b)/2
//     and (b − a)/2, so it scores −1 for every pair
//     (TestPublisherMatchDegenerate). Centring each vector on its own mean
//     (a Pearson correlation) measured the same as the plain cosine (LFW
//     dev FNMR 2.69 % at FMR 1e-3 for both; spoof-dev FMR 132 vs 131 of
//     5,041 at the LFW threshold: TestShift), so the plain cosine is kept.
//
// Golden vectors: the raw network output of this package (OpenCV dnn) is
// checked against onnxruntime (Node, onnxruntime-node) on aligned LFW dev
// crops, with the crops' SHA-256 pinned (testdata/golden, TestGolden). The
// warp and the transform are checked against OpenCV's own
// estimateAffinePartial2D and warpAffine (testdata/align, TestWarpMatchesOpenCV).
//
// # Model ID
//
// [ModelID] derives the ID of this embedding space from the face engine's
// model ID (detector, landmark predictor, their settings), the network's
// pinned SHA-256 and [Settings] (alignment, input convention,
// normalisation, metric). Embeddings under different IDs are never
// comparable.
//
// # Measured (engine level)
//
// With dlib's HOG detector and 68 landmarks for both models and the face
// nearest the centre (TestShift, TestQuantisation, TestEnrolmentAveraging;
// `go test -count=1 -run 'TestShift|TestQuantisation|TestEnrolmentAveraging' -v ./internal/embed`):
//
//   - LFW dev, all 322,681 cross-identity and 929 same-identity pairs of 805
//     acquired images: the FMR-1e-3 threshold is a cosine distance of
//     0.6629, where FNMR is 2.69 % (25/929); dlib's descriptor: Euclidean
//     0.5454, FNMR 7.97 % (74/929).
//   - spoof-dev live frames, session 01 × 02 (5,041 impostor, 657 genuine
//     comparisons) at each model's LFW threshold: FMR 2.60 % (131) against
//     dlib's 42.5 % (2,141); FNMR 0 for both. Impostor median 0.992 → 0.928
//     (dlib 0.816 → 0.563).
//   - Storing the reference as int8 with a per-vector scale (516 bytes)
//     moves cosine distances by at most 1.6e-3 and flips 2 of 323,610 LFW
//     decisions at 0.6629; float16 (1,024 bytes) by at most 4.4e-5, none.
//   - Averaging enrolment photos helps: LFW FNMR at FMR 1e-3 2.69 % (1
//     photo) → 1.08 % (2) → 0.97 % (3); spoof-dev FMR at the LFW threshold
//     of the same count 2.60 % → 1.95 % → 1.83 %.
//   - CPU time per face on one thread (BenchmarkStages; two LFW images,
//     two 640×480 webcam frames): engine analysis 62 ms (detection,
//     landmarks and dlib's descriptor, which go-face always computes),
//     alignment 0.67 ms, embedding 15.5 ms.
//
// # Concurrency and resources
//
// An [Embedder] keeps a pool of networks ([Options].PoolSize); each runs on
// one thread (internal/onnx sets OpenCV to one thread, process-wide).
// [Embedder.Close] is idempotent, waits for calls in flight and makes later
// calls fail with [ErrClosed]. The crop and the input tensor this package
// allocates are zeroed before Embed returns (best effort, as in facerec).
package embed
