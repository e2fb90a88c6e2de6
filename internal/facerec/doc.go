// Package facerec is oneface's face engine: the only package that imports
// github.com/Kagami/go-face (dlib, cgo). Everything else in oneface builds
// with CGO_ENABLED=0; without cgo, [Open] returns [ErrUnavailable].
//
// Most callers need four things: [Open] a model directory, [Engine.Analyze]
// a frame, take the subject with [Analysis.Single], and compare two
// descriptors with [Euclidean].
//
// # Models and model ID
//
// go-face loads three files from one directory:
// shape_predictor_5_face_landmarks.dat (oneface installs dlib's 68-point
// predictor under that name, so [Face.Landmarks] has 68 points, which blink
// liveness needs), dlib_face_recognition_resnet_model_v1.dat and
// mmod_human_face_detector.dat. [Open] checks each file against the SHA-256
// pinned in models.sha256 (the file `make setup` checks too) and derives a
// [ModelID] from those hashes and the extractor settings. Descriptors made
// under different model IDs are never comparable.
//
// # Inputs and limits
//
// Outside bytes never reach C++. [Bytes] goes through oneface's one decode
// path, internal/imageio: JPEG, PNG and WebP are decoded in Go; HEIC, AVIF,
// JPEG XL, BMP, TIFF, GIF and the JPEG codings image/jpeg does not
// implement (arithmetic, lossless, 12-bit) get [ErrUnsupportedFormat] with
// a message naming them ("unsupported format: HEIC, re-save as JPEG or
// PNG"). The encoded size, the pixel count, each side (16,384 px by
// default), the aspect ratio (8:1) and the pixels per encoded byte are
// bounded by [Limits] from the header, before decoding, so decompression bombs and 65,535 × 2 strips
// cost nothing; the image is turned upright from the EXIF orientation its
// container carries (JPEG APP1, PNG eXIf, WebP EXIF), converted to three
// opaque channels (transparency over white; go-face silently fails on
// grayscale), and re-encoded once as JPEG quality 95 for go-face, which
// reads nothing else. Frames larger than [Limits].DetectPixels are
// downscaled for detection; boxes and landmarks are mapped back to the
// caller's coordinates. The frame handed to the engine is checked again
// after scaling: no side over libjpeg's 65,500 pixels ever reaches it.
//
// # Detection
//
// dlib's HOG detector (the default, and the only one exposed: go-face's CNN
// detector took 43 s and 10 GB on one 10.7-megapixel photo) misses faces
// under about 80 px and go-face never upsamples. When no face at least
// [Limits].UpscaleBelow pixels wide is found, detection is retried once on a
// 2× upscaled frame, within the pixel budget.
//
// go-face's RecognizeSingle returns nil both for no face and for several;
// this package always asks for every face and counts them: [Analysis.Single]
// gives [ErrNoFace] and [ErrMultipleFaces] apart and accepts a clearly
// dominant, central face with small bystanders (at least [DominanceRatio]
// times the area of every other face, and the nearest to the centre). On
// the LFW dev images, news photos that often show other people, it refuses
// 39 of 807 (150×150 variant) and 33 of 807 (deep-funneled) as several
// comparable faces (TestLFWDev). [Analysis.Central] is the documented rule
// for evaluation sets whose subject is centred.
//
// # Distance
//
// [Euclidean] computes the L2 distance in Go with float64 accumulation.
// go-face's ClassifyThreshold is never used: it compares dlib's *squared*
// distance against its tolerance, so "0.6" there means 0.775 Euclidean.
// Thresholds are security settings and come from calibration, not from this
// package.
//
// # Concurrency and resources
//
// go-face serialises inference inside one recognizer, so an [Engine] keeps a
// pool ([Options].PoolSize, default min(GOMAXPROCS, 2)); each recognizer
// holds its own ≈110 MB of models. OpenBLAS's own threads on top of the pool
// oversubscribe the CPUs, so [Open] sets OpenBLAS to GOMAXPROCS/PoolSize
// threads. That setting is process-wide: one engine per process is the
// intended use. [BLAS] reports which library serves cblas_sgemm.
// [Engine.Close] is idempotent, waits for calls in flight and makes later
// calls fail with [ErrClosed] (go-face's own Close is unguarded).
//
// Pixel buffers and JPEG bytes this package allocates are zeroed before
// Analyze returns. This is best effort: Go's runtime may have copied memory,
// and dlib keeps short-lived copies of its own.
//
// # Build
//
// go-face compiles with -march=native: binaries are specific to the CPU
// family of the build machine. Build on (or for) the device that runs them.
package facerec
