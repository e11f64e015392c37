"""Euclidean quadratic f(x) = ½ (x − x⋆)ᵀ Q (x − x⋆) + F⋆ with Q ⪰ 0 given (L = λ_max(Q) exact)."""
from __future__ import annotations

import torch

from ..geometry import Setup, euclidean
from .base import Comparator, Constants, Problem


class Quadratic(Problem):
    def __init__(self, Q, x_star, x0=None, F_star: float = 0.0, setup: Setup | None = None, name="quadratic",
                 device=None):
        super().__init__()
        Q = torch.as_tensor(Q, dtype=torch.float64, device=device)
        x_star = torch.as_tensor(x_star, dtype=torch.float64, device=device)
        n = x_star.shape[-1]
        if Q.shape != (n, n):
            raise ValueError(f"Q must have shape ({n}, {n}) to match x_star, got {tuple(Q.shape)}")
        if not torch.allclose(Q, Q.T):
            raise ValueError("Q must be symmetric")
        evals = torch.linalg.eigvalsh(Q)
        if evals[0] < -1e-12 * max(1.0, float(evals[-1])):
            raise ValueError(f"Q must be positive semidefinite, smallest eigenvalue {float(evals[0]):.3g}")
        self.name = name
        self.setup = setup or euclidean()
        if self.setup.kind != "none" or self.setup.mirror.name != "euclidean":
            raise ValueError("Quadratic is unconstrained Euclidean: x_star is its minimiser only with setup 'none'")
        self.Q = Q
        self.x_star = x_star
        self.x0 = torch.zeros(n, dtype=torch.float64, device=device) if x0 is None else \
            torch.as_tensor(x0, dtype=torch.float64, device=device)
        self.F_star = float(F_star)
        self.constants = Constants(L=float(evals[-1].clamp(min=0)), M=0.0, F_ref=self.F_star,
                                   F_ref_method="closed form (x_star given)", attained=True)
        self.comparators = [Comparator("x_star", x_star, 0.0, self.V0())]
        self._cache = {}

    def _Q(self, dtype):
        if dtype not in self._cache:
            self._cache[dtype] = (self.Q.to(dtype), self.x_star.to(dtype))
        return self._cache[dtype]

    def f_value(self, X):
        Q, xs = self._Q(X.dtype)
        D = X - xs
        return 0.5 * ((D @ Q) * D).sum(-1) + self.F_star

    def f_grad(self, X):
        Q, xs = self._Q(X.dtype)
        return (X - xs) @ Q

    def to(self, device=None):
        self._cache = {}
        return super().to(device)
