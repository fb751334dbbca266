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
import math
import os
import statistics
import sys
import time

import torch
from torch import nn


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


def time_steps(step, n):
    """Seconds taken by n consecutive steps."""
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t0


def steps_per_interval(step, target_s):
    """Smallest step count whose run takes about target_s, from a rough probe.

    The probe doubles its step count until it has run for 0.1 s, so a slow
    machine does not spend long here and a fast one still gets a usable
    estimate."""
    n, elapsed = 1, time_steps(step, 1)
    while elapsed < 0.1:
        n *= 2
        elapsed = time_steps(step, n)
    return max(1, math.ceil(target_s * n / elapsed))


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
    if "OMP_NUM_THREADS" not in os.environ:
        sys.exit("torch_mlp.py: set OMP_NUM_THREADS (and OPENBLAS_NUM_THREADS); "
                 "see experiments/bench/README.md")
    threads = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)

    model = build_model()
    opt = build_optimizer(args.optim, model.parameters())
    x = torch.rand(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))
    step = make_step(model, opt, x, y)

    time_steps(step, args.warmup)
    n = args.steps if args.steps > 0 else steps_per_interval(step, args.interval_s)
    rates = [args.batch * n / time_steps(step, n) for _ in range(args.intervals)]
    med = statistics.median(rates)

    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
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
