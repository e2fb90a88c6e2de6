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
//  6. [CosineDistance] = 1 − a·b, in [0, 2]. The publisher's matchFeature
//     instead subtracts the two vectors' element-wise mean from each before
//     the cosine; this package uses the plain cosine of the normalised
//     vectors, the ArcFace training metric, which every measurement in
//     this package's tests uses.
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
// # Concurrency and resources
//
// An [Embedder] keeps a pool of networks ([Options].PoolSize); each runs on
// one thread (internal/onnx sets OpenCV to one thread, process-wide).
// [Embedder.Close] is idempotent, waits for calls in flight and makes later
// calls fail with [ErrClosed]. The crop and the input tensor this package
// allocates are zeroed before Embed returns (best effort, as in facerec).
package embed
