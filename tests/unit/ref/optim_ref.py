"""Reference values for tests/unit/test_optim.c, from torch.optim in float64.

Each case starts from the same parameters, applies the same gradient sequence
for STEPS steps with the hyper-parameters listed, and prints the parameters
after every step as C initializers. The inputs are dyadic fractions, exact in
float32, so the C side starts from the same numbers. Run with the system
Python (Debian python3-torch):  /usr/bin/python3 tests/unit/ref/optim_ref.py
"""
import torch

P0 = [0.5, -1.25, 2.0, 0.0625]
GRADS = [
    [0.25, -0.5, 1.5, 0.125],
    [-0.75, 0.375, 1.0, -0.0625],
    [0.5, 0.5, -2.0, 0.25],
    [0.125, -1.0, 0.75, 0.0],
    [-0.25, 0.625, -0.5, 0.5],
]

CASES = [
    ("sgd_plain", torch.optim.SGD, dict(lr=0.1), None),
    ("sgd_momentum_dampening", torch.optim.SGD,
     dict(lr=0.1, momentum=0.9, dampening=0.3), None),
    ("sgd_full_dampening", torch.optim.SGD,
     dict(lr=0.1, momentum=0.9, dampening=1.0), None),
    ("sgd_nesterov_wd", torch.optim.SGD,
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), None),
    ("sgd_weight_decay", torch.optim.SGD, dict(lr=0.1, weight_decay=0.1), None),
    ("sgd_step_schedule", torch.optim.SGD, dict(lr=0.2, momentum=0.5),
     dict(step_size=2, gamma=0.5)),
    ("adam", torch.optim.Adam, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), None),
    ("adam_weight_decay", torch.optim.Adam,
     dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), None),
    ("adamw", torch.optim.AdamW,
     dict(lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05), None),
]


def run(opt_cls, kwargs, step_lr):
    p = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([p], **kwargs)
    sched = torch.optim.lr_scheduler.StepLR(opt, **step_lr) if step_lr else None
    rows = []
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        if sched:
            sched.step()
        rows.append(p.detach().tolist())
    return rows


def main():
    print(f"/* torch {torch.__version__} */")
    for name, cls, kwargs, step_lr in CASES:
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        sched = ", StepLR(" + ", ".join(f"{k}={v}" for k, v in step_lr.items()) + ")" \
            if step_lr else ""
        print(f"/* {name}: torch.optim.{cls.__name__}({args}){sched} */")
        print(f"static const double k_{name}[{len(GRADS)}][{len(P0)}] = {{")
        for row in run(cls, kwargs, step_lr):
            print("    {" + ", ".join(f"{v:.17g}" for v in row) + "},")
        print("};")


if __name__ == "__main__":
    main()
