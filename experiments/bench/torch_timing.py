"""Timing shared by the PyTorch twins of the benchmarks (torch_mlp.py,
torch_cnn.py, torch_lstm.py, torch_bert.py): thread settings from the
environment, and the median rate over timed intervals of whole steps."""

import math
import os
import statistics
import sys
import time

import torch


def threads_from_env(script):
    """torch.set_num_threads(OMP_NUM_THREADS); OpenBLAS follows its own
    variable. Returns (threads, the OpenBLAS setting as text)."""
    if "OMP_NUM_THREADS" not in os.environ:
        sys.exit(f"{script}: set OMP_NUM_THREADS (and OPENBLAS_NUM_THREADS); "
                 "see experiments/bench/README.md")
    threads = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(threads)
    return threads, os.environ.get("OPENBLAS_NUM_THREADS", "unset")


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


def median_rate(step, batch, warmup, intervals, interval_s, steps=0):
    """Samples/s of `step` (one training step over `batch` samples): after
    `warmup` steps, `intervals` intervals of `steps` steps (0: about
    interval_s seconds each). Returns (median, all rates, steps)."""
    time_steps(step, warmup)
    n = steps if steps > 0 else steps_per_interval(step, interval_s)
    rates = [batch * n / time_steps(step, n) for _ in range(intervals)]
    return statistics.median(rates), rates, n
