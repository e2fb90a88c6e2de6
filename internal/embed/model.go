package embed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"strings"

	"github.com/oneface/oneface/internal/facerec"
)

// ModelFile is the file name of the embedding network in the model
// directory `make setup` assembles.
const ModelFile = "fr_feature.onnx"

// pinsFile pins the network's SHA-256; scripts/setup.sh checks the same
// file.
//
//go:embed models.sha256
var pinsFile []byte

// modelSHA256 is the pin of [ModelFile], read from models.sha256.
var modelSHA256 = func() string {
	sc := bufio.NewScanner(bytes.NewReader(pinsFile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[1] == ModelFile {
			return f[0]
		}
	}
	panic("embed: models.sha256 does not pin " + ModelFile)
}()

// ModelSHA256 returns the pinned SHA-256 of [ModelFile] (lowercase hex).
func ModelSHA256() string { return modelSHA256 }

// Settings describes everything between dlib's landmarks and the compared
// vector that changes the embedding. It is part of the model ID: change it
// whenever any of these changes.
const Settings = "arcface112 points=mean36-41,mean42-47,30,48,54 transform=lsq-similarity " +
	"warp=bilinear-f64 border=0 round=nearest input=rgb,(v-127)/128,nchw,1x3x112x112 " +
	"output=l2-normalised metric=cosine"

// ModelID returns the model ID of embeddings made by this package on top
// of the face engine whose model ID is engine: the first 16 bytes of
// SHA-256 over
//
//	oneface embedding model id v1
//	engine <engine model ID, hex>
//	<sha256 hex> fr_feature.onnx
//	settings <Settings>
//
// The engine's ID covers the detector (dlib's HOG detector and its
// settings, the upscale retry, the JPEG quality of the frame handed to
// go-face), the 68-point landmark predictor's file hash and dlib's
// descriptor network (which this embedding does not use, but which the
// engine loads: a different file gives a different ID, erring on the side
// of refusing). The network's pin and [Settings] cover alignment,
// input convention, network, normalisation and metric. Its first line
// differs from the engine's own ("oneface model id v1"), so an embedding
// ID never equals a dlib descriptor ID.
func ModelID(engine facerec.ModelID) facerec.ModelID {
	h := sha256.New()
	fmt.Fprintf(h, "oneface embedding model id v1\nengine %s\n%s %s\nsettings %s\n",
		engine, modelSHA256, ModelFile, Settings)
	var id facerec.ModelID
	copy(id[:], h.Sum(nil))
	return id
}
