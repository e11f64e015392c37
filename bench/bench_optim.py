"""Per-step overhead of AM1SGD / AM2SGD relative to torch.optim.SGD(nesterov=True).

A ~1.05M-parameter MLP (512-1024-512-10) gets fixed, precomputed gradients, so only ``optimizer.step()`` is
timed. All optimizers run in the same process, interleaved round-robin (one block of ``--block`` steps each per
round) so that machine load hits them alike; the per-step time is the median over ``--repeats`` rounds.

    python bench/bench_optim.py                   # CPU, loop and foreach paths
    python bench/bench_optim.py --device cuda     # GPU (synchronised timing)
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

from theorycheck.optim import AM1SGD, AM2SGD


def make_model(device, dtype):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 10))
    model = model.to(device=device, dtype=dtype)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    return model


def configs(foreach):
    kw = dict(lr=1e-3, momentum=0.9, foreach=foreach)
    return {
        "SGD(nesterov)": lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, nesterov=True, foreach=foreach),
        "AM1 m=5 I": lambda ps: AM1SGD(ps, m=5, option="I", **kw),
        "AM1 m=5 II": lambda ps: AM1SGD(ps, m=5, option="II", **kw),
        "AM1 m=10 I": lambda ps: AM1SGD(ps, m=10, option="I", **kw),
        "AM1 m=10 II": lambda ps: AM1SGD(ps, m=10, option="II", **kw),
        "AM2 m=5 I": lambda ps: AM2SGD(ps, m=5, option="I", seed=0, **kw),
        "AM2 m=5 II": lambda ps: AM2SGD(ps, m=5, option="II", seed=0, **kw),
    }


def bench(device, dtype, foreach, repeats, block, warmup):
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    runs = {}
    for name, make in configs(foreach).items():
        model = make_model(device, dtype)
        runs[name] = (model, make(list(model.parameters())))
    nparams = sum(p.numel() for p in next(iter(runs.values()))[0].parameters())
    for _, opt in runs.values():
        for _ in range(warmup):
            opt.step()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (_, opt) in runs.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(block):
                opt.step()
            sync()
            times[name].append((time.perf_counter() - t0) / block)
    med = {name: statistics.median(v) for name, v in times.items()}
    base = med["SGD(nesterov)"]
    print(f"\ndevice={device} dtype={dtype} foreach={foreach} params={nparams:,} "
          f"repeats={repeats} block={block} threads={torch.get_num_threads()}")
    print(f"{'optimizer':<16}{'median us/step':>16}{'ratio vs SGD':>14}")
    for name, t in med.items():
        print(f"{name:<16}{t * 1e6:>16.1f}{t / base:>14.3f}")
    return med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--foreach", default="both", choices=["both", "loop", "foreach"])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--block", type=int, default=10, help="steps per timed block (a multiple of m keeps AM1 fair)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads (0: leave as is; 1 is far more stable on a loaded machine)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    paths = {"both": [False, True], "loop": [False], "foreach": [True]}[a.foreach]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} logical CPUs, load average at start {load[0]:.2f}")
    for fe in paths:
        bench(a.device, dtype, fe, a.repeats, a.block, a.warmup)
    if hasattr(os, "getloadavg"):
        print(f"load average at end {os.getloadavg()[0]:.2f} (other processes share the cores: timings above "
              f"are only comparable within one run)")


if __name__ == "__main__":
    main()
