"""PyTorch reference for `dtrain bench` on experiments/bench/cnn.yaml.

The course's MNIST CNN: two blocks of Conv2d 3x3 (padding 1), BatchNorm2d,
ReLU, MaxPool2d 2 and Dropout 0.25 (32 then 64 channels), then Linear
3136-256, ReLU, Dropout 0.5 and Linear 256-10, trained on one fixed
synthetic batch of (B, 1, 28, 28) uniform inputs with random labels. Timing,
threads and output are those of torch_mlp.py, whose functions it uses:
    result: samples_per_s=S steps=N threads=T blas_threads=K batch=B optim=O
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_mlp import build_optimizer, make_step, parse_args
from torch_timing import median_rate, threads_from_env


def build_model():
    """The benchmark CNN; layer sizes match experiments/bench/cnn.yaml."""
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2), nn.Dropout(0.25)]
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(256, 10))


def main(argv):
    args = parse_args(argv)
    threads, blas = threads_from_env("torch_cnn.py")
    torch.manual_seed(args.seed)

    model = build_model().train()
    opt = build_optimizer(args.optim, model.parameters())
    x = torch.rand(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    step = make_step(model, opt, x, y)

    med, rates, n = median_rate(step, args.batch, args.warmup, args.intervals, args.interval_s,
                                args.steps)
    print(f"torch {torch.__version__} cnn batch {args.batch} optimizer {args.optim}: "
          f"{threads} OpenMP thread(s), OPENBLAS_NUM_THREADS={blas}")
    print(f"  {med:.0f} samples/s median of {len(rates)} intervals of {n} steps "
          f"(min {min(rates):.0f}, max {max(rates):.0f}), {1e3 * args.batch / med:.2f} ms/step")
    print(f"result: samples_per_s={med:.1f} steps={n} threads={threads} "
          f"blas_threads={blas} batch={args.batch} optim={args.optim}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
