// Command faceapi2dlib converts the face-recognition weights of the npm
// package @vladmandic/face-api (a tfjs port of dlib's face-recognition
// ResNet, carried over from face-api.js) back into the dlib model file
// go-face loads, dlib_face_recognition_resnet_model_v1.dat.
//
// Usage:
//
//	faceapi2dlib -tgz vladmandic-face-api-1.7.15.tgz -o dlib_face_recognition_resnet_model_v1.dat
//	faceapi2dlib -manifest face_recognition_model-weights_manifest.json -weights face_recognition_model.bin -o out.dat
//
// With -tgz it reads package/model/face_recognition_model-weights_manifest.json
// and package/model/face_recognition_model.bin from the tarball `npm pack`
// downloads. It prints the output's SHA-256. The conversion is
// deterministic: from @vladmandic/face-api@1.7.15 it writes exactly the
// file pinned in internal/facerec/models.sha256 (SHA-256
// cdb1d47b961fe310ef1f3aa2974c5f65d29c079346760f6b6785c7e405f7266a,
// 22,466,154 bytes). scripts/fetch-models.sh checks the tarball's and the
// output's hashes; this tool checks the weights' structure.
//
// What it writes: go-face's anet_type serialised as dlib 19.24 does
// (record versions con_5, affine_2, fc_3, loss_metric_2), a cleaned
// network whose layers are set up. Each tfjs tensor is used exactly once:
// uint8-quantised values are dequantised as tfjs does (q·scale + min in
// float64, rounded to float32); convolution filters go from tfjs's
// [h][w][in][out] to dlib's [out][in][h][w] followed by the bias; each
// scale layer's weights and biases become an affine_ layer's gamma and
// beta (CONV_MODE); the final [256][128] matrix is dlib's fc_no_bias
// layout as is. The input layer keeps dlib's per-channel means (122.782,
// 117.001, 104.298) and 150×150 chips. See docs/models.md.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Paths inside the npm tarball.
const (
	tgzManifest = "package/model/face_recognition_model-weights_manifest.json"
	tgzWeights  = "package/model/face_recognition_model.bin"
	maxTarball  = 256 << 20 // bytes read from the decompressed tarball
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "faceapi2dlib: error:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("faceapi2dlib", flag.ContinueOnError)
	tgz := fs.String("tgz", "", "npm tarball of @vladmandic/face-api (from `npm pack`)")
	manifest := fs.String("manifest", "", "tfjs weights manifest (instead of -tgz)")
	weights := fs.String("weights", "", "tfjs weights file (with -manifest)")
	out := fs.String("o", "", "output file (written to a temporary file and renamed; an existing file is replaced)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 || (*tgz == "") == (*manifest == "" || *weights == "") {
		return errors.New("usage: faceapi2dlib (-tgz FILE | -manifest FILE -weights FILE) -o OUT")
	}
	var m, w []byte
	var err error
	if *tgz != "" {
		m, w, err = readTarball(*tgz)
	} else {
		if m, err = readFile(*manifest, maxManifest); err == nil {
			w, err = readFile(*weights, maxWeights)
		}
	}
	if err != nil {
		return err
	}
	dat, err := convert(m, w)
	if err != nil {
		return err
	}
	if err := writeFile(*out, dat); err != nil {
		return err
	}
	sum := sha256.Sum256(dat)
	fmt.Fprintf(stdout, "%s  %s\n", hex.EncodeToString(sum[:]), *out)
	return nil
}

// readFile reads at most limit bytes of a file, refusing a larger one.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit, path)
}

func readLimited(r io.Reader, limit int64, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errFormat, name, limit)
	}
	return b, nil
}

// readTarball takes the manifest and the weights out of an npm tarball,
// reading at most maxTarball decompressed bytes.
func readTarball(path string) (manifest, weights []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readTarballFrom(f, path)
}

func readTarballFrom(r io.Reader, path string) (manifest, weights []byte, err error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", errFormat, path, err)
	}
	tr := tar.NewReader(io.LimitReader(zr, maxTarball))
	for manifest == nil || weights == nil {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", errFormat, path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		switch h.Name {
		case tgzManifest:
			manifest, err = readLimited(tr, maxManifest, h.Name)
		case tgzWeights:
			weights, err = readLimited(tr, maxWeights, h.Name)
		}
		if err != nil && !errors.Is(err, errFormat) {
			err = fmt.Errorf("%w: %s: %v", errFormat, path, err)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if manifest == nil || weights == nil {
		return nil, nil, fmt.Errorf("%w: %s: no %s and %s (is it @vladmandic/face-api?)", errFormat, path, tgzManifest, tgzWeights)
	}
	return manifest, weights, nil
}

// writeFile writes b to a temporary file beside path, syncs it and
// renames it over path, so a reader never sees half a model.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".faceapi2dlib-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
