"""PyTorch on the GPU for the training steps `gpu_bench` (and `dtrain bench`
with runtime.device=cuda) times, on one fixed synthetic batch kept on the
GPU, plain FP32 (no TF32 in matmuls or cuDNN), as dtrain's cuBLAS calls:

  mlp   experiments/bench/mlp.yaml: 784-512-256-10 (ReLU), SGD momentum 0.9
        (lr 0.01) or Adam (lr 0.001)
  cnn   experiments/cnn/mnist-cnn.yaml: two blocks of Conv2d 3x3 (padding 1),
        BatchNorm2d, ReLU, MaxPool2d 2, Dropout 0.25 (32 then 64 channels),
        Linear 3136-256, ReLU, Dropout 0.5, Linear 256-10; Adam (lr 0.002)
  lstm  experiments/mnist-lstm.yaml: nn.LSTM(28, 256, num_layers=2,
        dropout=0.2) over 28 steps, the last hidden state into
        Linear(256, 10); Adam (lr 0.003)

Cross-entropy throughout. Whole steps are timed after warm-up, median of
several intervals; as in dtrain, each step's loss is read back to the host.

The last line printed is
    result: samples_per_s=S batch=B model=M optim=O
"""
import argparse
import statistics
import time

import torch
from torch import nn


class LastStepLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 256, num_layers=2, dropout=0.2, batch_first=True)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        seq, _ = self.lstm(x.view(x.shape[0], 28, 28))
        return self.out(seq[:, -1, :])


def build(name):
    """The model, the shape of one sample and the default optimizer."""
    if name == "mlp":
        return (nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                              nn.Linear(256, 10)), (784,), "sgd")
    if name == "cnn":
        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Dropout(0.25)]
        return (nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(),
                              nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(256, 10)), (1, 28, 28), "adam")
    return LastStepLSTM(), (1, 28, 28), "adam"


def optimizer(name, model_name, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    lr = {"mlp": 0.001, "cnn": 0.002, "lstm": 0.003}[model_name]
    return torch.optim.Adam(params, lr=lr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "cnn", "lstm"], default="mlp")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--optim", choices=["sgd", "adam", "default"], default="default")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--intervals", type=int, default=5)
    a = p.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    torch.manual_seed(1)
    model, shape, default_optim = build(a.model)
    model = model.to(dev).train()
    optim = default_optim if a.optim == "default" else a.optim
    opt = optimizer(optim, a.model, model.parameters())
    x = torch.rand(a.batch, *shape, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(10):
        step()
    torch.cuda.synchronize()
    rates = []
    for _ in range(a.intervals):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step().item()  # dtrain's loss comes back to the host every step too
        torch.cuda.synchronize()
        rates.append(a.batch * a.steps / (time.perf_counter() - t0))
    print(f"result: samples_per_s={statistics.median(rates):.1f} batch={a.batch} "
          f"model={a.model} optim={optim}")


if __name__ == "__main__":
    main()
