package main

import (
	"github.com/oneface/oneface/internal/embed"
	"github.com/oneface/oneface/internal/eval"
	"github.com/oneface/oneface/internal/facerec"
)

// evalDescriber picks the describer of `oneface eval -model`: dlib's
// descriptor, or the ArcFace-class embedding on top of the same engine.
// The embedder it opens lives as long as the process.
func evalDescriber(model, dir string, e *facerec.Engine) (eval.Describer, error) {
	switch model {
	case "dlib":
		return eval.EngineDescriber{E: e}, nil
	case "arcface":
		em, err := embed.Open(dir, embed.Options{})
		if err != nil {
			return nil, engineError(dir, err)
		}
		return eval.EmbedDescriber{E: e, Em: em}, nil
	}
	return nil, usageError{"unknown -model " + model + " (dlib, arcface)"}
}
