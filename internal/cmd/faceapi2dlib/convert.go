package main

import (
	"fmt"
	"slices"
)

// The network is go-face's anet_type (dlib's dnn_face_recognition_ex.cpp),
// from input to loss:
//
//	input_rgb_image_sized<150>
//	con<32,7,7,2,2> affine relu max_pool<3,3,2,2>
//	ares<32> ×3                      (face-api conv32_1..3)
//	ares_down<64>, ares<64> ×3       (conv64_down, conv64_1..3)
//	ares_down<128>, ares<128> ×2     (conv128_down, conv128_1..2)
//	ares_down<256>, ares<256> ×2     (conv256_down, conv256_1..2)
//	ares_down<256>                   (conv256_down_out)
//	avg_pool_everything fc_no_bias<128> loss_metric
//
// where ares<N> = relu<add_prev1<block<N,1,tag1<…>>>>,
// ares_down<N> = relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<…>>>>>>>,
// block<N,s> = affine<con<N,3,3,1,1,relu<affine<con<N,3,3,s,s,…>>>>>>.

// layerKind is how a layer wraps the one below it in dlib's templates.
type layerKind int

const (
	addLayer  layerKind = iota // add_layer<details, SUBNET>: record version 2
	tagLayer                   // add_tag_layer<ID, SUBNET>: version 1, no details
	skipLayer                  // add_skip_layer<TAG, SUBNET>: version 1, no details
)

// layer is one layer, with its details (the *_ object) already encoded.
type layer struct {
	kind    layerKind
	inplace bool // relu_ and affine_ compute in place
	details []byte
}

// builder collects layers from the input upwards and takes tensors from
// the tfjs weights, each exactly once.
type builder struct {
	w      map[string]*tensor
	layers []layer
	k      int // channels of the current output
}

func (b *builder) take(name string, shape ...int) ([]float32, error) {
	t, ok := b.w[name]
	if !ok {
		return nil, fmt.Errorf("%w: no tensor %s", errFormat, name)
	}
	if !slices.Equal(t.shape, shape) {
		return nil, fmt.Errorf("%w: %s has shape %v, want %v", errFormat, name, t.shape, shape)
	}
	if t.used {
		return nil, fmt.Errorf("%w: %s used twice", errFormat, name) // programmer error in the layer list
	}
	t.used = true
	return t.data, nil
}

func (b *builder) add(kind layerKind, details []byte) {
	b.layers = append(b.layers, layer{kind: kind, details: details})
}

func (b *builder) addInplace(details []byte) {
	b.layers = append(b.layers, layer{kind: addLayer, inplace: true, details: details})
}

// conv adds con_<n, size, size, stride, stride> with its padding default
// (size/2 at stride 1, else 0) from prefix/conv/{filters,bias}. tfjs
// filters are [h][w][in][out]; dlib's params are the filters
// [out][in][h][w] followed by the n biases.
func (b *builder) conv(prefix string, n, size, stride int) error {
	in := b.k
	f, err := b.take(prefix+"/conv/filters", size, size, in, n)
	if err != nil {
		return err
	}
	bias, err := b.take(prefix+"/conv/bias", n)
	if err != nil {
		return err
	}
	params := make([]float32, 0, len(f)+n)
	for o := range n {
		for i := range in {
			for y := range size {
				for x := range size {
					params = append(params, f[((y*size+x)*in+i)*n+o])
				}
			}
		}
	}
	params = append(params, bias...)
	pad := 0
	if stride == 1 {
		pad = size / 2
	}
	var e encoder
	e.string("con_5")
	e.tensor(len(params), 1, 1, 1, params)
	e.int(int64(n))    // num_filters_
	e.int(int64(size)) // _nr
	e.int(int64(size)) // _nc
	e.int(int64(stride))
	e.int(int64(stride))
	e.int(int64(pad))
	e.int(int64(pad))
	e.aliasTensor(n, in, size, size) // filters
	e.aliasTensor(1, n, 1, 1)        // biases
	e.float64(1)                     // learning_rate_multiplier
	e.float64(1)                     // weight_decay_multiplier
	e.float64(1)                     // bias_learning_rate_multiplier
	e.float64(0)                     // bias_weight_decay_multiplier
	e.bool(true)                     // use_bias
	b.add(addLayer, e.b)
	b.k = n
	return nil
}

// affine adds affine_ in CONV_MODE (one gamma and beta per channel) from
// prefix/scale/{weights,biases}.
func (b *builder) affine(prefix string) error {
	g, err := b.take(prefix+"/scale/weights", b.k)
	if err != nil {
		return err
	}
	beta, err := b.take(prefix+"/scale/biases", b.k)
	if err != nil {
		return err
	}
	params := append(slices.Clone(g), beta...)
	var e encoder
	e.string("affine_2")
	e.tensor(len(params), 1, 1, 1, params)
	e.aliasTensor(1, b.k, 1, 1) // gamma
	e.aliasTensor(1, b.k, 1, 1) // beta
	e.int(0)                    // mode: CONV_MODE
	e.bool(false)               // disabled
	b.addInplace(e.b)
	return nil
}

func (b *builder) relu() {
	var e encoder
	e.string("relu_")
	b.addInplace(e.b)
}
func (b *builder) addPrev() {
	var e encoder
	e.string("add_prev_")
	b.add(addLayer, e.b)
}

func (b *builder) pool(version string, size, stride int) {
	var e encoder
	e.string(version)
	e.int(int64(size)) // _nr
	e.int(int64(size)) // _nc
	e.int(int64(stride))
	e.int(int64(stride))
	e.int(0) // padding_y_
	e.int(0) // padding_x_
	b.add(addLayer, e.b)
}

// block adds the two convolutions of a residual block.
func (b *builder) block(prefix string, n, stride int) error {
	if err := b.conv(prefix+"/conv1", n, 3, stride); err != nil {
		return err
	}
	if err := b.affine(prefix + "/conv1"); err != nil {
		return err
	}
	b.relu()
	if err := b.conv(prefix+"/conv2", n, 3, 1); err != nil {
		return err
	}
	return b.affine(prefix + "/conv2")
}

// ares adds relu<add_prev1<block<n,1,tag1<…>>>>.
func (b *builder) ares(prefix string, n int) error {
	b.add(tagLayer, nil) // tag1
	if err := b.block(prefix, n, 1); err != nil {
		return err
	}
	b.addPrev()
	b.relu()
	return nil
}

// aresDown adds relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<n,2,tag1<…>>>>>>>.
func (b *builder) aresDown(prefix string, n int) error {
	b.add(tagLayer, nil) // tag1
	if err := b.block(prefix, n, 2); err != nil {
		return err
	}
	b.add(tagLayer, nil)  // tag2
	b.add(skipLayer, nil) // skip1
	b.pool("avg_pool_2", 2, 2)
	b.addPrev()
	b.relu()
	return nil
}

// Input normalisation of input_rgb_image_sized, as dlib's original model
// file stores it: the mean of each channel, subtracted before dividing by
// 256.
const (
	avgRed   float32 = 122.782
	avgGreen float32 = 117.001
	avgBlue  float32 = 104.298
	chipSize         = 150
)

// loss_metric_ settings of dlib's model (its defaults).
const (
	lossMargin     float32 = 0.04
	lossDistThresh float32 = 0.6
)

// convert turns face-api's FaceRecognitionNet weights (a tfjs weights
// manifest and its weights file) into a dlib 19.24 serialised anet_type,
// the file go-face loads as dlib_face_recognition_resnet_model_v1.dat.
// Every tensor must be used exactly once. The output depends only on the
// inputs.
func convert(manifest, weights []byte) ([]byte, error) {
	w, order, err := decodeWeights(manifest, weights)
	if err != nil {
		return nil, err
	}
	b := &builder{w: w, k: 3}
	if err := b.conv("conv32_down", 32, 7, 2); err != nil {
		return nil, err
	}
	if err := b.affine("conv32_down"); err != nil {
		return nil, err
	}
	b.relu()
	b.pool("max_pool_2", 3, 2)
	for _, s := range []struct {
		n     int
		down  bool
		names []string
	}{
		{32, false, []string{"conv32_1", "conv32_2", "conv32_3"}},
		{64, true, []string{"conv64_down", "conv64_1", "conv64_2", "conv64_3"}},
		{128, true, []string{"conv128_down", "conv128_1", "conv128_2"}},
		{256, true, []string{"conv256_down", "conv256_1", "conv256_2"}},
		{256, true, []string{"conv256_down_out"}},
	} {
		for i, name := range s.names {
			if i == 0 && s.down {
				err = b.aresDown(name, s.n)
			} else {
				err = b.ares(name, s.n)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	b.pool("avg_pool_2", 0, 1) // avg_pool_everything
	fc, err := b.take("fc", 256, 128)
	if err != nil {
		return nil, err
	}
	{
		var e encoder
		e.string("fc_3")
		e.int(128) // num_outputs
		e.int(256) // num_inputs
		e.tensor(256, 128, 1, 1, fc)
		e.aliasTensor(256, 128, 1, 1) // weights, [in][out] like tfjs
		e.aliasTensor(0, 0, 0, 0)     // biases: none
		e.int(1)                      // bias_mode: FC_NO_BIAS
		e.float64(1)
		e.float64(1)
		e.float64(1)
		e.float64(0)
		e.bool(true) // use_bias
		b.add(addLayer, e.b)
	}
	for _, name := range order {
		if !w[name].used {
			return nil, fmt.Errorf("%w: tensor %s is not part of the network", errFormat, name)
		}
	}
	return b.serialize(), nil
}

// serialize writes the whole network as dlib's serialize(net) does:
// add_loss_layer (version 1) with the loss details, then each wrapper's
// record version from the top layer down to the input, then, from the
// input up, each layer's details and the state add_layer keeps (set up,
// no cached buffers: a cleaned net).
func (b *builder) serialize() []byte {
	var e encoder
	e.int(1) // add_loss_layer
	e.string("loss_metric_2")
	e.float32(lossMargin)
	e.float32(lossDistThresh)
	for i := len(b.layers) - 1; i >= 0; i-- {
		switch {
		case i == 0:
			e.int(3) // add_layer over the input layer
		case b.layers[i].kind == addLayer:
			e.int(2)
		default:
			e.int(1)
		}
	}
	e.string("input_rgb_image_sized")
	e.float32(avgRed)
	e.float32(avgGreen)
	e.float32(avgBlue)
	e.int(chipSize)
	e.int(chipSize)
	for i, l := range b.layers {
		if l.kind != addLayer {
			continue
		}
		e.b = append(e.b, l.details...)
		e.bool(true) // this_layer_setup_called
		e.bool(true) // gradient_input_is_stale
		// add_layer disables the output getters of the layer below an
		// in-place layer.
		e.bool(i+1 < len(b.layers) && b.layers[i+1].inplace) // get_output_and_gradient_input_disabled
		e.emptyTensor()                                      // x_grad
		e.emptyTensor()                                      // cached_output
		e.emptyTensor()                                      // params_grad (grad_final over the input)
		if i == 0 {
			e.int(1) // _sample_expansion_factor
		}
	}
	return e.b
}
