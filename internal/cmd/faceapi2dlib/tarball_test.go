package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"testing"
)

func tarball(t testing.TB, files map[string][]byte, extra ...*tar.Header) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, h := range extra {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{tgzManifest, tgzWeights, "package/README.md"} {
		body, ok := files[name]
		if !ok {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

func TestReadTarball(t *testing.T) {
	m, w := synthetic(t, nil)
	ok := tarball(t, map[string][]byte{tgzManifest: m, tgzWeights: w, "package/README.md": []byte("hi")})
	gm, gw, err := readTarballFrom(bytes.NewReader(ok), "ok.tgz")
	if err != nil || !bytes.Equal(gm, m) || !bytes.Equal(gw, w) {
		t.Fatalf("%v", err)
	}
	// A symlink under the manifest's name is not followed or read.
	link := &tar.Header{Name: tgzManifest, Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink}
	for name, tgz := range map[string][]byte{
		"no weights":    tarball(t, map[string][]byte{tgzManifest: m}),
		"symlink only":  tarball(t, map[string][]byte{tgzWeights: w}, link),
		"not gzip":      []byte("PK\x03\x04 a zip"),
		"truncated":     ok[:len(ok)/2],
		"huge manifest": tarball(t, map[string][]byte{tgzManifest: make([]byte, maxManifest+1), tgzWeights: w}),
	} {
		if _, _, err := readTarballFrom(bytes.NewReader(tgz), name); !errors.Is(err, errFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzReadTarball: any bytes as the npm tarball give the two files or an
// errFormat error, never a panic or a read beyond the limits.
func FuzzReadTarball(f *testing.F) {
	f.Add(tarball(f, map[string][]byte{tgzManifest: []byte("[]"), tgzWeights: {1, 2, 3}}))
	f.Add(tarball(f, map[string][]byte{tgzWeights: {1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, w, err := readTarballFrom(bytes.NewReader(b), "fuzz.tgz")
		if err != nil {
			if m != nil || w != nil || !errors.Is(err, errFormat) {
				t.Fatalf("%v with data", err)
			}
			return
		}
		if len(m) > maxManifest || len(w) > maxWeights {
			t.Fatal("limit exceeded")
		}
	})
}
