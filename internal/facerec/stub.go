//go:build !cgo

package facerec

// Open returns [ErrUnavailable]: this binary was built without cgo, so the
// dlib engine is not compiled in.
func Open(dir string, o Options) (*Engine, error) { return nil, ErrUnavailable }

// BLASInfo tells which BLAS serves the engine's matrix products.
type BLASInfo struct {
	Library string
	Threads int
}

// BLAS reports nothing without cgo.
func BLAS() BLASInfo { return BLASInfo{} }
