"""Betting confidence limits for the mean of a bounded variable (Waudby-Smith & Ramdas 2024, JRSS-B 86(1), 1-27).

Data ``X`` with known range ``[lo, hi]`` are mapped to ``Z = (X - lo) / (hi - lo)`` in [0, 1]. For a candidate mean
``m`` two capital processes are run over the seeds in their (pre-registered) order:

* upper test (H0: E Z >= m, rejecting it gives an upper limit):  K_t^up(m)  = prod_{i<=t} (1 + lam_i (m - Z_i))
* lower test (H0: E Z <= m, rejecting it gives a lower limit):   K_t^low(m) = prod_{i<=t} (1 + lam_i (Z_i - m))

Under its null each is a non-negative supermartingale (E[1 + lam (m - Z)] <= 1 for E Z >= m,
and 1 + lam (m - Z) >= 1 - c > 0 for lam <= c/(1 - m)), so by Ville's inequality P(sup_t K_t >= 1/alpha) <= alpha:
``p = min(1, 1/max_{t<=n} K_t)`` is a valid p-value **at every sample size and under optional stopping** (the limits are a confidence sequence read at n).

Bets (WSR 2024, Sec. 3.3 and Remark on CIs, "predictable plug-in" PrPl):
    mu_t   = (1/2 + sum_{i<=t} Z_i) / (t + 1),      s2_t = (1/4 + sum_{i<=t} (Z_i - mu_i)^2) / (t + 1),
    lam_t  = sqrt(2 log(1/alpha_tune) / (s2_{t-1} * N_t)),      s2_0 = 1/4,
with N_t = n_tune (fixed-n tuning, WSR eq. (26) with n) or N_t = t log(1 + t) (time-uniform tuning, eq. (27)).
The bets are predictable (they use Z_1..Z_{t-1} only) and are truncated as in the paper, at c/(1 - m) for the upper
test and c/m for the lower test (c = 3/4), which keeps every factor > 0. Monotonicity: for the upper test each factor
f(m) = 1 + min(lam_t, c/(1-m)) (m - Z_t) is non-decreasing in m (for m >= Z_t both min-terms times (m - Z_t) increase;
for m < Z_t it is 1 + max(lam_t (m - Z_t), c (m - Z_t)/(1 - m)) and d/dm (m - Z)/(1 - m) = (1 - Z)/(1 - m)^2 >= 0);
symmetrically the lower test's factors are non-increasing in m. So the rejection sets are half-lines and the limits
are found by bisection to 2^-44 of the range with the conservative end kept (no grid error), and
"upper limit < b" <=> "p_holds(b) <= alpha".

Every function is vectorised over leading axes: ``Z`` of shape (..., n) gives results of shape (...).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["bets", "log_capital_max", "upper_limit", "lower_limit", "pvalues", "BoundedMean", "bounded_mean"]

C_TRUNC = 0.75
_BISECT = 44  # 2^-44 ~ 6e-14 of the range


def _tune(alpha_tune):
    a = float(alpha_tune)
    if not 0 < a < 1:
        raise ValueError(f"alpha_tune must be in (0, 1), got {alpha_tune!r}")
    return a


def bets(Z, alpha_tune=0.05, n_tune=None) -> np.ndarray:
    """Predictable plug-in bets lam_t before truncation, shape (..., n), for Z in [0, 1] of shape (..., n).

    n_tune: an int (fixed-n tuning for a confidence interval at that n) or None (time-uniform tuning t log(1+t),
    for a confidence sequence). Source: WSR 2024 eqs. (26)-(27)."""
    Z = np.asarray(Z, dtype=np.float64)
    n = Z.shape[-1]
    t = np.arange(1, n + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(Z, -1)) / (t + 1)
    s2 = (0.25 + np.cumsum((Z - mu) ** 2, -1)) / (t + 1)
    s2_prev = np.concatenate([np.full(Z.shape[:-1] + (1,), 0.25), s2[..., :-1]], -1)
    denom = float(n_tune) if n_tune is not None else t * np.log1p(t)
    return np.sqrt(2 * math.log(1 / _tune(alpha_tune)) / (s2_prev * denom))


def log_capital_max(Z, lam, m, side):
    """max_{t<=n} log K_t(m) for side "up" (H0: E Z >= m) or "low" (H0: E Z <= m); Z, lam (..., n), m (...)."""
    m = np.asarray(m, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        if side == "up":
            f = np.log1p(np.minimum(lam, C_TRUNC / (1 - m)) * (m - Z))
        else:
            f = np.log1p(np.minimum(lam, C_TRUNC / m) * (Z - m))
    lk = np.cumsum(f, -1)
    return np.maximum(lk.max(-1), 0.0)  # t = 0: K_0 = 1


def _bisect(pred, shape, increasing):
    """Smallest (increasing=True) / largest m in [0, 1] with pred(m) true, pred monotone; returns the conservative
    end of the final bracket (a point where pred is true), or 1.0 / 0.0 when pred holds nowhere inside."""
    lo = np.zeros(shape)
    hi = np.ones(shape)
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        ok = pred(mid)
        if increasing:
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        else:
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
    return hi if increasing else lo


def upper_limit(Z, alpha, lam):
    """One-sided (1 - alpha) upper limit for E Z: inf{m : max_t K_t^up(m) >= 1/alpha} (1 when none)."""
    thr = math.log(1 / alpha)
    return _bisect(lambda m: log_capital_max(Z, lam, m, "up") >= thr, Z.shape[:-1], increasing=True)


def lower_limit(Z, alpha, lam):
    """One-sided (1 - alpha) lower limit for E Z: sup{m : max_t K_t^low(m) >= 1/alpha} (0 when none)."""
    thr = math.log(1 / alpha)
    return _bisect(lambda m: log_capital_max(Z, lam, m, "low") >= thr, Z.shape[:-1], increasing=False)


def pvalues(Z, lam, b):
    """(p_holds, p_violated) at b (in Z units): p-values of H0: E Z > b and H0: E Z <= b (Ville)."""
    b = np.asarray(b, dtype=np.float64)
    bb = np.clip(b, 0.0, 1.0)
    ph = np.exp(-log_capital_max(Z, lam, bb, "up"))
    pv = np.exp(-log_capital_max(Z, lam, bb, "low"))
    ph = np.where(b >= 1.0, 0.0, np.where(b < 0.0, 1.0, ph))  # E Z > b is impossible / certain
    pv = np.where(b < 0.0, 0.0, np.where(b >= 1.0, 1.0, pv))
    return np.minimum(ph, 1.0), np.minimum(pv, 1.0)


class BoundedMean:
    """Betting limits for the mean of one sample ``x`` (n,) known to lie in [lo, hi].

    alpha_tune / n_tune fix the bets (see :func:`bets`) once, so limits at any level and the p-values are all
    inversions of the same capital processes (consistent: ``upper(a) < b`` <=> ``p_holds(b) <= a`` up to 1e-13 of
    the range). Raises ValueError when x leaves [lo, hi] or lo >= hi."""

    def __init__(self, x, lo, hi, alpha_tune=0.05, n_tune="n"):
        x = np.asarray(x, dtype=np.float64)
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"range must be finite with lo < hi, got [{lo}, {hi}]")
        if x.size and (x.min() < lo or x.max() > hi):
            raise ValueError(f"data leave the declared range [{lo:.6g}, {hi:.6g}]: min {x.min():.6g}, "
                             f"max {x.max():.6g}")
        self.lo, self.hi, self.n = lo, hi, x.shape[-1]
        self.Z = (x - lo) / (hi - lo)
        self.lam = bets(self.Z, alpha_tune, self.n if n_tune == "n" else n_tune)

    def _to(self, z):
        return self.lo + (self.hi - self.lo) * z

    def limits(self, alpha):
        """(lower, upper) one-sided (1 - alpha) limits in data units."""
        return (float(self._to(lower_limit(self.Z, alpha, self.lam))),
                float(self._to(upper_limit(self.Z, alpha, self.lam))))

    def pvalues(self, bound):
        """(p_holds, p_violated) for "mean <= bound"."""
        b = (float(bound) - self.lo) / (self.hi - self.lo)
        ph, pv = pvalues(self.Z, self.lam, b)
        return float(ph), float(pv)


def bounded_mean(x, lo, hi, alpha=0.05, alpha_tune=None, n_tune="n") -> dict:
    """Convenience: {"lower", "upper", "mean", "n"} one-sided (1 - alpha) betting limits for x in [lo, hi]."""
    bm = BoundedMean(x, lo, hi, alpha if alpha_tune is None else alpha_tune, n_tune)
    lower, upper = bm.limits(alpha)
    return {"lower": lower, "upper": upper, "mean": float(np.mean(x)), "n": bm.n}
