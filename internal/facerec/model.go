package facerec

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModelIDSize is the length of a model ID in bytes.
const ModelIDSize = 16

// ModelID identifies the model files and the extractor settings that
// together define a descriptor space: the first 16 bytes of SHA-256 over
//
//	oneface model id v1
//	<sha256 hex> <file name>       (one line per model file, sorted by name)
//	settings <extractor settings>
//
// A reference made under another model ID is refused, never compared.
type ModelID [ModelIDSize]byte

// String returns the ID in lowercase hex.
func (id ModelID) String() string { return hex.EncodeToString(id[:]) }

// ParseModelID parses the hex form of a model ID.
func ParseModelID(s string) (ModelID, error) {
	var id ModelID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ModelIDSize {
		return id, fmt.Errorf("facerec: malformed model ID %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// extractorSettings are go-face's descriptor settings (chip size, padding,
// jittering: its defaults, never changed here) and the JPEG quality of the
// frame handed to it. Changing any of them changes the descriptors, so it
// changes the model ID.
var extractorSettings = fmt.Sprintf("dlib-resnet chip=150 padding=0.25 jitter=0 detector=hog jpeg-q=%d", jpegQuality)

// pinsFile is the list of model files and their SHA-256, the same file
// scripts/setup.sh checks.
//
//go:embed models.sha256
var pinsFile []byte

// Pin is one model file go-face loads and its pinned SHA-256.
type Pin struct {
	File   string
	SHA256 string // lowercase hex
}

// Pins returns the pinned model files, sorted by name.
func Pins() []Pin {
	var pins []Pin
	sc := bufio.NewScanner(bytes.NewReader(pinsFile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		pins = append(pins, Pin{File: f[1], SHA256: f[0]})
	}
	return pins
}

// CheckModels hashes every pinned file in dir, compares it with its pin and
// returns the model ID. A missing or mismatching file gives a *[ModelError]
// (errors.Is(err, [ErrModel])). It is pure Go and works without cgo.
func CheckModels(dir string) (ModelID, error) {
	h := sha256.New()
	io.WriteString(h, "oneface model id v1\n")
	for _, p := range Pins() {
		got, err := fileSHA256(filepath.Join(dir, p.File))
		if err != nil {
			return ModelID{}, &ModelError{File: p.File, Expected: p.SHA256, Err: err}
		}
		if got != p.SHA256 {
			return ModelID{}, &ModelError{File: p.File, Expected: p.SHA256, Got: got}
		}
		fmt.Fprintf(h, "%s %s\n", got, p.File)
	}
	fmt.Fprintf(h, "settings %s\n", extractorSettings)
	var id ModelID
	copy(id[:], h.Sum(nil))
	return id, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
