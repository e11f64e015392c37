"""Proximal setups (THEORY §1.2, §2): a mirror map d with its norm pair, and a composite term h / set X.

``Setup.prox(z, G, a)`` computes ``Prox_{a h}(z, G) = argmin_{u in X} V_d(u, z) + <G, u> + a h(u)``; the
algorithms call it with ``G = alpha * g`` and ``a = alpha`` (both the linear term and h scaled by the step).
All functions act row-wise on batched iterates of shape (R, n).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .numerics import l2_norm, scaled_l2


def _check_positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------------
# Mirror maps
# --------------------------------------------------------------------------------------------------
class Euclidean:
    """d(x) = ||x||_2^2 / 2 on R^n; ||.|| = ||.||_* = l2; V_d(u, z) = ||u - z||^2 / 2."""

    name = "euclidean"
    primal_norm = "l2"
    dual_norm_name = "l2"

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        return l2_norm(x, dim=-1)  # overflow/underflow-safe (theorycheck.numerics)

    def dual_norm(self, g: torch.Tensor) -> torch.Tensor:
        return l2_norm(g, dim=-1)

    def bregman(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((u - z) ** 2).sum(-1)

    def contains(self, x: torch.Tensor, tol: float = 0.0) -> torch.Tensor:
        return torch.isfinite(x).all(-1)


class Entropic:
    """d(x) = sum x_i log x_i on the simplex; ||.|| = l1, ||.||_* = l_inf; V_d(u, z) = KL(u || z)."""

    name = "entropic"
    primal_norm = "l1"
    dual_norm_name = "linf"

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(x, ord=1, dim=-1)

    def dual_norm(self, g: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(g, ord=float("inf"), dim=-1)

    def bregman(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # KL(u||z) with the convention 0 log 0 = 0.
        safe = torch.where(u > 0, u, torch.ones_like(u))
        return torch.where(u > 0, u * (torch.log(safe) - torch.log(z)), torch.zeros_like(u)).sum(-1)

    def contains(self, x: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
        return (x > 0).all(-1) & ((x.sum(-1) - 1).abs() <= tol)


# --------------------------------------------------------------------------------------------------
# Composite terms (h, X) with their prox under a mirror map
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """A mirror map together with h and X; ``kind`` selects the prox formula of THEORY §2."""

    mirror: object
    kind: str = "none"  # none | l1 | box | l2ball | box_l1 | linear (entropic only)
    lam: float = 0.0  # l1 weight
    lower: float = -math.inf  # box
    upper: float = math.inf
    center: torch.Tensor | None = None  # l2 ball
    radius: float = math.inf
    c: torch.Tensor | None = None  # linear h(x) = <c, x> on the simplex

    def __post_init__(self):
        allowed = {"euclidean": ("none", "l1", "box", "l2ball", "box_l1"), "entropic": ("none", "linear", "l1")}
        if self.kind not in allowed[self.mirror.name]:
            raise ValueError(f"kind must be one of {allowed[self.mirror.name]} for the {self.mirror.name} mirror map, "
                             f"got {self.kind!r}")
        if self.kind in ("l1", "box_l1") and not (self.lam >= 0):
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.kind in ("box", "box_l1") and not (self.lower < self.upper):
            raise ValueError(f"box needs lower < upper, got [{self.lower}, {self.upper}]")
        if self.kind == "l2ball":
            _check_positive("radius", self.radius)

    @property
    def name(self) -> str:
        return f"{self.mirror.name}/{self.kind}"

    @property
    def compact(self) -> bool:
        if self.mirror.name == "entropic":
            return True
        if self.kind in ("box", "box_l1"):
            return math.isfinite(self.lower) and math.isfinite(self.upper)
        return self.kind == "l2ball"

    # --- the prox-mapping -------------------------------------------------------------------------
    def prox(self, z: torch.Tensor, G: torch.Tensor, a) -> torch.Tensor:
        """Prox_{a h}(z, G) for batched z, G of shape (R, n); a is a float or an (R,) tensor."""
        if self.mirror.name == "entropic":
            return self._prox_entropic(z, G, a)
        v = z - G
        if self.kind == "none":
            return v
        if self.kind == "l1":
            return soft_threshold(v, _col(a, v) * self.lam)
        if self.kind == "box":
            return v.clamp(self.lower, self.upper)
        if self.kind == "box_l1":
            return soft_threshold(v, _col(a, v) * self.lam).clamp(self.lower, self.upper)
        # l2 ball
        c = self.center.to(v) if self.center is not None else torch.zeros_like(v[:1])
        # d * min(1, radius / ||d||) computed on y = d 2^-e (exact power-of-two scaling, theorycheck.numerics):
        # bit-identical to the plain formula in the normal range, right where ||d|| over- or underflows.
        d = v - c
        y, r, e = scaled_l2(d)
        radius_y = self.radius * torch.exp2(-(e // 2).to(r.dtype)) * torch.exp2(-(e - e // 2).to(r.dtype))
        outside = r > radius_y
        proj = y * (self.radius / torch.where(outside, r, torch.ones_like(r)))
        return c + torch.where(outside, proj, d)

    def _prox_entropic(self, z, G, a):
        if self.kind == "linear":
            G = G + _col(a, G) * self.c.to(G)
        # log-domain multiplicative update: u ∝ z * exp(-G), normalised with logsumexp (stable for any G).
        logu = torch.log(z) - G
        logu = logu - torch.logsumexp(logu, dim=-1, keepdim=True)
        u = torch.exp(logu)
        # keep strictly inside the simplex: entries that underflow to 0 are lifted to the smallest normal.
        tiny = torch.finfo(u.dtype).tiny
        u = torch.clamp(u, min=tiny)
        return u / u.sum(-1, keepdim=True)

    # --- h itself (for F = f + h) -----------------------------------------------------------------
    def h(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind in ("l1", "box_l1"):
            return self.lam * x.abs().sum(-1)
        if self.kind == "linear":
            return x @ self.c.to(x)
        return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)

    def contains(self, x: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
        ok = self.mirror.contains(x, tol) if self.mirror.name == "entropic" else torch.isfinite(x).all(-1)
        if self.kind in ("box", "box_l1"):
            ok = ok & (x >= self.lower - tol).all(-1) & (x <= self.upper + tol).all(-1)
        if self.kind == "l2ball":
            c = self.center.to(x) if self.center is not None else torch.zeros_like(x)
            # relative tolerance only (an absolute one would call any point of a tiny ball "inside"), plus the
            # rounding of x - c
            slack = 4 * torch.finfo(x.dtype).eps * c.abs().amax(-1) if x.is_floating_point() else 0.0
            ok = ok & (l2_norm(x - c, dim=-1) <= self.radius * (1 + tol) + slack)
        return ok

    def diameter(self, x_ref: torch.Tensor | None = None) -> float:
        """D_X = max_{x in X} ||x - x_ref|| in the primal norm (an upper bound when x_ref is None)."""
        if self.mirror.name == "entropic":
            return 2.0
        if self.kind == "l2ball":
            if x_ref is None:
                return 2.0 * self.radius
            c = self.center if self.center is not None else torch.zeros_like(x_ref)
            return float(l2_norm(x_ref.double().reshape(-1) - c.double().reshape(-1))) + self.radius
        if self.kind in ("box", "box_l1") and self.compact:
            if x_ref is None:
                raise ValueError("the box diameter needs the dimension: pass x_ref")
            x = x_ref.double()
            far = torch.maximum((x - self.lower).abs(), (self.upper - x).abs())
            return float(l2_norm(far.reshape(-1)))
        return math.inf


def soft_threshold(v: torch.Tensor, t) -> torch.Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0.0)


def _col(a, like: torch.Tensor):
    """Broadcast a step (float or (R,) tensor) against (R, n)."""
    if torch.is_tensor(a) and a.ndim == 1:
        return a[:, None].to(like)
    return a


def euclidean(kind: str = "none", **kw) -> Setup:
    return Setup(Euclidean(), kind, **kw)


def entropic(kind: str = "none", **kw) -> Setup:
    return Setup(Entropic(), kind, **kw)
