"""PyTorch on the GPU for the same training steps as `dtrain bench
experiments/bench/mlp.yaml runtime.device=cuda`: the MLP 784-512-256-10
(ReLU), cross-entropy, SGD with momentum 0.9 (lr 0.01) or Adam (lr 0.001),
on one fixed synthetic batch kept on the GPU. Plain FP32 (no TF32), as
dtrain's cuBLAS calls. Whole steps are timed after warm-up, median of
several intervals; as in dtrain, each step's loss is read back to the host.

The last line printed is
    result: samples_per_s=S batch=B optim=O
"""
import argparse
import statistics
import time

import torch
from torch import nn


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--optim", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--intervals", type=int, default=5)
    a = p.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10)).to(dev)
    if a.optim == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
    x = torch.rand(a.batch, 784, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(20):
        step()
    torch.cuda.synchronize()
    rates = []
    for _ in range(a.intervals):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step().item()  # dtrain's loss comes back to the host every step too
        torch.cuda.synchronize()
        rates.append(a.batch * a.steps / (time.perf_counter() - t0))
    print(f"result: samples_per_s={statistics.median(rates):.1f} batch={a.batch} optim={a.optim}")


if __name__ == "__main__":
    main()
