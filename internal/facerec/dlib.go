//go:build cgo

package facerec

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

// oneface_blas_path names the shared object that serves cblas_sgemm, the
// routine dlib's ResNet spends its time in, as the process resolves it.
static const char* oneface_blas_path(void) {
	void* f = dlsym(RTLD_DEFAULT, "cblas_sgemm");
	Dl_info info;
	if (f == NULL || dladdr(f, &info) == 0) return NULL;
	return info.dli_fname;
}

// oneface_blas_threads sets OpenBLAS's thread count when OpenBLAS is
// loaded; it returns 0 when it is not.
static int oneface_blas_threads(int n) {
	void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
	if (set == NULL) return 0;
	set(n);
	return 1;
}

// oneface_blas_get_threads returns OpenBLAS's thread count, or 0 when
// OpenBLAS is not loaded.
static int oneface_blas_get_threads(void) {
	int (*get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
	if (get == NULL) return 0;
	return get();
}
*/
import "C"

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	face "github.com/Kagami/go-face"
)

// Open checks the model files in dir against their pins, computes the model
// ID, sets BLAS threading (see [Options]) and loads a pool of recognizers.
//
// The dlib engine is compiled with go-face's -march=native, so a binary
// runs only on CPUs with the instruction set of the machine that built it.
func Open(dir string, o Options) (*Engine, error) {
	id, err := CheckModels(dir)
	if err != nil {
		return nil, err
	}
	n := o.poolSize()
	threads := o.BLASThreads
	if threads == 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/n)
	}
	if threads > 0 {
		setBLASThreads(threads)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(id, o, func() (recognizer, error) {
		r, err := face.NewRecognizer(abs)
		if err != nil {
			return nil, fmt.Errorf("facerec: loading models from %s: %v", abs, err)
		}
		return &dlibRecognizer{rec: r}, nil
	})
	if err != nil {
		return nil, err
	}
	e.log.Info("facerec: engine ready", "model_id", id.String(), "pool", n, "blas", BLAS().Library, "blas_threads", threads)
	return e, nil
}

// setBLASThreads sets OpenBLAS's process-wide thread count, if OpenBLAS is
// what the process loaded.
func setBLASThreads(n int) { C.oneface_blas_threads(C.int(n)) }

// BLASInfo tells which BLAS serves the engine's matrix products.
type BLASInfo struct {
	Library string // shared object that serves cblas_sgemm ("" if unknown)
	Threads int    // OpenBLAS threads; 0 when the BLAS is not OpenBLAS
}

// BLAS reports the BLAS library the process resolved for dlib.
func BLAS() BLASInfo {
	var info BLASInfo
	if p := C.oneface_blas_path(); p != nil {
		info.Library = C.GoString(p)
		if real, err := filepath.EvalSymlinks(info.Library); err == nil {
			info.Library = real
		}
	}
	info.Threads = int(C.oneface_blas_get_threads())
	return info
}

// dlibRecognizer guards one go-face Recognizer: go-face's Close is not safe
// against a concurrent or later Recognize, so both happen under mu.
type dlibRecognizer struct {
	mu  sync.Mutex
	rec *face.Recognizer
}

func (d *dlibRecognizer) recognize(jpeg []byte) ([]rawFace, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rec == nil {
		return nil, ErrClosed
	}
	// Recognize (not RecognizeSingle, which returns nil for 0 and for
	// several faces alike): every face, counted here.
	fs, err := d.rec.Recognize(jpeg)
	if err != nil {
		return nil, err
	}
	out := make([]rawFace, len(fs))
	for i, f := range fs {
		out[i] = rawFace{Box: f.Rectangle, Landmarks: f.Shapes, Descriptor: Descriptor(f.Descriptor)}
	}
	return out, nil
}

func (d *dlibRecognizer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rec != nil {
		d.rec.Close()
		d.rec = nil
	}
}
