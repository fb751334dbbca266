"""The reference side of tests/e2e/transformer.sh, in PyTorch.

  transformer_torch.py data DIR              small token shard sets DIR/mlm
                                              (packed pairs, 30% masked) and
                                              DIR/lm (next-token targets, some
                                              padding); exits 77 without torch
                                              or h5py
  transformer_torch.py check DIR CKPT...      for each kind, the test loss, token
                                              accuracy and parameter count of
                                              transformer.sh's model, computed
                                              with torch.nn from its checkpoint

The model is the config's BERT (mlm: post-norm, padding mask, segments) or
GPT-like layer (lm: causal and padding masks), one encoder layer, with the
head tied to the token embedding. Attention is torch.nn.MultiheadAttention
with dtrain's query/key/value weights stacked as its in_proj_weight.
"""
import json
import os
import sys
import zlib

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print("skipped: %s" % e)
    sys.exit(77)

T, V, C, HEADS, FF = 16, 40, 16, 2, 32
PAD, CLS, SEP, MASK = 0, 2, 3, 4


def mlm_rows(rng, n):
    x = np.zeros((n, T), np.float32)
    y = -np.ones((n, T), np.float32)
    for i in range(n):
        la, lb = rng.integers(1, 6), rng.integers(1, 6)
        seq = [CLS] + list(rng.integers(5, V, la)) + [SEP] + list(rng.integers(5, V, lb)) + [SEP]
        seq = np.array(seq + [PAD] * (T - len(seq)), np.float32)
        for t in range(len(seq)):
            if seq[t] >= 5 and rng.random() < 0.3:
                y[i, t] = seq[t]
                seq[t] = MASK
        x[i] = seq
    return x, y


def lm_rows(rng, n):
    x = np.zeros((n, T), np.float32)
    y = -np.ones((n, T), np.float32)
    for i in range(n):
        length = rng.integers(T // 2, T + 1)
        seq = rng.integers(5, V, length + 1)
        x[i, :length] = seq[:length]
        y[i, :length] = seq[1:]
    return x, y


def write_data(out, kind):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    splits = {}
    for split, n in (("train", 64), ("test", 40)):
        x, y = (mlm_rows if kind == "mlm" else lm_rows)(rng, n)
        name = split + "-00000.h5"
        with h5py.File(os.path.join(out, name), "w") as f:
            f.create_dataset("x", data=x)
            f.create_dataset("y", data=y.astype(np.int32))  # token labels are int32
        raw = open(os.path.join(out, name), "rb").read()
        crc = "%08x" % (zlib.crc32(raw) & 0xffffffff)
        shard = {"file": name, "count": n, "bytes": len(raw), "crc32": crc}
        splits[split] = {"count": n, "shards": [shard]}
    manifest = {"format": "dtrain-shardset", "version": 1, "name": "tokens-" + kind,
                "source": "transformer_torch.py", "splits": splits,
                "x": {"shape": [T], "dtype": "float32", "scale": 1.0},
                "label": {"kind": "tokens", "num_classes": V, "dim": T}}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def layer_norm(x, p, name):
    return F.layer_norm(x, (C,), p[name + "/weight"], p[name + "/bias"], 1e-5)


def attention(x, p, lengths, causal):
    mha = torch.nn.MultiheadAttention(C, HEADS, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([p["attn/query.weight"], p["attn/key.weight"],
                                            p["attn/value.weight"]]))
        mha.in_proj_bias.copy_(torch.cat([p["attn/query.bias"], p["attn/key.bias"],
                                          p["attn/value.bias"]]))
        mha.out_proj.weight.copy_(p["attn/output.weight"])
        mha.out_proj.bias.copy_(p["attn/output.bias"])
    mha.eval()
    steps = torch.arange(T)
    pad = steps[None, :] >= lengths[:, None]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
    out, _ = mha(x, x, x, key_padding_mask=pad, attn_mask=mask, need_weights=False)
    n_params = sum(q.numel() for q in mha.parameters())
    return out, n_params


def check(ckpt, data, kind):
    with h5py.File(ckpt, "r") as f:
        p = {}
        f["params"].visititems(lambda k, v: p.__setitem__(k, torch.tensor(v[()]))
                               if isinstance(v, h5py.Dataset) else None)
    assert "head/weight" not in p, "the tied weight is saved twice"
    with h5py.File(os.path.join(data, "test-00000.h5"), "r") as f:
        ids = torch.tensor(f["x"][()]).long()
        labels = torch.tensor(f["y"][()]).long()
    lengths = torch.tensor([int((r == PAD).nonzero()[0]) if (r == PAD).any() else T for r in ids])

    x = F.embedding(ids, p["tok/weight"]) + p["pos/weight"][:T]
    if kind == "mlm":
        is_sep = (ids == SEP).long()
        seg = ((torch.cumsum(is_sep, 1) - is_sep) > 0).long()
        x = x + F.embedding(seg, p["seg/weight"])
    x = layer_norm(x, p, "emb_ln")
    a, attn_params = attention(x, p, lengths, kind == "lm")
    h = layer_norm(a + x, p, "ln1")
    f = F.linear(F.gelu(F.linear(h, p["fc1/weight"], p["fc1/bias"])), p["fc2/weight"],
                 p["fc2/bias"])
    h = layer_norm(f + h, p, "ln2")
    logits = F.linear(h, p["tok/weight"], p["head/bias"])

    flat, lab = logits.reshape(-1, V), labels.reshape(-1)
    loss = F.cross_entropy(flat, lab, ignore_index=-1, reduction="sum")
    keep = lab >= 0
    targets = int(keep.sum())
    correct = int((flat.argmax(1)[keep] == lab[keep]).sum())
    # Parameters as torch.nn modules count them: the tied table once.
    n = sum(v.numel() for k, v in p.items() if not k.startswith("attn/")) + attn_params
    print("%s torch: loss=%.8g accuracy=%.8g targets=%d params=%d"
          % (kind, float(loss) / targets, correct / targets, targets, n))


if __name__ == "__main__":
    torch.set_num_threads(1)
    with torch.no_grad():
        if sys.argv[1] == "data":
            for kind in ("mlm", "lm"):
                write_data(os.path.join(sys.argv[2], kind), kind)
        else:
            for kind, ckpt in zip(("mlm", "lm"), sys.argv[3:]):
                check(ckpt, os.path.join(sys.argv[2], kind), kind)
