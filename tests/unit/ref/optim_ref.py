"""Reference values for tests/unit/test_optim.c, in float64.

Each case starts from the same parameters, applies the same gradient sequence
for STEPS steps with the hyper-parameters listed, and prints the parameters
after every step as C initializers. The inputs are dyadic fractions, exact in
float32, so the C side starts from the same numbers.

Most cases run torch.optim. LARS and LAMB are not in torch.optim; they are
computed here from the published update rules (You et al. 2017, 2019) with
plain Python floats, one trust ratio per parameter tensor. Cases with
parameter groups split the four numbers into two tensors, [0:2] (a weight)
and [2:4] (marked no_decay, like a bias). Run with the system Python
(Debian python3-torch):  /usr/bin/python3 tests/unit/ref/optim_ref.py
"""
import math

import torch

P0 = [0.5, -1.25, 2.0, 0.0625]
GRADS = [
    [0.25, -0.5, 1.5, 0.125],
    [-0.75, 0.375, 1.0, -0.0625],
    [0.5, 0.5, -2.0, 0.25],
    [0.125, -1.0, 0.75, 0.0],
    [-0.25, 0.625, -0.5, 0.5],
]
O = torch.optim

CASES = [
    ("sgd_plain", O.SGD, dict(lr=0.1), None),
    ("sgd_momentum_dampening", O.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3), None),
    ("sgd_full_dampening", O.SGD, dict(lr=0.1, momentum=0.9, dampening=1.0), None),
    ("sgd_nesterov_wd", O.SGD,
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), None),
    ("sgd_weight_decay", O.SGD, dict(lr=0.1, weight_decay=0.1), None),
    ("sgd_step_schedule", O.SGD, dict(lr=0.2, momentum=0.5), dict(step_size=2, gamma=0.5)),
    ("adam", O.Adam, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), None),
    ("adam_weight_decay", O.Adam,
     dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), None),
    ("adamw", O.AdamW, dict(lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05), None),
    ("adam_amsgrad", O.Adam, dict(lr=0.05, betas=(0.5, 0.9), eps=1e-8, amsgrad=True), None),
    ("adamw_amsgrad", O.AdamW,
     dict(lr=0.05, betas=(0.5, 0.9), eps=1e-8, weight_decay=0.1, amsgrad=True), None),
    ("adagrad", O.Adagrad, dict(lr=0.1), None),
    ("adagrad_decay_init", O.Adagrad,
     dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.01,
          eps=1e-10), None),
    ("adadelta", O.Adadelta, dict(lr=1.0, rho=0.9, eps=1e-6), None),
    ("adadelta_wd", O.Adadelta, dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1), None),
    ("rmsprop", O.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8), None),
    ("rmsprop_momentum", O.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-8, momentum=0.8), None),
    ("rmsprop_centered_all", O.RMSprop,
     dict(lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.5, weight_decay=0.05), None),
]

# Parameter groups: weight decay on [0:2] only (optim.no_decay_bias_norm).
GROUP_CASES = [
    ("sgd_groups", O.SGD, dict(lr=0.1, momentum=0.9), dict(weight_decay=0.2)),
    ("adamw_groups", O.AdamW, dict(lr=0.05, betas=(0.9, 0.99), eps=1e-8),
     dict(weight_decay=0.5)),
]


def run(opt_cls, kwargs, step_lr):
    p = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([p], **kwargs)
    sched = O.lr_scheduler.StepLR(opt, **step_lr) if step_lr else None
    rows = []
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        if sched:
            sched.step()
        rows.append(p.detach().tolist())
    return rows


def run_groups(opt_cls, kwargs, wd):
    a = torch.tensor(P0[:2], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(P0[2:], dtype=torch.float64, requires_grad=True)
    opt = opt_cls([dict(params=[a], **wd), dict(params=[b], weight_decay=0.0)], **kwargs)
    rows = []
    for g in GRADS:
        a.grad = torch.tensor(g[:2], dtype=torch.float64)
        b.grad = torch.tensor(g[2:], dtype=torch.float64)
        opt.step()
        rows.append(a.detach().tolist() + b.detach().tolist())
    return rows


def norm(x):
    return math.sqrt(sum(v * v for v in x))


def lars(lr, mu, wd, eta, eps, tensors, exclude):
    """You et al. 2017: r = eta |p| / (|g| + wd |p| + eps) per tensor, then SGD
    with momentum on r (g + wd p). An excluded tensor gets r = 1 and wd = 0."""
    p = list(P0)
    buf = [0.0] * len(p)
    rows = []
    for g in GRADS:
        for t, (lo, hi) in enumerate(tensors):
            w = 0.0 if t in exclude else wd
            pn, gn = norm(p[lo:hi]), norm(g[lo:hi])
            r = 1.0 if t in exclude or pn == 0 or gn == 0 else eta * pn / (gn + w * pn + eps)
            for i in range(lo, hi):
                buf[i] = mu * buf[i] + r * (g[i] + w * p[i])
                p[i] -= lr * buf[i]
        rows.append(list(p))
    return rows


def lamb(lr, b1, b2, eps, wd, tensors, exclude):
    """You et al. 2019 (with bias correction): u = m_hat / (sqrt(v_hat) + eps)
    + wd p; p -= lr |p| / |u| u per tensor; excluded: ratio 1, wd 0."""
    p = list(P0)
    m = [0.0] * len(p)
    v = [0.0] * len(p)
    rows = []
    for step, g in enumerate(GRADS, start=1):
        for t, (lo, hi) in enumerate(tensors):
            w = 0.0 if t in exclude else wd
            u = []
            for i in range(lo, hi):
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                mh, vh = m[i] / (1 - b1 ** step), v[i] / (1 - b2 ** step)
                u.append(mh / (math.sqrt(vh) + eps) + w * p[i])
            pn, un = norm(p[lo:hi]), norm(u)
            r = 1.0 if t in exclude or pn == 0 or un == 0 else pn / un
            for k, i in enumerate(range(lo, hi)):
                p[i] -= lr * r * u[k]
        rows.append(list(p))
    return rows


WHOLE = [(0, 4)]
SPLIT = [(0, 2), (2, 4)]
RULE_CASES = [
    ("lars", "lars(lr=0.5, momentum=0.9, wd=0.01, eta=0.02, eps=1e-9), one tensor",
     lambda: lars(0.5, 0.9, 0.01, 0.02, 1e-9, WHOLE, ())),
    ("lars_groups", "lars(lr=0.5, momentum=0.9, wd=0.01, eta=0.02), tensors [0:2] [2:4], "
     "[2:4] excluded", lambda: lars(0.5, 0.9, 0.01, 0.02, 1e-9, SPLIT, (1,))),
    ("lamb", "lamb(lr=0.01, betas=(0.9, 0.999), eps=1e-6, wd=0.01), one tensor",
     lambda: lamb(0.01, 0.9, 0.999, 1e-6, 0.01, WHOLE, ())),
    ("lamb_groups", "lamb(lr=0.02, betas=(0.8, 0.99), eps=1e-6, wd=0.1), tensors [0:2] "
     "[2:4], [2:4] excluded", lambda: lamb(0.02, 0.8, 0.99, 1e-6, 0.1, SPLIT, (1,))),
]


def emit(name, what, rows):
    print(f"/* {name}: {what} */")
    print(f"static const double k_{name}[{len(GRADS)}][{len(P0)}] = {{")
    for row in rows:
        print("    {" + ", ".join(f"{v:.17g}" for v in row) + "},")
    print("};")


def main():
    print(f"/* torch {torch.__version__} */")
    for name, cls, kwargs, step_lr in CASES:
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        sched = ", StepLR(" + ", ".join(f"{k}={v}" for k, v in step_lr.items()) + ")" \
            if step_lr else ""
        emit(name, f"torch.optim.{cls.__name__}({args}){sched}", run(cls, kwargs, step_lr))
    for name, cls, kwargs, wd in GROUP_CASES:
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        emit(name, f"torch.optim.{cls.__name__}({args}), groups [0:2] {wd}, [2:4] no decay",
             run_groups(cls, kwargs, wd))
    for name, what, fn in RULE_CASES:
        emit(name, what, fn())


if __name__ == "__main__":
    main()
