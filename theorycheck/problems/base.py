"""The Problem interface: F = f + h on X, batched over replicas, with declared constants.

A problem *declares* its constants (THEORY §1.3, §2.3): L and M in the primal norm of its setup, D_X when X is
compact, the reference value F_ref with how it was certified, an optional minimiser x_star, and comparator points
for the comparator-form bounds (THEORY §4.3b). Nothing downstream estimates them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..geometry import Setup


@dataclass
class Constants:
    L: float  # smoothness in the primal norm of the setup
    M: float = 0.0  # non-smooth part of assumption (a)
    D_X: float = math.inf  # max_{x in X} ||x - x_star|| (inf when X is not compact)
    F_ref: float = math.nan  # F_star (attained) or F_inf (infimum)
    F_ref_method: str = "unknown"  # how F_ref was obtained, e.g. "closed form", "Newton |grad|<=1e-12", "cvxpy gap=1e-9"
    attained: bool = True  # is F_ref attained by some x_star?
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("L", "M"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
                raise ValueError(f"constant {name} must be a finite number >= 0, got {v!r}")
        if not (self.D_X > 0):
            raise ValueError(f"constant D_X must be > 0 (inf when X is not compact), got {self.D_X!r}")


@dataclass
class Comparator:
    """A reference point u with its exact excess Delta_u = F(u) - F_inf and V_d(u, x0)."""

    name: str
    u: torch.Tensor  # (n,)
    delta: float  # F(u) - F_ref >= 0
    V: float  # V_d(u, x0)


class Problem:
    """Base class. Subclasses set ``name``, ``setup``, ``n``, ``x0`` and ``constants`` and implement
    ``f_value`` and ``f_grad`` (batched: (R, n) -> (R,) and (R, n) -> (R, n))."""

    name: str = "problem"
    setup: Setup
    x0: torch.Tensor  # (n,) float64 on the problem's device
    constants: Constants
    x_star: torch.Tensor | None = None  # a minimiser, when attained and known
    comparators: list  # list[Comparator]
    n_rows: int | None = None  # finite-sum size when the minibatch oracle applies

    def __init__(self):
        self.comparators = []

    # --- to implement ---------------------------------------------------------------------------
    def f_value(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def f_grad(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def f_grad_rows(self, X: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Minibatch gradient: mean over rows idx[r, :] of component gradients, for each replica r."""
        raise NotImplementedError(f"{type(self).__name__} is not a finite sum: no minibatch oracle")

    # --- provided --------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.x0.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.x0.device

    def value(self, X: torch.Tensor) -> torch.Tensor:
        """F(X) = f(X) + h(X), row-wise."""
        return self.f_value(X) + self.setup.h(X)

    def grad(self, X: torch.Tensor) -> torch.Tensor:
        """A (sub)gradient of f (the oracle's mean), row-wise."""
        return self.f_grad(X)

    def error(self, X: torch.Tensor) -> torch.Tensor:
        """F(X) - F_ref in float64 (the metric every check uses)."""
        return self.value(X.to(torch.float64)) - self.constants.F_ref

    def V0(self, u: torch.Tensor | None = None) -> float:
        """V_d(u, x0) for u (default: x_star)."""
        u = self.x_star if u is None else u
        if u is None:
            raise ValueError(f"{self.name}: no minimiser is known; use the comparator form")
        return float(self.setup.mirror.bregman(u.double()[None], self.x0.double()[None])[0])

    def segment_comparators(self, ts=(0.25, 0.5, 0.75)) -> list:
        """Comparators u_t = x0 + t (x_star − x0) (in X by convexity) with exact Δ_u = F(u_t) − F_ref and
        V_d(u_t, x0); empty when no minimiser is known. They make the comparator form's minimum non-trivial."""
        if self.x_star is None:
            return []
        x0, xs = self.x0.double(), self.x_star.double()
        U = torch.stack([x0 + t * (xs - x0) for t in ts])
        delta = self.error(U)
        if float(delta.min()) < -1e-9 * max(1.0, abs(self.constants.F_ref)):
            raise ValueError(f"{self.name}: F(u) < F_ref on the segment to x_star: F_ref is not the minimum")
        delta = torch.clamp(delta, min=0.0)  # rounding only
        V = self.setup.mirror.bregman(U, x0[None].expand_as(U))
        return [Comparator(f"segment t={t:g}", U[i], float(delta[i]), float(V[i])) for i, t in enumerate(ts)]

    def to(self, device=None) -> "Problem":
        """Move every tensor attribute to `device` (in place; returns self)."""
        for k, v in list(vars(self).items()):
            if torch.is_tensor(v):
                setattr(self, k, v.to(device))
        self.comparators = [Comparator(c.name, c.u.to(device), c.delta, c.V) for c in self.comparators]
        return self

    def describe(self) -> dict:
        c = self.constants
        return {"problem": self.name, "setup": self.setup.name, "n": self.n, "L": c.L, "M": c.M, "D_X": c.D_X,
                "F_ref": c.F_ref, "F_ref_method": c.F_ref_method, "attained": c.attained}
