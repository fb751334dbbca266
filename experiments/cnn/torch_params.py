#!/usr/bin/python3
"""Check `dtrain info` against PyTorch: build each config's network from
torch.nn modules (Conv2d, BatchNorm2d, ... one module per dtrain layer, wired
by the same `inputs`), run a batch of zeros through it and compare, layer by
layer, the output shape and the number of parameters with the table that
`dtrain info` prints, then the totals. Exit status 1 on any difference.

  /usr/bin/python3 experiments/cnn/torch_params.py build/dtrain experiments/cnn/*.yaml

The counts come from torch's own modules (p.numel() over parameters(), so
batch norm's running statistics are not counted, as in dtrain). LeNet-5 is
also written out by hand below as a second, config-free check."""
import math
import re
import subprocess
import sys

import torch
import torch.nn as nn
import yaml


def pair(v, dflt):
    if v is None:
        v = dflt
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


class Lambda(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, *xs):
        return self.f(*xs)


def module_for(spec, in_shapes):
    """The torch module of one dtrain layer, given its inputs' shapes (no batch)."""
    k = spec["kind"]
    s = in_shapes[0]
    if k == "conv2d":
        return nn.Conv2d(s[0], spec["channels"], pair(spec["kernel"], 1),
                         pair(spec.get("stride"), 1), pair(spec.get("padding"), 0),
                         pair(spec.get("dilation"), 1), spec.get("groups", 1),
                         spec.get("bias", True))
    if k == "conv_transpose2d":
        return nn.ConvTranspose2d(s[0], spec["channels"], pair(spec["kernel"], 1),
                                  pair(spec.get("stride"), 1), pair(spec.get("padding"), 0),
                                  pair(spec.get("output_padding"), 0), spec.get("groups", 1),
                                  spec.get("bias", True), pair(spec.get("dilation"), 1))
    if k == "max_pool2d":
        kern = pair(spec["kernel"], 1)
        return nn.MaxPool2d(kern, pair(spec.get("stride"), kern), pair(spec.get("padding"), 0),
                            ceil_mode=spec.get("ceil_mode", False))
    if k == "avg_pool2d":
        kern = pair(spec["kernel"], 1)
        return nn.AvgPool2d(kern, pair(spec.get("stride"), kern), pair(spec.get("padding"), 0),
                            ceil_mode=spec.get("ceil_mode", False),
                            count_include_pad=spec.get("count_include_pad", True))
    if k == "global_avg_pool":
        return nn.AdaptiveAvgPool2d(1)
    if k == "batch_norm":
        bn = nn.BatchNorm2d if len(s) == 3 else nn.BatchNorm1d
        return bn(s[0], eps=spec.get("eps", 1e-5), momentum=spec.get("momentum", 0.1))
    if k == "layer_norm":
        return nn.LayerNorm(list(s), eps=spec.get("eps", 1e-5),
                            elementwise_affine=spec.get("affine", True))
    if k == "group_norm":
        return nn.GroupNorm(spec["groups"], s[0], affine=spec.get("affine", True))
    if k == "instance_norm":
        return nn.InstanceNorm2d(s[0], affine=spec.get("affine", False))
    if k == "lrn":
        return nn.LocalResponseNorm(spec.get("size", 5), spec.get("alpha", 1e-4),
                                    spec.get("beta", 0.75), spec.get("k", 1.0))
    if k == "upsample":
        mode = spec.get("mode", "nearest")
        extra = {"align_corners": False} if mode == "bilinear" else {}
        if "size" in spec:
            return nn.Upsample(size=pair(spec["size"], 1), mode=mode, **extra)
        return nn.Upsample(scale_factor=pair(spec.get("scale"), 2), mode=mode, **extra)
    if k == "linear":
        return nn.Linear(math.prod(s), spec["units"], bias=spec.get("bias", True))
    simple = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "gelu": nn.GELU(),
              "dropout": nn.Dropout(spec.get("p", 0.5)), "flatten": nn.Flatten(),
              "leaky_relu": nn.LeakyReLU(spec.get("slope", 0.01)), "softmax": nn.Softmax(-1)}
    if k in simple:
        return simple[k]
    if k == "reshape":
        return Lambda(lambda x: x.reshape(x.shape[0], *spec["shape"]))
    if k == "add":
        return Lambda(lambda *xs: sum(xs))
    if k == "concat":
        return Lambda(lambda *xs: torch.cat(xs, 1))
    raise SystemExit(f"no torch module for kind {k}")


def torch_table(cfg):
    """[(name, output shape, parameters)] of the config's network in torch."""
    layers = cfg["model"]["layers"]
    in_shape = tuple(cfg["model"]["input"])
    outs, shapes, rows = {}, {}, []
    x = torch.zeros((2,) + in_shape)
    prev = "input"
    outs["input"], shapes["input"] = x, in_shape
    for i, spec in enumerate(layers):
        name = spec.get("name", f"{spec['kind']}{i + 1}")
        inputs = spec.get("inputs", [prev])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        mod = module_for(spec, [shapes[n] for n in inputs]).eval()
        with torch.no_grad():
            y = mod(*[outs[n] for n in inputs])
        outs[name], shapes[name] = y, tuple(y.shape[1:])
        rows.append((name, shapes[name], sum(p.numel() for p in mod.parameters())))
        prev = name
    return rows


def dtrain_table(dtrain, path):
    text = subprocess.run([dtrain, "info", path], check=True, capture_output=True,
                          text=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\([\d, ]*\))\s+([\d,]+)\s+([\d,]+)$", line)
        if m:
            shape = tuple(int(v) for v in m.group(4).strip("()").split(","))
            rows.append((m.group(1), shape, int(m.group(5).replace(",", ""))))
    total = int(re.search(r"total: ([\d,]+) parameters", text).group(1).replace(",", ""))
    return rows, total


def lenet5_by_hand():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                         nn.Linear(84, 10))


def main():
    dtrain, paths = sys.argv[1], sys.argv[2:]
    bad = 0
    print(f"{'config':42} {'dtrain':>12} {'torch':>12}  layers")
    for path in paths:
        with open(path) as f:
            cfg = yaml.safe_load(f)
        ours, total = dtrain_table(dtrain, path)
        theirs = torch_table(cfg)
        diffs = [(a, b) for a, b in zip(ours, theirs) if a != b]
        if len(ours) != len(theirs):
            diffs.append((f"{len(ours)} layers", f"{len(theirs)} layers"))
        t_total = sum(r[2] for r in theirs)
        ok = not diffs and total == t_total
        bad += not ok
        print(f"{path:42} {total:12,} {t_total:12,}  {len(ours)} {'same' if ok else 'DIFFER'}")
        for a, b in diffs[:5]:
            print(f"    dtrain {a}\n    torch  {b}")
        if path.endswith("lenet5.yaml"):
            hand = sum(p.numel() for p in lenet5_by_hand().parameters())
            print(f"{'  LeNet-5 written by hand in torch':42} {'':12} {hand:12,}")
            bad += hand != total
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
