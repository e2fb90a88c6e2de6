// Package onnx runs ONNX networks through OpenCV's dnn module (Debian's
// libopencv-dnn-dev, OpenCV 4.6). It is oneface's second and last cgo
// package, beside internal/facerec; everything else builds with
// CGO_ENABLED=0. Built without cgo, [Load] returns [ErrUnavailable].
//
// Most callers need three things: [Load] a model file against its pinned
// SHA-256, [Net.Run] an NCHW float32 tensor, and [Net.Close].
//
// # Model files
//
// [Load] reads the whole file (at most [MaxModelBytes]), checks its SHA-256
// against the caller's pin and hands OpenCV the very bytes it hashed
// (cv::dnn::readNetFromONNX on a buffer), so the file cannot change between
// the check and the parse. A mismatch, an unreadable file and a file OpenCV
// cannot parse all give an error matching [ErrModel]. The network runs on
// OpenCV's own CPU backend (DNN_BACKEND_OPENCV, DNN_TARGET_CPU).
//
// # Inputs and outputs
//
// [Net.Run] takes one input blob: a float32 tensor in row-major order with
// its shape, typically N×C×H×W. Shapes are bounded before anything reaches
// C++ (rank 1–[MaxRank], every dimension 1–[MaxDim], at most
// [MaxInputElements] elements, len(input) equal to the product) and the
// values must be finite; violations give [ErrShape]. It returns the
// network's default output (OpenCV's forward() without a name: the output
// of the last layer), flattened in row-major order. [Net.RunShape] returns
// the output's shape as well: that is how to query it. Outputs holding NaN
// or ±Inf are refused with [ErrInference], like every C++ exception (the
// C++ side catches cv::Exception, std::exception and everything else, and
// the message is carried into the Go error).
//
// # Concurrency and threads
//
// A cv::dnn::Net is not safe for concurrent use, so a [Net] serialises its
// calls: one Run at a time, others wait (or leave when their context ends).
// For parallel inference load several Nets from the same file; each holds
// its own copy of the weights (about the file's size).
//
// [Load] sets OpenCV's worker thread count to 1 (cv::setNumThreads(1)), so
// a Run computes on the calling thread only and a pool of Nets, not OpenCV,
// decides how many cores are used. OpenCV keeps this setting process-wide,
// not per network: every Net in the process (and any other OpenCV user in
// it) runs single-threaded once one Net is loaded. [Load] also silences
// OpenCV's own stderr logging (process-wide too): every failure comes back
// as a Go error carrying the exception's message.
//
// A network may fix its batch size inside (oneface's face embedding
// reshapes to 1×512, so a batch of 2 comes out as 1×1024): check the shape
// [Net.RunShape] returns.
//
// [Net.Close] is idempotent, waits for a Run in flight and makes later
// calls fail with [ErrClosed].
//
// # Build
//
// The cgo flags name OpenCV's core and dnn libraries only (-lopencv_dnn
// -lopencv_core, headers in /usr/include/opencv4). pkg-config is not used:
// Debian ships opencv4.pc only in libopencv-dev, which pulls every OpenCV
// module including the GUI and video ones, while libopencv-dnn-dev and its
// dependency libopencv-core-dev are all this package needs.
package onnx
