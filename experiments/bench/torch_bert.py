"""PyTorch reference for `dtrain bench` on experiments/bert/bert-tiny.yaml.

BERT-tiny for masked language modelling written with torch.nn as Hugging
Face's BertForMaskedLM computes it: token + position + token-type
embeddings, layer norm, dropout; 4 post-norm layers of self-attention
(separate query/key/value projections, an additive padding mask, dropout on
the probabilities, dense output) and a GELU feed-forward (1024); the MLM
transform (dense, GELU, layer norm) and a decoder tied to the token
embedding, logits at every position; cross-entropy over the masked
positions only (ignore_index). AdamW (lr 5e-4, weight decay 0.01). Vocab
8000, hidden 256, 4 heads, sequences of 128, dropout 0.1: the same layers,
sizes and parameter count (5,413,440) as the dtrain config.

One fixed synthetic batch (ids above the special ones, about 15% of the
positions targets); whole training steps timed as in torch_mlp.py: warm-up
steps, then several intervals of N steps, the median rate reported.

Threads: torch.set_num_threads(OMP_NUM_THREADS); OpenBLAS follows
OPENBLAS_NUM_THREADS (bench_bert.sh tries several combinations).

The last line printed is
    result: samples_per_s=S tokens_per_s=R steps=N threads=T blas_threads=K batch=B
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

V, T, H, HEADS, FF, LAYERS, P = 8000, 128, 256, 4, 1024, 4, 512


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.dense = nn.Linear(H, H)
        self.drop = nn.Dropout(0.1)

    def heads(self, x):
        b = x.shape[0]
        return x.view(b, T, HEADS, H // HEADS).transpose(1, 2)

    def forward(self, x, mask):
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(H // HEADS) + mask
        ctx = self.drop(s.softmax(-1)) @ v
        return self.dense(ctx.transpose(1, 2).reshape(x.shape[0], T, H))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = SelfAttention()
        self.ln1, self.ln2 = nn.LayerNorm(H, eps=1e-12), nn.LayerNorm(H, eps=1e-12)
        self.inter, self.out = nn.Linear(H, FF), nn.Linear(FF, H)
        self.drop1, self.drop2 = nn.Dropout(0.1), nn.Dropout(0.1)

    def forward(self, x, mask):
        x = self.ln1(x + self.drop1(self.attn(x, mask)))
        return self.ln2(x + self.drop2(self.out(F.gelu(self.inter(x)))))


class BertMLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos, self.seg = nn.Embedding(V, H), nn.Embedding(P, H), nn.Embedding(2, H)
        self.ln, self.drop = nn.LayerNorm(H, eps=1e-12), nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.transform, self.tln = nn.Linear(H, H), nn.LayerNorm(H, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(V))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0.0, 0.02)

    def forward(self, ids, segments):
        pad = (ids == 0)[:, None, None, :].float() * -10000.0  # HF's extended mask
        x = self.tok(ids) + self.pos.weight[:T] + self.seg(segments)
        x = self.drop(self.ln(x))
        for layer in self.layers:
            x = layer(x, pad)
        x = self.tln(F.gelu(self.transform(x)))
        return F.linear(x, self.tok.weight, self.bias)


def time_steps(step, n):
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--intervals", type=int, default=5)
    p.add_argument("--interval-s", type=float, default=1.0)
    args = p.parse_args(argv)
    if "OMP_NUM_THREADS" not in os.environ:
        sys.exit("torch_bert.py: set OMP_NUM_THREADS (and OPENBLAS_NUM_THREADS)")
    threads = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    model = BertMLM()
    assert sum(q.numel() for q in model.parameters()) == 5413440
    decay = [q for n, q in model.named_parameters() if q.ndim > 1]
    rest = [q for n, q in model.named_parameters() if q.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": rest, "weight_decay": 0.0}], lr=5e-4)
    ids = torch.randint(5, V, (args.batch, T))
    segments = torch.zeros(args.batch, T, dtype=torch.long)
    segments[:, T // 2:] = 1
    labels = torch.where(torch.rand(args.batch, T) < 0.15, ids, torch.full_like(ids, -100))

    def step():
        opt.zero_grad()
        logits = model(ids, segments)
        F.cross_entropy(logits.view(-1, V), labels.view(-1), ignore_index=-100).backward()
        opt.step()

    model.train()
    time_steps(step, args.warmup)
    per_step = time_steps(step, 1)
    n = max(2, int(args.interval_s / per_step) + 1)
    rates = [args.batch * n / time_steps(step, n) for _ in range(args.intervals)]
    med = statistics.median(rates)
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"torch {torch.__version__} BERT-tiny MLM batch {args.batch}x{T}: {threads} OpenMP "
          f"thread(s), OPENBLAS_NUM_THREADS={blas}: {med * T:.0f} tokens/s median of "
          f"{len(rates)} intervals of {n} steps (min {min(rates) * T:.0f}, "
          f"max {max(rates) * T:.0f})")
    print(f"result: samples_per_s={med:.2f} tokens_per_s={med * T:.1f} steps={n} "
          f"threads={threads} blas_threads={blas} batch={args.batch}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
