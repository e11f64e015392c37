"""Checks of the theorems' shape claims (THEORY §4.2 remarks): convergence rates and monotonicity in m.

* Rate: run the theorem's schedule for several horizons K (each run is a fresh schedule for its K), fit the
  log-log slope of the mean final error in K, and compare it with the rate the bound predicts — K^{-2} for the
  deterministic AM1 term (m = 1, σ = 0) and K^{-1/2} for the noise term. An upper bound allows a faster decay,
  so "faster" and "consistent" agree with the theorem, "slower" contradicts it.
* Deviation shrinks with m at fixed K (Theorem 1(b) remark): the across-seed standard deviation of the final
  error, for increasing m, must be non-increasing up to its sampling error.
* K0(m) over the divisors of K is minimised at m = 1 or m = K (theory.bounds.k0_argmin_m).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import algorithms, stats
from .oracles import Oracle, SphereNoise
from .run import run
from .schedules import Theorem1
from .theory import bounds


@dataclass
class RateResult:
    Ks: list
    mean_errors: list
    fit: stats.SlopeFit
    check: stats.RateCheck


def am1_final_errors(problem, sigma: float, m: int, K: int, seeds, device="cpu") -> np.ndarray:
    """Final Option II errors of AM1-SGD (Algorithm 1) under Theorem 1's schedule for horizon K."""
    c = problem.constants
    sched = Theorem1(c.L, problem.V0(), sigma, c.M, m, K)
    res = run(problem, Oracle(problem, SphereNoise(sigma)), algorithms.AM1(problem.setup, sched, m), K, seeds,
              options=("II",), checkpoints=[K], device=device)
    return res.final("II")


def rate(problem, sigma: float, Ks, predicted: float, m: int = 1, seeds=range(10), tol: float = 0.1) -> RateResult:
    """Fit the slope of mean final error against K and compare with ``predicted`` (e.g. −2 or −0.5)."""
    means = [float(np.mean(am1_final_errors(problem, sigma, m, K, seeds))) for K in Ks]
    fit = stats.loglog_slope(Ks, means)
    return RateResult(list(Ks), means, fit, stats.rate_check(fit, predicted, tol))


@dataclass
class DeviationResult:
    ms: list
    sds: list
    nonincreasing: bool


def deviation_vs_m(problem, sigma: float, K: int, ms, seeds=range(200), rtol: float = 0.15) -> DeviationResult:
    """Across-seed sd of the final error for each m; ``rtol`` allows for the sd's sampling error (≈ 1/√(2n))."""
    sds = [float(np.std(am1_final_errors(problem, sigma, m, K, seeds), ddof=1)) for m in ms]
    return DeviationResult(list(ms), sds, stats.is_nonincreasing(sds, rtol=rtol))


def k0_minimised_at_ends(L, V, sigma, M, K) -> bool:
    m, _ = bounds.k0_argmin_m(L, V, sigma, M, K)
    return m in (1, K)
