"""Drive R replicas of an algorithm for K steps: problem → oracle → algorithm → run → results table.

The metric is F(output) − F_ref, always evaluated in float64 whatever the iterate dtype (float32 runs have a
precision floor of roughly 1e-7 · |F| in the error). Replicas whose state or error becomes non-finite are
flagged as diverged (error recorded as +inf, never averaged as NaN); the others keep running untouched because
every operation is row-wise.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import rng

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device) -> torch.device:
    dev = torch.device(device if device is not None else "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA device is available (allowed: cpu, cuda)")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        return DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def default_checkpoints(K: int, stride: int = 1, n: int = 20) -> list[int]:
    """About n log-spaced iteration counts in [stride, K], multiples of stride, always including K."""
    pts = np.unique(np.round(np.logspace(0, math.log10(max(K, 1)), n)).astype(int))
    pts = {int(stride * max(1, round(p / stride))) for p in pts}
    return sorted(p for p in pts | {K} if stride <= p <= K)


@dataclass
class RunResult:
    table: pd.DataFrame  # one row per replica × checkpoint × option
    errors: dict  # option -> (n_checkpoints, R) float64 numpy array of F(output) − F_ref (inf if diverged)
    checkpoints: list
    seeds: np.ndarray
    diverged: np.ndarray  # (R,) bool
    state: dict = field(repr=False, default=None)
    monitor: object = None

    def final(self, option: str) -> np.ndarray:
        return self.errors[option][-1]


def run(problem, oracle, algorithm, K: int, seeds, *, options=None, checkpoints=None, dtype=torch.float64,
        device=None, progress: bool | None = None, config: dict | None = None, monitor=None) -> RunResult:
    """Run ``algorithm`` on ``problem`` with ``oracle`` for K steps, one replica per seed.

    options: output options to record (default: the algorithm's default). checkpoints: iteration counts at
    which outputs are evaluated (default: log-spaced multiples of the algorithm's stride, plus K).
    monitor: optional callable ``monitor(algorithm, state, x, g, k)`` invoked before each step (used by the
    pathwise Lemma 1 certificate). config: extra constant columns for the table. progress: a tqdm bar over the
    K steps on stderr; None (default) shows it only when stderr is a TTY, False never, True always.
    """
    dev = resolve_device(device if device is not None else problem.device)
    dtype = resolve_dtype(dtype)
    if problem.device != dev:
        raise ValueError(f"problem is on {problem.device} but the run asks for {dev}: call problem.to({str(dev)!r})")
    seeds_t = rng.as_seeds(seeds, dev)
    R = seeds_t.shape[0]
    if R < 1:
        raise ValueError("seeds must hold at least one seed")
    options = tuple(options) if options is not None else (algorithm.default_option,)
    for o in options:
        algorithm.check_option(o)
    x0 = problem.x0.to(dev, dtype)[None, :].repeat(R, 1)
    algorithm.check_run(x0, seeds_t, K)
    cps = default_checkpoints(K, algorithm.stride) if checkpoints is None else sorted(set(int(c) for c in checkpoints))
    bad = [c for c in cps if c < 0 or c > K or c % algorithm.stride]
    if bad:
        raise ValueError(f"checkpoints must lie in [0, K={K}] and be multiples of {algorithm.stride}, got {bad}")

    state = algorithm.init(x0, seeds_t)
    errs = {o: torch.empty((len(cps), R), dtype=torch.float64, device=dev) for o in options}  # on the device
    diverged = torch.zeros(R, dtype=torch.bool, device=dev)
    ci = 0

    def record(k):
        nonlocal diverged, ci
        for o in options:
            e = problem.error(algorithm.output(state, o, k))
            diverged = diverged | ~torch.isfinite(e)
            errs[o][ci] = torch.where(diverged, torch.full_like(e, math.inf), e)  # no host sync in the loop
        ci += 1

    if cps and cps[0] == 0:
        record(0)
    with progress_bar(K, f"{algorithm.name} R={R}", progress, unit="step") as bar:
        for k in range(K):
            x = algorithm.query(state, k)
            g = oracle(x, seeds_t, k)
            if monitor is not None:
                monitor(algorithm, state, x, g, k)
            state = algorithm.step(state, g, k)
            if ci < len(cps) and k + 1 == cps[ci]:
                record(k + 1)
            bar.update()

    errs = {o: E.cpu().numpy() for o, E in errs.items()}
    seeds_np = seeds_t.cpu().numpy()
    div_np = diverged.cpu().numpy()
    table = _tidy(errs, cps, seeds_np, {**problem_columns(problem, oracle, algorithm, K, dtype, dev),
                                                 **(config or {})})
    return RunResult(table, errs, cps, seeds_np, div_np, state, monitor)


def problem_columns(problem, oracle, algorithm, K, dtype, dev) -> dict:
    d = algorithm.describe()
    return {"problem": problem.name, "algorithm": d["algorithm"], "m": d.get("m", 1), "schedule": d["schedule"],
            "noise": oracle.describe()["noise"], "sigma": oracle.sigma, "K": K,
            "dtype": str(dtype).replace("torch.", ""), "device": dev.type}


def progress_bar(total, desc: str, progress: bool | None = None, **kw):
    """A tqdm bar on stderr over ``total`` units: shown when ``progress`` is True, or when it is None and stderr
    is a TTY (never in CI logs or pipes); ``progress=False`` disables it. Extra keywords go to tqdm."""
    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not show or not total, file=sys.stderr, mininterval=0.2,
                dynamic_ncols=True, **kw)


def _tidy(errs, cps, seeds, const) -> pd.DataFrame:
    R, C = len(seeds), len(cps)
    parts = []
    for o, E in errs.items():
        cols = {k: np.full(R * C, v, dtype=object if isinstance(v, str) else None) for k, v in const.items()}
        cols.update({"option": np.full(R * C, o, dtype=object), "seed": np.tile(seeds, C),
                     "replica": np.tile(np.arange(R), C), "checkpoint": np.repeat(cps, R),
                     "error": E.reshape(-1), "diverged": ~np.isfinite(E.reshape(-1))})
        parts.append(pd.DataFrame(cols))
    return pd.concat(parts, ignore_index=True)
