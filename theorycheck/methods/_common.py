"""Small shared helpers for the batched step functions."""
from __future__ import annotations

import math

import torch

from ..numerics import l2_normalize


def col(v, like: torch.Tensor):
    """A float or a per-replica (R,) tensor as something broadcastable against (R, n) ``like``."""
    if torch.is_tensor(v):
        v = v.to(dtype=like.dtype, device=like.device)
        return v.reshape(-1, *([1] * (like.dim() - 1))) if v.dim() == 1 else v
    return float(v)


def check_real(name: str, v, lo=-math.inf, hi=math.inf, lo_open=False, hi_open=False) -> None:
    """ValueError naming ``name`` unless every entry of v lies in the interval (bounds open/closed as given)."""
    vals = v.detach().double().reshape(-1).tolist() if torch.is_tensor(v) else [v]
    for x in vals:
        ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        ok = ok and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
        if not ok:
            rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
            raise ValueError(f"{name} must be a finite number in {rng}, got {v!r}")


def row_normalize(m: torch.Tensor) -> torch.Tensor:
    """m / ||m||_2 row-wise, with 0 / 0 := 0 (a zero direction gives no step). Overflow/underflow-safe
    (:func:`theorycheck.numerics.l2_normalize`: (3e160, 4e160) -> (0.6, 0.8)); bit-identical to the plain formula in
    the normal range."""
    return l2_normalize(m, dim=-1)
