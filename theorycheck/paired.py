"""Paired comparisons of two configurations run on common seeds (issue 10, item 7).

Two configurations A and B run with the same seeds j = 1..n give paired per-seed errors (a_j, b_j): the
counter-based noise (``theorycheck.rng``) gives seed j the same noise sequence in both runs. The pairs
(a_j, b_j) are i.i.d. over seeds, so a **paired bootstrap** that resamples seed indices, and uses the same resample
for both arms, estimates the sampling distribution of any statistic of the pair sample (Efron & Tibshirani,
*An Introduction to the Bootstrap*, 1993, ch. 6 and 14; the paired/"one-sample of pairs" form is their §9.5).

Statistics provided:

* ``sd_ratio(a, b) = sd(a) / sd(b)`` (sample standard deviations, ddof = 1): "B deviates more than A" is
  ``sd_ratio > 1``.
* ``mean_gain(a, b) = mean(b - a)``: the expected reduction of the error when using A instead of B.

Intervals are two-sided percentile or BCa (bias-corrected and accelerated; Efron & Tibshirani 1993, §14.3,
eqs. 14.10-14.15) intervals computed by ``scipy.stats.bootstrap(..., paired=True)``. Both are asymptotic
(first- resp. second-order accurate), not finite-sample exact. For several intervals reported together use
``bonferroni_level``: each interval at level ``1 - alpha / n_intervals`` makes all of them cover simultaneously
with probability >= 1 - alpha (Bonferroni's inequality; no independence needed), up to the bootstrap's own
approximation error.
"""
from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
from scipy import stats as _st

__all__ = ["sd_ratio", "mean_gain", "paired_bootstrap_ci", "bonferroni_level", "compare"]


def sd_ratio(a, b, axis=-1):
    """sd(a) / sd(b) with ddof = 1 along ``axis``; a, b: arrays of the same shape (..., n). Dimensionless."""
    return np.std(a, axis=axis, ddof=1) / np.std(b, axis=axis, ddof=1)


def mean_gain(a, b, axis=-1):
    """mean(b - a) along ``axis``; a, b: arrays of the same shape (..., n), same units as a and b."""
    return np.mean(np.asarray(b) - np.asarray(a), axis=axis)


def bonferroni_level(alpha: float, n_intervals: int) -> float:
    """Per-interval confidence level 1 - alpha / n_intervals so that n_intervals two-sided intervals cover
    simultaneously with probability >= 1 - alpha. Raises ValueError unless 0 < alpha < 1 and n_intervals >= 1."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if int(n_intervals) != n_intervals or n_intervals < 1:
        raise ValueError(f"n_intervals must be an integer >= 1, got {n_intervals!r}")
    return 1.0 - alpha / n_intervals


def _check_pair(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-d arrays of the same length (one value per seed), got shapes "
                         f"{a.shape} and {b.shape}")
    if a.size < 3:
        raise ValueError(f"need at least 3 paired seeds, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a and b must be finite (a diverged replica has error +inf: compare it separately)")
    return a, b


def _rng_kw(seed):
    params = inspect.signature(_st.bootstrap).parameters
    return {"rng": np.random.default_rng(seed)} if "rng" in params else {"random_state": np.random.default_rng(seed)}


def paired_bootstrap_ci(a, b, statistic, *, level: float = 0.95, n_boot: int = 9999, method: str = "BCa",
                        seed=None) -> tuple[float, float, float]:
    """Paired bootstrap interval for ``statistic(a, b)``.

    a, b: shape (n,), the two arms' values for seeds 1..n (same order). statistic(a, b, axis=-1) must be
    vectorised over the last axis (``sd_ratio``, ``mean_gain``). method: "BCa" or "percentile". Resamples seed
    indices with replacement, the same indices for a and b (scipy.stats.bootstrap with paired=True).
    Returns (estimate, lower, upper). When every resample gives the same value (e.g. b = a + c for the mean gain)
    the interval is that value (scipy's BCa is undefined there). sd_ratio is 0/0 on a resample that repeats one
    seed n times (probability n**(1-n), negligible for n >= 10); a NaN there makes the interval undefined and
    raises ValueError. Raises ValueError on bad shapes, n < 3,
    non-finite values, a level outside (0, 1) or an unknown method.
    """
    a, b = _check_pair(a, b)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if method not in ("BCa", "percentile"):
        raise ValueError(f"method must be 'BCa' or 'percentile', got {method!r}")
    est = float(statistic(a, b))
    with warnings.catch_warnings():  # the degenerate case is handled below, with a clear result or error
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", getattr(_st, "DegenerateDataWarning", RuntimeWarning))
        res = _st.bootstrap((a, b), statistic, paired=True, vectorized=True, n_resamples=int(n_boot),
                            confidence_level=level, method=method, **_rng_kw(seed))
    dist = np.asarray(res.bootstrap_distribution)
    if np.ptp(dist) <= 1e-12 * max(abs(est), 1e-300):
        return est, est, est
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # BCa undefined (e.g. all resamples on one side)
        raise ValueError(f"the {method} interval is undefined for this sample (bootstrap distribution "
                         f"min {dist.min():.4g}, max {dist.max():.4g}, estimate {est:.4g})")
    return est, lo, hi


def compare(a, b, *, level: float = 0.95, n_boot: int = 9999, method: str = "BCa", seed=None) -> dict:
    """Paired comparison of arm A (values a) against arm B (values b) over common seeds; a, b shape (n,).

    Returns {"sd_ratio", "sd_ratio_lo", "sd_ratio_hi"} for sd(a)/sd(b), {"gain", "gain_lo", "gain_hi"} for
    mean(b - a), "rel_gain" = mean(b - a) / mean(a), "method", "n_boot". "A deviates less" is supported at this
    level when sd_ratio_hi < 1; "A is better on average" when gain_lo > 0. Both intervals use the same seed for
    their resamples (each is a paired bootstrap; they are not a joint region). Errors as paired_bootstrap_ci.
    """
    a, b = _check_pair(a, b)
    r, r_lo, r_hi = paired_bootstrap_ci(a, b, sd_ratio, level=level, n_boot=n_boot, method=method, seed=seed)
    g, g_lo, g_hi = paired_bootstrap_ci(a, b, mean_gain, level=level, n_boot=n_boot, method=method, seed=seed)
    return {"sd_ratio": r, "sd_ratio_lo": r_lo, "sd_ratio_hi": r_hi, "gain": g, "gain_lo": g_lo, "gain_hi": g_hi,
            "rel_gain": g / float(np.mean(a)), "method": method, "n_boot": int(n_boot)}
