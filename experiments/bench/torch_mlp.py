"""PyTorch reference for `dtrain bench` on experiments/bench/mlp.yaml.

Trains the MLP 784-512-256-10 (ReLU, cross-entropy, nn.Linear's default
initialisation) on one fixed synthetic batch: uniform inputs in [0, 1) and
random class labels. It times whole training steps (zero_grad, forward, loss,
backward, optimizer step) the way `dtrain bench` does: a few warm-up steps,
then several timed intervals of N steps each, reporting the median rate.
N is chosen so that an interval lasts at least --interval-s seconds, unless
--steps gives it.

Threads: the script calls torch.set_num_threads(OMP_NUM_THREADS) and leaves
OpenBLAS to OPENBLAS_NUM_THREADS; bench.sh tries several combinations, because
on few cores the two pools can get in each other's way (see README.md).

Run with Debian's /usr/bin/python3 (python3-torch). The last line printed is
    result: samples_per_s=S steps=N threads=T blas_threads=K batch=B optim=O
"""
import argparse
import os
import sys

import torch
from torch import nn

from torch_timing import median_rate, threads_from_env


def build_model():
    """The benchmark MLP; layer sizes match experiments/bench/mlp.yaml."""
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 256), nn.ReLU(),
        nn.Linear(256, 10),
    )


def build_optimizer(kind, params):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam(params, lr=1e-3)
    raise ValueError(f"unknown optimizer {kind!r} (expected sgd or adam)")


def make_step(model, opt, x, y):
    """Returns a function that runs one whole training step."""
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--optim", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--intervals", type=int, default=5)
    p.add_argument("--steps", type=int, default=0,
                   help="steps per interval (default: from --interval-s)")
    p.add_argument("--interval-s", type=float, default=0.5,
                   help="target length of one timed interval in seconds")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    threads, blas = threads_from_env("torch_mlp.py")
    torch.manual_seed(args.seed)

    model = build_model()
    opt = build_optimizer(args.optim, model.parameters())
    x = torch.rand(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))
    step = make_step(model, opt, x, y)

    med, rates, n = median_rate(step, args.batch, args.warmup, args.intervals, args.interval_s,
                                args.steps)
    print(f"torch {torch.__version__} mlp batch {args.batch} optimizer {args.optim}: "
          f"{threads} OpenMP thread(s), OPENBLAS_NUM_THREADS={blas}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print(f"  {med:.0f} samples/s median of {len(rates)} intervals of {n} steps "
          f"(min {min(rates):.0f}, max {max(rates):.0f}), {1e3 * args.batch / med:.2f} ms/step")
    print(f"result: samples_per_s={med:.1f} steps={n} threads={threads} "
          f"blas_threads={blas} batch={args.batch} optim={args.optim}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
