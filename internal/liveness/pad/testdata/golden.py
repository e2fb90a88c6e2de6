#!/usr/bin/python3
"""Golden vectors for internal/liveness/pad: the ORIGINAL networks' softmax
on the exact crops the Go package makes. Not run in CI.

  ONEFACE_PAD_DUMP=/tmp/padcrops go test -run TestGolden ./internal/liveness/pad
  /usr/bin/python3 golden.py /tmp/padcrops ../shared/models/antispoof > golden.json

Needs Debian bookworm's python3-torch (1.13) and python3-onnx. The crops
(B, G, R bytes, row-major) come from real dev faces and are never committed;
golden.json keeps only image names, crop SHA-256 and softmax values.

MiniFASNetV2 / MiniFASNetV1SE run from the Silent-Face .pth state dicts
(Apache-2.0) through a functional forward written here from the network's
description in ../shared/models/antispoof/README.md: every width and group
count is read from the weights. fr_liveness has no PyTorch original (only
the ONNX file is published), so its graph is executed op by op with PyTorch
functional ops from the ONNX initializers: an independent implementation of
the same computation, not OpenCV.
"""
import hashlib, json, os, sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)
torch.set_num_threads(1)

PTH = {"MiniFASNetV2": "2.7_80x80_MiniFASNetV2.pth", "MiniFASNetV1SE": "4_0_0_80x80_MiniFASNetV1SE.pth"}
ONNX = {"fr_liveness": "fr_liveness.onnx"}


class MiniFAS:
    """Forward pass of a MiniFASNet state dict (keys without 'module.')."""

    def __init__(self, path):
        sd = torch.load(path, map_location="cpu")
        self.w = {k[len("module."):] if k.startswith("module.") else k: v.float() for k, v in sd.items()}

    def bn(self, x, p):
        w = self.w
        return F.batch_norm(x, w[p + ".running_mean"], w[p + ".running_var"], w[p + ".weight"], w[p + ".bias"], False, 0.0, 1e-5)

    def conv(self, x, p, stride, pad):
        k = self.w[p + ".weight"]
        return F.conv2d(x, k, None, stride, pad, 1, x.shape[1] // k.shape[1])

    def block(self, x, p, stride, pad, act=True):
        x = self.bn(self.conv(x, p + ".conv", stride, pad), p + ".bn")
        return F.prelu(x, self.w[p + ".prelu.weight"]) if act else x

    def se(self, x, p):
        y = F.adaptive_avg_pool2d(x, 1)
        y = F.relu(self.bn(F.conv2d(y, self.w[p + ".fc1.weight"]), p + ".bn1"))
        y = torch.sigmoid(self.bn(F.conv2d(y, self.w[p + ".fc2.weight"]), p + ".bn2"))
        return x * y

    def depthwise(self, x, p, stride, residual):
        y = self.block(x, p + ".conv", 1, 0)
        y = self.block(y, p + ".conv_dw", stride, 1)
        y = self.block(y, p + ".project", 1, 0, act=False)
        if not residual:
            return y
        if p + ".se_module.fc1.weight" in self.w:
            y = self.se(y, p + ".se_module")
        return x + y

    def stage(self, x, p):
        i = 0
        while f"{p}.model.{i}.conv.conv.weight" in self.w:
            x = self.depthwise(x, f"{p}.model.{i}", 1, True)
            i += 1
        return x

    def __call__(self, x):
        x = self.block(x, "conv1", 2, 1)
        x = self.block(x, "conv2_dw", 1, 1)
        x = self.depthwise(x, "conv_23", 2, False)
        x = self.stage(x, "conv_3")
        x = self.depthwise(x, "conv_34", 2, False)
        x = self.stage(x, "conv_4")
        x = self.depthwise(x, "conv_45", 2, False)
        x = self.stage(x, "conv_5")
        x = self.block(x, "conv_6_sep", 1, 0)
        x = self.block(x, "conv_6_dw", 1, 0, act=False)
        x = x.reshape(x.shape[0], -1)
        x = F.linear(x, self.w["linear.weight"])
        x = F.batch_norm(x, self.w["bn.running_mean"], self.w["bn.running_var"], self.w["bn.weight"], self.w["bn.bias"], False, 0.0, 1e-5)
        return F.linear(x, self.w["prob.weight"])


class OnnxTorch:
    """Executes an ONNX graph with PyTorch functional ops (the ops the
    fr_liveness graph uses; anything else is an error)."""

    def __init__(self, path):
        import onnx
        from onnx import numpy_helper
        self.onnx = onnx
        self.m = onnx.load(path)
        self.init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in self.m.graph.initializer}

    def attrs(self, n):
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in n.attribute}

    def __call__(self, x):
        from onnx import numpy_helper
        v = dict(self.init)
        v[self.m.graph.input[0].name] = x
        for n in self.m.graph.node:
            a, i = self.attrs(n), [v[k] if k else None for k in n.input]
            t = n.op_type
            if t == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                assert p[0] == p[2] and p[1] == p[3], p
                y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, a.get("strides", 1), (p[0], p[1]), a.get("dilations", 1), a.get("group", 1))
            elif t == "PRelu":
                s = i[1].reshape(-1)
                y = F.prelu(i[0], s) if i[0].dim() > 1 else torch.where(i[0] >= 0, i[0], i[0] * s)
            elif t == "Relu":
                y = F.relu(i[0])
            elif t == "Sigmoid":
                y = torch.sigmoid(i[0])
            elif t == "Add":
                y = i[0] + i[1]
            elif t == "Mul":
                y = i[0] * i[1]
            elif t == "GlobalAveragePool":
                y = F.adaptive_avg_pool2d(i[0], 1)
            elif t == "MatMul":
                y = i[0] @ i[1]
            elif t == "BatchNormalization":
                y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5))
            elif t == "Shape":
                y = torch.tensor(list(i[0].shape), dtype=torch.int64)
            elif t == "Constant":
                y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
            elif t == "Gather":
                y = torch.index_select(i[0], a.get("axis", 0), i[1].reshape(-1)).reshape(i[1].shape)
            elif t == "Unsqueeze":
                y = i[0].unsqueeze(a["axes"][0])
            elif t == "Concat":
                y = torch.cat([k.reshape(-1) if k.dim() == 0 else k for k in i], a["axis"])
            elif t == "Reshape":
                y = i[0].reshape([int(k) for k in i[1]])
            else:
                raise SystemExit(f"golden.py: op {t} not implemented")
            v[n.output[0]] = y
        return v[self.m.graph.output[0].name]


def main():
    crops, models = sys.argv[1], sys.argv[2]
    nets = {k: MiniFAS(os.path.join(models, f)) for k, f in PTH.items()}
    nets.update({k: OnnxTorch(os.path.join(models, f)) for k, f in ONNX.items()})
    out = []
    for e in json.load(open(os.path.join(crops, "crops.json"))):
        raw = open(os.path.join(crops, e["File"]), "rb").read()
        assert hashlib.sha256(raw).hexdigest() == e["SHA256"], e["File"]
        s = e["Size"]
        bgr = np.frombuffer(raw, np.uint8).reshape(s, s, 3).astype(np.float32)
        x = torch.from_numpy(bgr.transpose(2, 0, 1).copy()).unsqueeze(0)  # 1×3×S×S, BGR, 0..255
        p = F.softmax(nets[e["Model"]](x).double(), dim=1)[0]
        out.append({"image": e["Image"], "model": e["Model"], "widen": e["Widen"], "crop_sha256": e["SHA256"],
                    "softmax": [round(float(q), 9) for q in p]})
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
