"""Step-size / momentum schedules: maps from an index t to (α_t, β_t).

AM1-SGD indexes by epoch s = k // m, AM2-SGD and AC-SA by iteration k (THEORY §4.2, §4.4). The momentum forms
use the step η_t = α_t (1 − β_t).
"""
from __future__ import annotations

import math


def _check_beta(beta: float) -> float:
    if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    return float(beta)


def _check_pos(name: str, v) -> float:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


class Schedule:
    constant = False

    def alpha(self, t: int) -> float:
        raise NotImplementedError

    def beta(self, t: int) -> float:
        raise NotImplementedError

    def eta(self, t: int) -> float:
        return self.alpha(t) * (1.0 - self.beta(t))

    def describe(self) -> dict:
        return {"schedule": type(self).__name__}


class Constant(Schedule):
    """Constant (α, β); give either alpha or the momentum-form step eta = α(1 − β)."""

    constant = True

    def __init__(self, beta: float, alpha: float | None = None, eta: float | None = None):
        self._beta = _check_beta(beta)
        if (alpha is None) == (eta is None):
            raise ValueError("give exactly one of alpha and eta")
        self._alpha = _check_pos("alpha", alpha) if alpha is not None else _check_pos("eta", eta) / (1 - self._beta)

    def alpha(self, t):
        return self._alpha

    def beta(self, t):
        return self._beta

    def describe(self):
        return {"schedule": "constant", "alpha": self._alpha, "beta": self._beta, "eta": self.eta(0)}


class _TheoremSchedule(Schedule):
    """α_t(1 − β_t) = η constant: η = λ/L from the theory module (or its L = 0 limit), or λ/L for a given λ."""

    def _set_step(self, base, L, lam, force):
        self.lam = base.lam if lam is None else float(lam)
        if lam is not None:
            if not (0 < self.lam <= 2 / 3 or (force and self.lam > 0)):
                raise ValueError(f"lam must be in (0, 2/3], got {self.lam!r}")
            if L == 0:
                raise ValueError("with L = 0 give no lam: the step is the theorem's L -> 0 limit")
        self.eta_const = base.eta if lam is None else self.lam / L

    def eta(self, t):
        return self.eta_const

    def describe(self):
        return {"schedule": self.kind, "lambda": self.lam, "eta": self.eta_const, "V_schedule": self.V}


class Theorem1(_TheoremSchedule):
    """β_s = s/(s+2), α_s = η(s+2)/2 with η = λ₁/L (THEORY §4.2; L = 0: the limit of theory.bounds.thm1_schedule).
    ``lam`` is the λ₁ actually run (default: the theorem's); ``force`` admits λ > 2/3 (negative controls only)."""

    kind = "theorem1"

    def __init__(self, L, V, sigma, M, m, K, lam: float | None = None, force: bool = False):
        from .theory.bounds import thm1_schedule

        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"m must be an integer >= 1, got {m!r}")
        if not (isinstance(K, int) and K >= 1 and K % m == 0):
            raise ValueError(f"K must be a positive multiple of m={m}, got K={K!r}")
        self.L, self.V, self.sigma, self.M, self.m, self.K, self.S = float(L), float(V), float(sigma), float(M), m, K, K // m
        self._set_step(thm1_schedule(L, V, sigma, M, m, K), L, lam, force)

    def beta(self, s):
        return s / (s + 2.0)

    def alpha(self, s):
        return self.eta_const * (s + 2.0) / 2.0


class Theorem2(_TheoremSchedule):
    """β_k = k/(k+2m), α_k = η(k/m+2)/2 with η = λ₂/L (THEORY §4.4)."""

    kind = "theorem2"

    def __init__(self, L, V, sigma, M, m, K, lam: float | None = None, force: bool = False):
        from .theory.bounds import thm2_schedule

        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"m must be an integer >= 1, got {m!r}")
        if not (isinstance(K, int) and K >= 1):
            raise ValueError(f"K must be an integer >= 1, got {K!r}")
        self.L, self.V, self.sigma, self.M, self.m, self.K = float(L), float(V), float(sigma), float(M), m, K
        self._set_step(thm2_schedule(L, V, sigma, M, m, K), L, lam, force)

    def beta(self, k):
        return k / (k + 2.0 * self.m)

    def alpha(self, k):
        return self.eta_const * (k / self.m + 2.0) / 2.0
