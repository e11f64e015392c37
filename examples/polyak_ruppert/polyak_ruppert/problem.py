"""A problem family: the quadratic bowl f(x) = ½ (x − c)ᵀ diag(d) (x − c) on R^n (h = 0), x0 = 0.

d is log-spaced in [mu, L] and c = scale · N(0, I) (numpy seed), so the minimiser x⋆ = c, F⋆ = 0 and the
smoothness constant L = max d are exact (closed form). Batched: X has shape (R, n).
"""
from __future__ import annotations

import numpy as np
import torch

from theorycheck.geometry import euclidean
from theorycheck.problems.base import Constants, Problem


class QuadraticBowl(Problem):
    def __init__(self, d, c, device=None):
        super().__init__()
        self.name = "quadratic_bowl"
        self.setup = euclidean()
        self.d = torch.as_tensor(d, dtype=torch.float64, device=device)
        self.c = torch.as_tensor(c, dtype=torch.float64, device=device)
        self.x0 = torch.zeros_like(self.c)
        self.x_star = self.c.clone()
        self.constants = Constants(L=float(self.d.max()), M=0.0, F_ref=0.0, F_ref_method="closed form (F* = 0)",
                                   attained=True)

    def f_value(self, X):
        r = X - self.c.to(X.dtype)
        return 0.5 * (r * r * self.d.to(X.dtype)).sum(-1)

    def f_grad(self, X):
        return (X - self.c.to(X.dtype)) * self.d.to(X.dtype)


def quadratic_bowl(device=None, n=10, mu=0.1, L=1.0, scale=1.0, seed=0) -> QuadraticBowl:
    """theorycheck problem-family factory: called as factory(device=..., **spec.problem.params)."""
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (0 < mu <= L):
        raise ValueError(f"need 0 < mu <= L, got mu={mu!r}, L={L!r}")
    rng = np.random.default_rng(seed)
    return QuadraticBowl(np.geomspace(mu, L, n), scale * rng.standard_normal(n), device=device)
