"""Verdict statistics (numpy/scipy only). Method, coverage and conventions: docs/statistics.md.

* Mean of non-negative, right-skewed per-seed errors (one number per seed, at one checkpoint, for one
  configuration). The interval covers the population mean of that error over the seed distribution.
  Lower limit: Hall's (1992) skewness-corrected Student-t. Upper limit: the larger of Hall's and Maurer's (2003)
  bound for non-negative variables, P(mean_n <= mu - d) <= exp(-n d^2 / (2 E X^2)), with E X^2 estimated.
* A verdict on "mean <= bound" is two one-sided tests: H0a: mean > bound (rejecting it gives "holds") and
  H0b: mean <= bound (rejecting it gives "violated"). p-values are the inversion of the same limits, so
  "upper limit < bound" <=> p_holds < alpha and "lower limit > bound" <=> p_violated < alpha (up to ties).
* Exceedance: exact binomial (Clopper-Pearson) for P(error > threshold) <= p_allowed.
* A family of verdicts is corrected with Holm over all 2N one-sided p-values (exactly N of them are true nulls).
* Bounded statistics (a certified range [lo, hi]): exact betting limits (theorycheck.betting, Waudby-Smith & Ramdas
  2024), ``verdict_mean_bounded``. Every Verdict carries ``method`` in METHODS: "exact-bounded", "exact-binomial",
  "asymptotic" or "pathwise".
* Asymptotic verdicts carry a heavy-tail diagnostic (``tail_diagnostic``, calibrated by simulation,
  docs/statistics.md section 3b): a "holds" whose sample lies outside the simulated-coverage domain is reported as
  "inconclusive (heavy tail)".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Sequence

import numpy as np
from scipy import stats as _st

__all__ = [
    "MeanCI", "Verdict", "SlopeFit", "RateCheck", "QuantileCurve",
    "mean_ci", "mean_pvalues", "verdict_mean", "exceedance_test", "clopper_pearson",
    "holm", "verdicts_family", "loglog_slope", "rate_check", "is_nonincreasing", "quantile_curve",
    "simulate_coverage", "verdict_mean_bounded", "tail_diagnostic", "METHODS", "HEAVY_TAIL",
]

METHODS = ("exact-bounded", "exact-binomial", "asymptotic", "pathwise")
HEAVY_TAIL = "inconclusive (heavy tail)"



# --- validation --------------------------------------------------------------------------------------------------
def _alpha(alpha, name="alpha"):
    a = float(alpha)
    if not (0.0 < a < 0.5):
        raise ValueError(f"{name} must be in (0, 0.5), got {alpha!r}")
    return a


def _errors(errors, min_n=2):
    x = np.asarray(errors, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"errors must be a 1-D array (one value per seed), got shape {x.shape}")
    if x.size < min_n:
        raise ValueError(f"errors must hold at least {min_n} seeds, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError("errors must be finite (no NaN/inf); a diverged seed must be handled before the verdict")
    return x


def _bound(b, name="bound"):
    b = float(b)
    if math.isnan(b):
        raise ValueError(f"{name} must not be NaN")
    return b


# --- the mean: Hall's transformation + Maurer's bound, vectorised over leading axes ------------------------------
def _moments(X):
    """n, mean, sd (ddof=1), skewness (k-statistic form), second moment about a = min(0, min X)."""
    n = X.shape[-1]
    mean = X.mean(-1)
    d = X - mean[..., None]
    var = (d * d).sum(-1) / (n - 1)
    sd = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        if n >= 3:
            g = n * (d ** 3).sum(-1) / ((n - 1) * (n - 2) * sd ** 3)
        else:
            g = np.zeros_like(mean)
        g = np.where(sd > 0, g, 0.0)
    anchor = np.minimum(0.0, X.min(-1))
    m2 = ((X - anchor[..., None]) ** 2).mean(-1)
    return n, mean, sd, np.nan_to_num(g), m2


def _hall_g(S, g, n):
    """Hall's monotone transformation g(S) = S + g S^2/3 + g^2 S^3/27 + g/(6n) (increasing in S), evaluated as
    S ((x + 3/2)^2 + 3/4) / 3 + g/(6n) with x = g S / 3: no cancellation, and correct at S = +-inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.where(g == 0, 0.0, g * S / 3)
        return S * ((x + 1.5) ** 2 + 0.75) / 3 + g / (6 * n)


def _hall_ginv(y, g, n):
    """Inverse of _hall_g: S = (3/g)((1 + g (y - g/(6n)))^{1/3} - 1), accurate for small g."""
    y = y - g / (6 * n)
    x = g * y
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(x > -0.5, np.expm1(np.log1p(np.maximum(x, -0.5)) / 3), np.cbrt(1 + x) - 1)
        out = np.where(np.abs(g) > 1e-12, 3 * c / np.where(g == 0, 1, g), y)
    return out


def _scale(X):
    """max |X| along the last axis (1 where it is 0): every statistic here is scale-equivariant, so computing on
    X / scale avoids overflow for huge (but finite) errors."""
    c = np.abs(X).max(-1)
    return np.where(c > 0, c, 1.0)


def _mean_sd_skew(x):
    """Sample mean, sd and skewness of a 1-D sample, computed on rescaled data (no overflow)."""
    c = float(_scale(x))
    _, mean, sd, g, _ = _moments(x / c)
    with np.errstate(over="ignore"):
        return float(mean) * c, float(sd) * c, float(g)


def _limits(X, alpha):
    """One-sided (1 - alpha) lower and upper limits for the mean, along the last axis."""
    c = _scale(X)
    lo, up = _limits_unit(X / c[..., None], alpha)
    with np.errstate(over="ignore"):
        return lo * c, up * c


def _limits_unit(X, alpha):
    n, mean, sd, g, m2 = _moments(X)
    q = _st.t.ppf(1 - alpha, n - 1)
    r = math.sqrt(n)
    lower = mean - sd * _hall_ginv(q / r, g, n)
    upper_hall = mean - sd * _hall_ginv(-q / r, g, n)
    upper_maurer = mean + np.sqrt(2 * m2 * math.log(1 / alpha) / n)
    return lower, np.maximum(upper_hall, upper_maurer)


def _pvalues(X, b):
    """(p_holds, p_violated) at bound b: the CI-inversion p-values of H0a: mean > b and H0b: mean <= b."""
    c = _scale(X)
    with np.errstate(over="ignore"):
        return _pvalues_unit(X / c[..., None], b / c)


def _pvalues_unit(X, b):
    n, mean, sd, g, m2 = _moments(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = sd > 0
        S = (mean - b) / np.where(pos, sd, 1.0)
        T = np.where(pos, math.sqrt(n) * _hall_g(S, g, n), np.sign(mean - b) * np.inf)
        T = np.where(np.isnan(T), 0.0, T)  # sd = 0 and mean = b
        p_viol = _st.t.sf(T, n - 1)
        p_hall = _st.t.cdf(T, n - 1)
        gap = b - mean
        p_maurer = np.where(gap > 0, np.exp(-n * gap * gap / (2 * np.where(m2 > 0, m2, 0.0))), 1.0)
        p_maurer = np.where(np.isnan(p_maurer), 0.0, p_maurer)  # m2 = 0 (all errors 0) and b > 0
    return np.maximum(p_hall, p_maurer), p_viol


@dataclass(frozen=True)
class MeanCI:
    """Confidence limits for the mean. ``lower``/``upper`` are one-sided (1 - alpha) limits (the ones verdicts use);
    ``low``/``high`` are the two-sided (1 - alpha) interval (each side at alpha/2)."""

    mean: float
    sd: float
    n: int
    skewness: float
    alpha: float
    lower: float
    upper: float
    low: float
    high: float
    method: str = "lower: Hall-t; upper: max(Hall-t, Maurer)"


def mean_ci(errors, alpha=0.05) -> MeanCI:
    """Confidence limits for the population mean of the per-seed errors (see the module docstring)."""
    x = _errors(errors)
    a = _alpha(alpha)
    mean, sd, g = _mean_sd_skew(x)
    lo, up = _limits(x, a)
    low, high = _limits(x, a / 2)
    return MeanCI(mean, sd, x.size, g, a, float(lo), float(up), float(low), float(high))


def mean_pvalues(errors, bound) -> tuple[float, float]:
    """(p_holds, p_violated): p-values of H0a: mean > bound and H0b: mean <= bound, consistent with mean_ci."""
    x = _errors(errors)
    ph, pv = _pvalues(x, _bound(bound))
    return float(ph), float(pv)


# --- heavy-tail diagnostic for asymptotic verdicts -----------------------------------------------------------------
# The coverage of the asymptotic upper limit is simulated on a reference family (docs/statistics.md section 3); the
# heaviest members are lognormal(sigma_log = 1), gamma(0.5) and the exponential. The diagnostic statistic is the
# log ratio of the largest error to the median error, log(max / median) (scale-free); a sample whose statistic
# exceeds the 99% quantile of that statistic over the reference family at the same n lies outside the simulated
# domain.
TAIL_REFERENCE = ("lognormal(1)", "gamma(0.5)", "exponential")
TAIL_QUANTILE = 0.99


def _tail_stat(X):
    """log(max / median) along the last axis of positive-shifted data (X - min(0, min X) + tiny)."""
    a = np.minimum(0.0, X.min(-1, keepdims=True))
    Y = X - a
    med = np.median(Y, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(Y.max(-1)) - np.log(med)
    return np.where(np.isfinite(r), r, np.where(Y.max(-1) > 0, np.inf, 0.0))


# 99% quantile of log(max/median), maximised over TAIL_REFERENCE, simulated with 20,000 samples per law (2,000 at
# n = 2000; script: docs/statistics.md section 3b); linear interpolation in log n in between, constant outside.
TAIL_TABLE = {5: 4.708, 10: 4.016, 20: 3.867, 30: 3.765, 50: 3.687, 100: 3.731, 200: 3.885, 300: 3.979,
              500: 4.116, 1000: 4.275, 2000: 4.416}


def tail_threshold(n: int) -> float:
    """Calibrated limit of log(max/median) at sample size n (TAIL_TABLE, interpolated in log n)."""
    ns = np.array(sorted(TAIL_TABLE), dtype=float)
    return float(np.interp(math.log(max(int(n), 1)), np.log(ns), [TAIL_TABLE[k] for k in sorted(TAIL_TABLE)]))


def simulate_tail_threshold(n: int, reps: int = 20000, seed: int = 0) -> float:
    """Re-simulate TAIL_TABLE's entry at n (for tests and docs)."""
    rng = np.random.default_rng(seed)
    draws = (rng.lognormal(0.0, 1.0, (reps, n)), rng.gamma(0.5, 1.0, (reps, n)), rng.exponential(1.0, (reps, n)))
    return float(max(np.quantile(_tail_stat(D), TAIL_QUANTILE) for D in draws))


# Small-sample rules (issue 10, item 3). Misses of the asymptotic upper limit on heavy-tailed laws come from samples
# in which the rare large values did not occur, so log(max/median) cannot see them. Two further rules flag samples
# that are not clearly lighter-tailed than the laws of docs/statistics.md section 3b:
# * degenerate: fewer than 3 distinct values (a two-point law whose rare value was not observed looks constant).
#   A constant sample from a noise-free run (deterministic=True) is exact and is not flagged.
# * spread: S = log(q75 / q25) of the shifted errors above c(n) = SPREAD_TABLE (interpolated in log n). c(n) is the
#   largest threshold for which P(upper limit < mean AND not flagged) <= 0.04 for one test and for a Holm family of
#   20 tests, for every law of the list (bench/calibrate_tail.py); concentrated samples (S small, e.g. errors with a
#   coefficient of variation of a few percent) pass at every n, exponential-like samples only at large n.
# c(n) from `python bench/calibrate_tail.py 20000 2000 3 4 5 7 10 15 20 30 50 70 100 150 200 300 500` (20,000 single tests and 2,000 families of 20 per law and n),
# made non-decreasing in n by c(n) <- min over n' >= n (the raw value at n = 4 was 0.209 > c(5) = 0.134: Monte-Carlo
# noise); linear interpolation in log n in between (c is concave in log n, so this errs on the flagging side);
# below n = 3 every sample is flagged; beyond the last entry its value is used.
SPREAD_TABLE = {3: 0.101, 4: 0.134, 5: 0.134, 7: 0.454, 10: 0.654, 15: 0.963, 20: 1.127, 30: 1.313, 50: 1.470,
                70: 1.535, 100: 1.598, 150: 1.687, 200: 1.731, 300: 1.748, 500: 1.830}
DEGENERATE_DISTINCT = 3


def _spread_stat(X):
    """log(q75 / q25) along the last axis of the shifted data X - min(0, min X) (inf when q25 = 0 < q75)."""
    Y = X - np.minimum(0.0, X.min(-1, keepdims=True))
    q25, q75 = np.quantile(Y, [0.25, 0.75], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(q75) - np.log(q25)
    return np.where(np.isfinite(r), r, np.where(q75 > q25, np.inf, 0.0))


def _distinct(X):
    s = np.sort(X, -1)
    return (np.diff(s, axis=-1) > 0).sum(-1) + 1


def spread_threshold(n: int) -> float:
    """c(n) of SPREAD_TABLE (interpolated linearly in log n; the last entry beyond the grid; 0 below it)."""
    ns = sorted(SPREAD_TABLE)
    if n < ns[0]:
        return 0.0
    if n >= ns[-1]:
        return SPREAD_TABLE[ns[-1]]
    vals = np.array([SPREAD_TABLE[k] for k in ns])
    if np.isinf(vals).any():  # interpolate only between finite entries; inf from the first inf entry on
        i = next(j for j, k in enumerate(ns) if math.isinf(SPREAD_TABLE[k]))
        if n >= ns[i]:
            return math.inf
        ns, vals = ns[:i], vals[:i]
        if n >= ns[-1]:
            return float(vals[-1])
    return float(np.interp(math.log(n), np.log(ns), vals))


def _other_flags(X):
    """The log(max/median) and degenerate-sample flags along the last axis (for calibration and tests)."""
    n = X.shape[-1]
    return (_tail_stat(X) > tail_threshold(n)) | (_distinct(X) < DEGENERATE_DISTINCT)


def tail_flags(X):
    """Every flag of tail_diagnostic, vectorised along the last axis of X (..., n) (deterministic=False)."""
    return _other_flags(X) | (_spread_stat(X) > spread_threshold(X.shape[-1]))


def tail_diagnostic(errors, deterministic: bool = False) -> dict:
    """{"heavy_tail": bool, "tail_stat": log(max/median), "tail_threshold": its calibrated limit at this n,
    "spread_stat": log(q75/q25), "spread_threshold": c(n), "tail_reason": text}. heavy_tail is True when the sample
    lies outside the domain where the asymptotic upper limit's wrong-"holds" rate was simulated to be <= alpha:
    log(max/median) above the 99% point of the reference family; fewer than 3 distinct values (unless
    ``deterministic``: a constant sample from a noise-free run is exact); or log(q75/q25) above c(n) (calibrated so
    that P(upper limit < mean and not flagged) <= alpha on the laws of docs/statistics.md section 3b at n = 10, 30,
    100, alone and in a Holm family of 20). Non-finite samples are left to the caller (never flagged here)."""
    x = np.asarray(errors, dtype=np.float64)
    out = {"heavy_tail": False, "tail_stat": math.nan, "tail_threshold": math.nan, "spread_stat": math.nan,
           "spread_threshold": math.nan, "tail_reason": ""}
    if not np.all(np.isfinite(x)) or x.size == 0:
        return out
    n = x.size
    distinct = int(_distinct(x[None])[0])
    if deterministic and distinct == 1:
        return out
    stat = float(_tail_stat(x[None])[0])
    thr = tail_threshold(n)
    spread = float(_spread_stat(x[None])[0])
    c = spread_threshold(n)
    out.update(tail_stat=stat, tail_threshold=thr, spread_stat=spread, spread_threshold=c)
    reasons = []
    if distinct < DEGENERATE_DISTINCT:
        reasons.append(f"only {distinct} distinct value(s) among {n} seeds: a rare large value may be unobserved")
    if stat > thr:
        reasons.append(f"log(max/median) = {stat:.3g} > {thr:.3g}, the 99% point over the simulated-coverage "
                       f"family ({', '.join(TAIL_REFERENCE)}) at n = {n}")
    if spread > c:
        reasons.append(f"log(q75/q25) = {spread:.3g} > {c:.3g}, the largest spread at n = {n} for which the "
                       "simulated wrong-holds rate is <= alpha (docs/statistics.md section 3b)")
    out.update(heavy_tail=bool(reasons), tail_reason="; ".join(reasons))
    return out


# --- verdicts ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """A verdict on "statistic <= bound". ``ci_low``/``ci_high`` are one-sided limits at levels
    ``alpha_low``/``alpha_high`` (alpha itself, or the Holm step level in a family); ``verdict`` is "holds" when
    p_holds (adjusted) <= alpha, i.e. ci_high < bound, "violated" when p_violated (adjusted) <= alpha, i.e.
    ci_low > bound, otherwise "inconclusive" with ``seeds_needed`` (an estimate, or None)."""

    statistic: str  # "mean" or "exceedance"
    value: float  # sample mean, or fraction of seeds with error > threshold
    ci_low: float
    ci_high: float
    bound: float  # bound on the mean, or p_allowed
    ratio: float  # bound / value
    verdict: str
    n: int
    p_holds: float
    p_violated: float
    alpha: float
    alpha_low: float
    alpha_high: float
    correction: str = "none"
    p_holds_adj: float | None = None
    p_violated_adj: float | None = None
    seeds_needed: int | None = None
    method: str = ""  # one of METHODS
    extra: dict = field(default_factory=dict)
    _limits: Callable = field(default=None, repr=False, compare=False)
    _seeds: Callable = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Flat, JSON-friendly dict (drops the internal callables)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        out.update({f"extra_{k}": v for k, v in out.pop("extra").items()})
        return out


def _decide(p_holds, p_viol, alpha, heavy_tail=False):
    if p_holds <= alpha:
        return HEAVY_TAIL if heavy_tail else "holds"
    if p_viol <= alpha:
        return "violated"
    return "inconclusive"


def _ratio(bound, value):
    if value == 0:
        return math.inf if bound > 0 else (math.nan if bound == 0 else -math.inf)
    return bound / value


def _mean_seeds_needed(x, bound, alpha, max_n=10 ** 8):
    """Seeds at which the relevant limit would reach the bound if the observed mean and spread persist
    (half-widths scale as 1/sqrt(n)). None when the mean equals the bound or the spread is 0."""
    n = x.size
    mean = _mean_sd_skew(x)[0]
    gap = bound - mean
    if gap == 0 or not math.isfinite(gap):
        return None
    lo, up = _limits(x, alpha)
    half = float(up - mean) if gap > 0 else float(mean - lo)
    if not (half > 0 and math.isfinite(half)):
        return None
    need = n * (half / abs(gap)) ** 2
    if not math.isfinite(need):
        return None
    need = math.ceil(need)
    return None if need > max_n else max(need, n + 1)


def verdict_mean(errors, bound, alpha=0.05, deterministic: bool = False) -> Verdict:
    """Verdict on E[error] <= bound from per-seed errors (non-negative, right-skewed; n >= 2, validated for n >= 10).

    holds: upper limit < bound; violated: lower limit > bound; both one-sided at level 1 - alpha (the two wrong
    verdicts are exclusive, so the probability of a wrong verdict is <= alpha up to the method's accuracy).
    A "holds" on a sample that tail_diagnostic flags reads HEAVY_TAIL instead; deterministic=True (a noise-free
    run, every seed gives the same error) exempts a constant sample from the degenerate-sample flag."""
    x = _errors(errors)
    a = _alpha(alpha)
    b = _bound(bound)
    lo, up = (float(v) for v in _limits(x, a))
    ph, pv = (float(v) for v in _pvalues(x, b))
    diag = tail_diagnostic(x, deterministic)
    verdict = _decide(ph, pv, a, diag["heavy_tail"])
    mean, sd, _ = _mean_sd_skew(x)
    return Verdict(
        statistic="mean", value=mean, ci_low=lo, ci_high=up, bound=b, ratio=_ratio(b, mean), verdict=verdict,
        n=x.size, p_holds=ph, p_violated=pv, alpha=a, alpha_low=a, alpha_high=a,
        seeds_needed=_mean_seeds_needed(x, b, a) if verdict == "inconclusive" else None,
        method="asymptotic", extra={"sd": sd, "method_detail": MeanCI.method, "deterministic": bool(deterministic),
                                    **diag},
        _limits=lambda al: tuple(float(v) for v in _limits(x, al)),
        _seeds=lambda al: _mean_seeds_needed(x, b, al),
    )


def _bounded_seeds_needed(bm, mean, bound, alpha, max_n=10 ** 8):
    """As _mean_seeds_needed, with the betting limits' half-width (which also scales as 1/sqrt(n))."""
    gap = bound - mean
    if gap == 0 or not math.isfinite(gap):
        return None
    lo, up = bm.limits(alpha)
    half = (up - mean) if gap > 0 else (mean - lo)
    if not (half > 0 and math.isfinite(half)):
        return None
    need = bm.n * (half / abs(gap)) ** 2
    if not math.isfinite(need) or need > max_n:
        return None
    return max(math.ceil(need), bm.n + 1)


def verdict_mean_bounded(errors, bound, lo, hi, alpha=0.05, alpha_tune=None, n_tune="n") -> Verdict:
    """Verdict on E[error] <= bound for errors known to lie in [lo, hi] (a certified range): finite-sample exact
    one-sided betting limits and Ville p-values (theorycheck.betting; Waudby-Smith & Ramdas 2024). The bets are
    tuned once at ``alpha_tune`` (default alpha) and ``n_tune`` ("n": this sample size; None: time-uniform), so the
    limits at any Holm level and the p-values come from the same capital processes. Raises ValueError when an
    error leaves [lo, hi]. method = "exact-bounded"."""
    from .betting import BoundedMean

    x = _errors(errors, min_n=1)
    a = _alpha(alpha)
    b = _bound(bound)
    bm = BoundedMean(x, lo, hi, a if alpha_tune is None else alpha_tune, n_tune)
    lo_l, up_l = bm.limits(a)
    ph, pv = bm.pvalues(b)
    verdict = _decide(ph, pv, a)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Verdict(
        statistic="mean", value=mean, ci_low=lo_l, ci_high=up_l, bound=b, ratio=_ratio(b, mean), verdict=verdict,
        n=x.size, p_holds=ph, p_violated=pv, alpha=a, alpha_low=a, alpha_high=a,
        seeds_needed=_bounded_seeds_needed(bm, mean, b, a) if verdict == "inconclusive" else None,
        method="exact-bounded",
        extra={"sd": sd, "range_low": float(lo), "range_high": float(hi),
               "method_detail": "betting CI, hedged-free PrPl bets (Waudby-Smith & Ramdas 2024)"},
        _limits=bm.limits, _seeds=lambda al: _bounded_seeds_needed(bm, mean, b, al),
    )


def clopper_pearson(k, n, alpha=0.05) -> tuple[float, float]:
    """One-sided (1 - alpha) Clopper-Pearson limits (lower, upper) for a binomial proportion (k successes of n).
    Together they form the exact two-sided (1 - 2 alpha) interval."""
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need n >= 1 and 0 <= k <= n, got k={k}, n={n}")
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    lower = 0.0 if k == 0 else float(_st.beta.ppf(a, k, n - k + 1))
    upper = 1.0 if k == n else float(_st.beta.ppf(1 - a, k + 1, n - k))
    return lower, upper


def _binom_seeds_needed(phat, p0, alpha, n, max_n=10 ** 8):
    """Seeds at which the Clopper-Pearson limit would cross p0 if the observed fraction phat persisted."""
    if phat == p0 or p0 <= 0 and phat <= p0 or p0 >= 1:
        return None

    def settled(N):
        k = phat * N  # real k: the beta-quantile form of CP interpolates
        if phat < p0:
            return (1.0 if k >= N else _st.beta.ppf(1 - alpha, k + 1, N - k)) <= p0
        return (0.0 if k <= 0 else _st.beta.ppf(alpha, k, N - k + 1)) > p0

    hi = max(n + 1, 2)
    while not settled(hi):
        hi *= 2
        if hi > max_n:
            return None
    lo = max(n, hi // 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if settled(mid) else (mid, hi)
    return max(hi, n + 1)


def exceedance_test(errors, threshold, p_allowed, alpha=0.05) -> Verdict:
    """Verdict on P(error > threshold) <= p_allowed (e.g. Theorem 1(b): threshold = K0 + K1, p_allowed =
    exp(-Lam^2/3) + exp(-Lam)). Counts k seeds with error > threshold; exact binomial throughout:
    violated when the one-sided (1-alpha) CP lower limit > p_allowed (p_violated = P(Bin(n, p_allowed) >= k) is the
    exact one-sided p-value of H0: p <= p_allowed), holds when the CP upper limit <= p_allowed
    (p_holds = P(Bin(n, p_allowed) <= k)), otherwise inconclusive."""
    x = _errors(errors, min_n=1)
    a = _alpha(alpha)
    thr = _bound(threshold, "threshold")
    p0 = float(p_allowed)
    if not 0 <= p0 <= 1:
        raise ValueError(f"p_allowed must be in [0, 1], got {p_allowed!r}")
    n = x.size
    k = int(np.count_nonzero(x > thr))
    lo, up = clopper_pearson(k, n, a)
    pv = float(_st.binom.sf(k - 1, n, p0))  # P(Bin >= k)
    ph = float(_st.binom.cdf(k, n, p0)) if p0 < 1 else 0.0  # P(Bin <= k); H0: p > 1 is impossible
    verdict = _decide(ph, pv, a)
    phat = k / n
    return Verdict(
        statistic="exceedance", value=phat, ci_low=lo, ci_high=up, bound=p0, ratio=_ratio(p0, phat),
        verdict=verdict, n=n, p_holds=ph, p_violated=pv, alpha=a, alpha_low=a, alpha_high=a,
        seeds_needed=_binom_seeds_needed(phat, p0, a, n) if verdict == "inconclusive" else None,
        method="exact-binomial", extra={"threshold": thr, "count": k, "method_detail": "Clopper-Pearson"},
        _limits=lambda al: clopper_pearson(k, n, al),
        _seeds=lambda al: _binom_seeds_needed(phat, p0, al, n),
    )


# --- multiple comparisons ----------------------------------------------------------------------------------------
def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order: p~_(i) = max_{j<=i} min(1, (m-j+1) p_(j))."""
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    if p.size == 0:
        return p
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def verdicts_family(tests: Sequence[Verdict], alpha=0.05) -> list[Verdict]:
    """Re-label a family of verdicts (all checks of one ``check`` invocation) with Holm's procedure over the 2N
    one-sided p-values (p_holds_i, p_violated_i). Controls the probability of any wrong verdict at alpha under
    arbitrary dependence. Each reported limit is recomputed at its Holm step level: alpha/(2N - r + 1) for a
    hypothesis rejected at step r, and alpha/(2N - r* + 1) for the rest, r* being the first step not rejected, so
    "ci_high < bound" <=> holds and "ci_low > bound" <=> violated stays true after correction."""
    a = _alpha(alpha)
    tests = list(tests)
    if not tests:
        return []
    for t in tests:
        if not isinstance(t, Verdict) or t._limits is None:
            raise ValueError("verdicts_family needs Verdict objects from verdict_mean / exceedance_test")
    P = np.array([[t.p_holds, t.p_violated] for t in tests]).ravel()
    Mtot = P.size
    adj = holm(P)
    order = np.argsort(P, kind="stable")
    rank = np.empty(Mtot, dtype=int)
    rank[order] = np.arange(1, Mtot + 1)
    rejected = adj <= a
    r_star = int(rejected.sum()) + 1
    level = np.where(rejected, a / (Mtot - rank + 1), a / max(Mtot - r_star + 1, 1))
    out = []
    for i, t in enumerate(tests):
        ph, pv = float(adj[2 * i]), float(adj[2 * i + 1])
        al_hi, al_lo = float(level[2 * i]), float(level[2 * i + 1])
        lo = t._limits(al_lo)[0]
        hi = t._limits(al_hi)[1]
        verdict = _decide(ph, pv, a, bool(t.extra.get("heavy_tail", False)))
        seeds = None
        if verdict == "inconclusive":
            seeds = t._seeds(al_hi if t.value < t.bound else al_lo)
        out.append(replace(t, ci_low=float(lo), ci_high=float(hi), verdict=verdict, alpha=a, alpha_low=al_lo,
                           alpha_high=al_hi, correction="holm", p_holds_adj=ph, p_violated_adj=pv,
                           seeds_needed=seeds))
    return out


# --- rates, monotonicity, quantiles ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlopeFit:
    """OLS fit log(err) = intercept + slope * log(K); (ci_low, ci_high) is the two-sided (1-alpha) t interval."""

    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    r2: float
    n: int
    alpha: float


def loglog_slope(K, mean_err, alpha=0.05) -> SlopeFit:
    """Slope of log(mean_err) against log(K) by OLS, with a t_{n-2} interval. The interval measures how well one
    power law fits these points (their deviations are treated as independent); it is not a seed-noise interval."""
    K = np.asarray(K, dtype=np.float64).ravel()
    y = np.asarray(mean_err, dtype=np.float64).ravel()
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if K.shape != y.shape or K.size < 2:
        raise ValueError(f"K and mean_err must have the same length >= 2, got {K.size} and {y.size}")
    if np.any(~(K > 0)) or np.any(~(y > 0)) or not np.all(np.isfinite(K)) or not np.all(np.isfinite(y)):
        raise ValueError("K and mean_err must be finite and > 0 (logs are taken)")
    lx, ly = np.log(K), np.log(y)
    n = K.size
    xc = lx - lx.mean()
    sxx = float(xc @ xc)
    if sxx == 0:
        raise ValueError("K must take at least two distinct values")
    slope = float(xc @ (ly - ly.mean()) / sxx)
    intercept = float(ly.mean() - slope * lx.mean())
    resid = ly - intercept - slope * lx
    sst = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / sst if sst > 0 else 1.0
    if n > 2:
        se = math.sqrt(float(resid @ resid) / (n - 2) / sxx)
        h = float(_st.t.ppf(1 - a / 2, n - 2)) * se
    else:
        h = math.inf
    return SlopeFit(slope, slope - h, slope + h, intercept, r2, n, a)


@dataclass(frozen=True)
class RateCheck:
    """verdict: "consistent" (predicted exponent inside the CI), "faster" (CI entirely below the predicted
    exponent: the error decays faster, as an upper-bound rate allows) or "slower" (CI entirely above it)."""

    verdict: str
    predicted: float
    ci_low: float
    ci_high: float


def rate_check(slope_ci, predicted, tol=0.0) -> RateCheck:
    """Compare a slope interval (a SlopeFit or (low, high)) with a predicted exponent, e.g. -0.5 for K^{-1/2}
    or -2 for K^{-2}; ``tol`` widens the interval on both sides."""
    lo, hi = (slope_ci.ci_low, slope_ci.ci_high) if isinstance(slope_ci, SlopeFit) else map(float, slope_ci)
    p = float(predicted)
    if lo > hi:
        raise ValueError(f"slope_ci must have low <= high, got ({lo}, {hi})")
    if hi + tol < p:
        v = "faster"
    elif lo - tol > p:
        v = "slower"
    else:
        v = "consistent"
    return RateCheck(v, p, lo, hi)


def is_nonincreasing(values, tol=0.0, rtol=0.0) -> bool:
    """True when values[i+1] <= values[i] + tol + rtol * |values[i]| for every i (NaN counts as a failure)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        return bool(np.all(np.isfinite(v)) or v.size == 0)
    return bool(np.all(v[1:] <= v[:-1] + tol + rtol * np.abs(v[:-1])))


@dataclass(frozen=True)
class QuantileCurve:
    """Empirical quantiles q (order statistics, 'inverted_cdf') with distribution-free order-statistic limits
    [lo, hi] of level >= 1 - alpha_each two-sided per (prob, checkpoint); -inf/+inf where n is too small."""

    probs: np.ndarray
    q: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    alpha_each: float


def _os_indices(n, p, a):
    """1-based order-statistic indices (l, u) with P(X_(l) > q_p) <= a/2 and P(X_(u) < q_p) <= a/2; 0 / n+1 when
    no such order statistic exists."""
    j = np.arange(n)  # j = index - 1
    cdf = _st.binom.cdf(j, n, p)  # P(B <= index-1) = P(X_(index) > q_p)
    sf = _st.binom.sf(j, n, p)  # P(B >= index)   = P(X_(index) < q_p)
    ok_l = np.nonzero(cdf <= a / 2)[0]
    ok_u = np.nonzero(sf <= a / 2)[0]
    l = int(ok_l[-1]) + 1 if ok_l.size else 0
    u = int(ok_u[0]) + 1 if ok_u.size else n + 1
    return l, u


def quantile_curve(errors, probs, alpha=0.05, simultaneous=False) -> QuantileCurve:
    """Empirical quantiles of per-seed errors with an exact distribution-free band from order statistics
    (the binomial argument; valid for any continuous distribution, conservative with ties).

    errors: (n,) or (n_seeds, n_checkpoints). With simultaneous=True the level is split over all
    (prob, checkpoint) pairs (Bonferroni)."""
    X = np.asarray(errors, dtype=np.float64)
    one_d = X.ndim == 1
    if one_d:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"errors must be (n,) or (n_seeds, n_checkpoints), got shape {np.shape(errors)}")
    if not np.all(np.isfinite(X)):
        raise ValueError("errors must be finite")
    P = np.asarray(probs, dtype=np.float64).ravel()
    if P.size == 0 or np.any((P <= 0) | (P >= 1)):
        raise ValueError("probs must lie in (0, 1)")
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if simultaneous:
        a = a / (P.size * X.shape[1])
    n = X.shape[0]
    Xs = np.sort(X, axis=0)
    q = np.quantile(X, P, axis=0, method="inverted_cdf")
    lo = np.full((P.size, X.shape[1]), -np.inf)
    hi = np.full((P.size, X.shape[1]), np.inf)
    for i, p in enumerate(P):
        l, u = _os_indices(n, p, a)
        if l >= 1:
            lo[i] = Xs[l - 1]
        if u <= n:
            hi[i] = Xs[u - 1]
    if one_d:
        q, lo, hi = q[:, 0], lo[:, 0], hi[:, 0]
    return QuantileCurve(P, q, lo, hi, a)


# --- coverage simulation -----------------------------------------------------------------------------------------
def simulate_coverage(draw, true_mean, n, reps=2000, alpha=0.05, seed=0) -> dict:
    """Monte-Carlo coverage of the one-sided (1-alpha) limits of mean_ci: ``draw(rng, size)`` returns samples of
    shape ``size`` = (reps, n). Returns {"upper": P(mean <= upper), "lower": P(mean >= lower), "reps": reps}."""
    rng = np.random.default_rng(seed)
    X = np.asarray(draw(rng, (reps, n)), dtype=np.float64)
    lo, up = _limits(X, _alpha(alpha))
    return {"upper": float(np.mean(true_mean <= up)), "lower": float(np.mean(true_mean >= lo)), "reps": reps}
