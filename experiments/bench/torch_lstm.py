"""PyTorch reference for `dtrain bench` on experiments/bench/lstm.yaml.

The course LSTM: nn.LSTM(28, 256, num_layers=2, batch_first=True) over 28
steps of 28 features, its last hidden state into nn.Linear(256, 10),
cross-entropy, Adam (lr 1e-3). One fixed synthetic batch (uniform inputs,
random labels); whole training steps timed as in torch_mlp.py: warm-up
steps, then several intervals of N steps, the median rate reported.

Threads: torch.set_num_threads(OMP_NUM_THREADS); OpenBLAS follows
OPENBLAS_NUM_THREADS (bench_lstm.sh tries several combinations).

The last line printed is
    result: samples_per_s=S steps=N threads=T blas_threads=K batch=B
"""
import argparse
import sys

import torch
from torch import nn

from torch_timing import median_rate, threads_from_env


class CourseLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 256, num_layers=2, batch_first=True)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        seq, _ = self.lstm(x)
        return self.out(seq[:, -1, :])


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--intervals", type=int, default=5)
    p.add_argument("--interval-s", type=float, default=1.0)
    args = p.parse_args(argv)
    threads, blas = threads_from_env("torch_lstm.py")
    torch.manual_seed(1)

    model = CourseLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(args.batch, 28, 28)
    y = torch.randint(0, 10, (args.batch,))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    med, rates, n = median_rate(step, args.batch, args.warmup, args.intervals, args.interval_s)
    print(f"torch {torch.__version__} course LSTM batch {args.batch}: {threads} OpenMP "
          f"thread(s), OPENBLAS_NUM_THREADS={blas}: {med:.0f} samples/s median of "
          f"{len(rates)} intervals of {n} steps (min {min(rates):.0f}, max {max(rates):.0f})")
    print(f"result: samples_per_s={med:.1f} steps={n} threads={threads} "
          f"blas_threads={blas} batch={args.batch}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
