"""Bound calculators for Theorems 1(a), 1(b) and 2 of [ZJDC] and their comparator forms (THEORY §4).

Pure functions of declared constants (floats); no torch. Conventions:

* ``V`` is V_d(x*, x0) (or V_d(u, x0) for a comparator u), ``D_X = max_{x in X} ||x - x*||`` (``D_u`` the same
  with u), ``F0_gap = F(x0) - F_ref`` (F_ref = F* or F_inf), ``Delta_u = F(u) - F_ref >= 0``.
* S = K/m (Theorem 1 needs K % m == 0). Theorem 2 only needs m >= 1.
* Step parameter: every "pre-optimisation" and comparator bound is valid for the step actually run, given either as
  ``lam`` = L * eta in (0, 2/3] or as ``eta`` = alpha_s (1 - beta_s) > 0 with L * eta <= 2/3 (``eta`` is required
  when L = 0, where lam is 0). The schedules below set eta = lam / L, or its L -> 0 limit.

Derivations of the comparator forms: docs/comparator_bounds.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

__all__ = [
    "Thm1Schedule", "Thm2Schedule",
    "lambda1", "thm1_schedule", "thm1a_bound", "thm1a_bound_lambda", "thm1a_comparator",
    "thm1b_K1", "thm1b_bound", "thm1b_prob", "thm1b_lambda_for_prob", "thm1b_comparator",
    "lambda2", "thm2_schedule", "thm2_bound", "thm2_bound_lambda", "thm2_comparator",
    "min_over_comparators", "k0_argmin_m",
]

LAM_MAX = 2.0 / 3.0


# --- validation --------------------------------------------------------------------------------------------------
def _num(name, v, lo=None, lo_open=False, allow_inf=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {v!r}")
    v = float(v)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo:g}, got {v!r}")
    return v


def _int(name, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not (isinstance(v, float) and v.is_integer()):
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    v = int(v)
    if v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return v


def _common(L, sigma, M, m, K, divisible):
    L = _num("L", L, 0.0)
    sigma = _num("sigma", sigma, 0.0)
    M = _num("M", M, 0.0)
    m = _int("m", m)
    K = _int("K", K)
    if divisible and K % m:
        raise ValueError(f"Theorem 1 needs K divisible by m (S = K/m epochs), got K={K}, m={m}")
    return L, sigma, M, m, K


def _step(L, lam, eta):
    """Resolve the step parameter to eta = alpha(1 - beta) > 0 with L * eta <= 2/3."""
    if (lam is None) == (eta is None):
        raise ValueError("give exactly one of lam (= L*eta, in (0, 2/3]) or eta (= alpha_s(1-beta_s) > 0)")
    if lam is not None:
        lam = _num("lam", lam, 0.0, lo_open=True)
        if lam > LAM_MAX * (1 + 1e-12):
            raise ValueError(f"lam must be in (0, 2/3], got {lam!r}")
        if L == 0:
            raise ValueError("with L = 0, lam = L*eta is 0: give the step as eta instead")
        return lam / L
    eta = _num("eta", eta, 0.0, lo_open=True)
    if L * eta > LAM_MAX * (1 + 1e-12):
        raise ValueError(f"eta must satisfy L*eta <= 2/3, got L*eta = {L * eta!r}")
    return eta


# --- Theorem 1 (AM1-SGD) -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thm1Schedule:
    """Theorem 1's parameters (THEORY §4.2): beta_s = s/(s+2), alpha_s = eta (s+2)/2, so alpha_s (1-beta_s) = eta.

    ``lam`` = lambda_1 = L * eta (0.0 in the L = 0 limit), ``eta`` the constant momentum-form step."""

    lam: float
    eta: float
    m: int
    S: int

    def beta(self, s):
        s = np.asarray(s, dtype=float)
        return s / (s + 2.0)

    def alpha(self, s):
        return self.eta * (np.asarray(s, dtype=float) + 2.0) / 2.0

    @property
    def betas(self) -> np.ndarray:
        return self.beta(np.arange(self.S))

    @property
    def alphas(self) -> np.ndarray:
        return self.alpha(np.arange(self.S))


def lambda1(L, V, sigma, M, m, S) -> float:
    """lambda_1 = min{2/3, L sqrt(V) / (sqrt(2m) sqrt(sigma^2+M^2) (S+1)^{3/2})} (THEORY §4.2, [ZJDC] Thm 1).

    Returns 2/3 when sigma = M = 0, and 0.0 when L = 0 (then the step is the L -> 0 limit, see thm1_schedule)."""
    L = _num("L", L, 0.0)
    V = _num("V", V, 0.0, lo_open=True)
    sigma, M = _num("sigma", sigma, 0.0), _num("M", M, 0.0)
    m, S = _int("m", m), _int("S", S)
    noise = math.hypot(sigma, M)
    if noise == 0:
        return LAM_MAX
    return min(LAM_MAX, L * math.sqrt(V) / (math.sqrt(2 * m) * noise * (S + 1) ** 1.5))


def thm1_schedule(L, V, sigma, M, m, K) -> Thm1Schedule:
    """Theorem 1's schedule: eta = lambda_1 / L, or for L = 0 the limit
    eta = sqrt(V) / (sqrt(2m) sqrt(sigma^2+M^2) (S+1)^{3/2}) (THEORY §4.2); alpha_s = eta (s+2)/2, beta_s = s/(s+2)."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=True)
    V = _num("V", V, 0.0, lo_open=True)
    S = K // m
    lam = lambda1(L, V, sigma, M, m, S)
    if L > 0:
        eta = lam / L
    else:
        noise = math.hypot(sigma, M)
        if noise == 0:
            raise ValueError("L = 0 and sigma = M = 0: no finite step is prescribed (f is affine and exact)")
        eta = math.sqrt(V) / (math.sqrt(2 * m) * noise * (S + 1) ** 1.5)
    return Thm1Schedule(lam=lam, eta=eta, m=m, S=S)


def thm1a_bound(L, V, sigma, M, m, K) -> float:
    """K0(m) = 6 L m V / (K+m)^2 + 8 sqrt(2V) sqrt(sigma^2+M^2) / sqrt(K+m) (THEORY §4.2, [ZJDC] Thm 1a).

    Bound on E F(xt_S) - F* for AM1-SGD run with thm1_schedule. It dominates thm1a_bound_lambda at lambda_1."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=True)
    V = _num("V", V, 0.0, lo_open=True)
    return 6 * L * m * V / (K + m) ** 2 + 8 * math.sqrt(2 * V) * math.hypot(sigma, M) / math.sqrt(K + m)


def thm1a_bound_lambda(L, V, sigma, M, m, K, lam=None, *, eta=None) -> float:
    """Pre-optimisation bound of Theorem 1(a) (THEORY §4.2, last display before optimising over lambda_1):

        E F(xt_S) - F* <= 4 L V / (lam m (S+1)^2) + 8 lam (sigma^2+M^2)(S+1) / L
                        = 4 V / (eta m (S+1)^2) + 8 eta (sigma^2+M^2)(S+1),

    valid for the step actually run, lam = L*eta in (0, 2/3] (any eta > 0 when L = 0)."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=True)
    V = _num("V", V, 0.0, lo_open=True)
    return thm1a_comparator(L, V, 0.0, sigma, M, m, K, eta=_step(L, lam, eta))


def thm1a_comparator(L, V_u, Delta_u, sigma, M, m, K, lam=None, *, eta=None) -> float:
    """Comparator form of Theorem 1(a) (THEORY §4.3b; docs/comparator_bounds.md §2): for every u in X,

        E F(xt_S) - F_ref <= (1 + (S-1)/(S+1)^2) Delta_u + 4 L V_u / (lam m (S+1)^2) + 8 lam (sigma^2+M^2)(S+1) / L,

    with Delta_u = F(u) - F_ref >= 0, V_u = V_d(u, x0) >= 0 and lam = L*eta the step actually run."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=True)
    V_u = _num("V_u", V_u, 0.0)
    Delta_u = _num("Delta_u", Delta_u, 0.0)
    eta = _step(L, lam, eta)
    S1 = K // m + 1
    return ((1 + (S1 - 2) / S1 ** 2) * Delta_u + 4 * V_u / (eta * m * S1 ** 2)
            + 8 * eta * (sigma ** 2 + M ** 2) * S1)


def thm1b_K1(sigma, V, D_X, m, K, Lam) -> float:
    """K1(m, Lam) = 4 sqrt(6) Lam sigma (sqrt(3V) + D_X) / (3 sqrt(K+m)) (THEORY §4.3, [ZJDC] Thm 1b)."""
    sigma = _num("sigma", sigma, 0.0)
    V = _num("V", V, 0.0, lo_open=True)
    D_X = _num("D_X", D_X, 0.0)
    m, K = _int("m", m), _int("K", K)
    Lam = _num("Lam", Lam, 0.0)
    return 4 * math.sqrt(6) * Lam * sigma * (math.sqrt(3 * V) + D_X) / (3 * math.sqrt(K + m))


def thm1b_bound(L, V, sigma, M, m, K, D_X, Lam) -> float:
    """K0(m) + K1(m, Lam): with probability >= 1 - thm1b_prob(Lam), F(xt_S) - F* <= this (THEORY §4.3)."""
    return thm1a_bound(L, V, sigma, M, m, K) + thm1b_K1(sigma, V, D_X, m, K, Lam)


def thm1b_prob(Lam) -> float:
    """Failure probability of Theorem 1(b): exp(-Lam^2/3) + exp(-Lam) (THEORY §4.3); decreasing from 2 at Lam = 0."""
    Lam = _num("Lam", Lam, 0.0, allow_inf=True)
    return math.exp(-Lam * Lam / 3) + math.exp(-Lam)


def thm1b_lambda_for_prob(p, tol=1e-13) -> float:
    """Inverse of thm1b_prob: the Lam >= 0 with exp(-Lam^2/3) + exp(-Lam) = p, for p in (0, 2] (bisection)."""
    p = _num("p", p, 0.0, lo_open=True)
    if p > 2:
        raise ValueError(f"p must be in (0, 2], got {p!r}")
    lo, hi = 0.0, 1.0
    while thm1b_prob(hi) > p:
        hi *= 2
    while hi - lo > tol * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        if thm1b_prob(mid) > p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def thm1b_comparator(L, V_u, Delta_u, D_u, sigma, M, m, K, Lam, lam=None, *, eta=None) -> float:
    """Comparator form of Theorem 1(b) (docs/comparator_bounds.md §4): for every u in X, with probability at least
    1 - (exp(-Lam^2/3) + exp(-Lam)),

        F(xt_S) - F_ref <= (1 + (S-1)/(S+1)^2) Delta_u + 4 V_u / (eta m (S+1)^2) + 8 eta (sigma^2+M^2)(S+1)
                           + Lam [ 8 eta sigma^2 (S+1) + 4 sqrt(6) sigma D_u / (3 sqrt(K+m)) ],

    where D_u = max_{x in X} ||x - u|| (not D_X) and eta = lam / L is the step actually run."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=True)
    D_u = _num("D_u", D_u, 0.0)
    Lam = _num("Lam", Lam, 0.0)
    eta = _step(L, lam, eta)
    base = thm1a_comparator(L, V_u, Delta_u, sigma, M, m, K, eta=eta)
    S1 = K // m + 1
    return base + Lam * (8 * eta * sigma ** 2 * S1 + 4 * math.sqrt(6) * sigma * D_u / (3 * math.sqrt(K + m)))


# --- Theorem 2 (AM2-SGD) -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thm2Schedule:
    """Theorem 2's parameters (THEORY §4.4): beta_k = k/(k+2m), alpha_k = eta (k/m + 2)/2, alpha_k(1-beta_k) = eta."""

    lam: float
    eta: float
    m: int
    K: int

    def beta(self, k):
        k = np.asarray(k, dtype=float)
        return k / (k + 2.0 * self.m)

    def alpha(self, k):
        return self.eta * (np.asarray(k, dtype=float) / self.m + 2.0) / 2.0

    @property
    def betas(self) -> np.ndarray:
        return self.beta(np.arange(self.K))

    @property
    def alphas(self) -> np.ndarray:
        return self.alpha(np.arange(self.K))


def _T2(m, K):
    return (K - 1) / m + 2.0  # m * T2 = K + 2m - 1


def lambda2(L, V, sigma, M, m, K) -> float:
    """lambda_2 = min{2/3, L sqrt(V) / (sqrt(m) (sigma+M) ((K-1)/m + 2)^{3/2})} (THEORY §4.4, [ZJDC] Thm 2).

    2/3 when sigma = M = 0; 0.0 when L = 0 (the step is then the L -> 0 limit, see thm2_schedule)."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=False)
    V = _num("V", V, 0.0, lo_open=True)
    if sigma + M == 0:
        return LAM_MAX
    return min(LAM_MAX, L * math.sqrt(V) / (math.sqrt(m) * (sigma + M) * _T2(m, K) ** 1.5))


def thm2_schedule(L, V, sigma, M, m, K) -> Thm2Schedule:
    """Theorem 2's schedule: eta = lambda_2 / L, or for L = 0 the limit
    eta = sqrt(V) / (sqrt(m) (sigma+M) ((K-1)/m+2)^{3/2}); alpha_k = eta (k/m+2)/2, beta_k = k/(k+2m) (THEORY §4.4)."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=False)
    V = _num("V", V, 0.0, lo_open=True)
    lam = lambda2(L, V, sigma, M, m, K)
    if L > 0:
        eta = lam / L
    else:
        if sigma + M == 0:
            raise ValueError("L = 0 and sigma = M = 0: no finite step is prescribed (f is affine and exact)")
        eta = math.sqrt(V) / (math.sqrt(m) * (sigma + M) * _T2(m, K) ** 1.5)
    return Thm2Schedule(lam=lam, eta=eta, m=m, K=K)


def thm2_bound(L, V, sigma, M, m, K, F0_gap) -> float:
    """Bound (3) of Theorem 2 (THEORY §4.4), on E F(phibar^K) - F*:

        [4 (m^2 - m) F0_gap + 6 L m V] / (K+2m-1)^2 + 8 sqrt(V) (sigma+M) / sqrt(K+2m-1),   F0_gap = F(x0) - F*."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=False)
    V = _num("V", V, 0.0, lo_open=True)
    F0_gap = _num("F0_gap", F0_gap, 0.0)
    N = K + 2 * m - 1
    return (4 * (m * m - m) * F0_gap + 6 * L * m * V) / N ** 2 + 8 * math.sqrt(V) * (sigma + M) / math.sqrt(N)


def thm2_bound_lambda(L, V, sigma, M, m, K, F0_gap, lam=None, *, eta=None) -> float:
    """Pre-optimisation bound (21) of Theorem 2 (THEORY §4.4), with T = (K-1)/m + 2:

        4 (m-1) F0_gap / (m T^2) + 4 L V / (lam m T^2) + 4 lam (sigma+M)^2 T / L,

    valid for the step actually run, lam = L*eta in (0, 2/3] (any eta > 0 when L = 0)."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=False)
    V = _num("V", V, 0.0, lo_open=True)
    return thm2_comparator(L, V, 0.0, sigma, M, m, K, F0_gap, eta=_step(L, lam, eta))


def thm2_comparator(L, V_u, Delta_u, sigma, M, m, K, F0_gap, lam=None, *, eta=None) -> float:
    """Comparator form of Theorem 2 (docs/comparator_bounds.md §3): for every u in X, with N = K + 2m - 1,

        E F(phibar^K) - F_ref <= (1 + (K-1)/N^2) Delta_u + 4 m (m-1) (F0_gap - Delta_u) / N^2
                                 + 4 m V_u / (eta N^2) + 4 eta (sigma+M)^2 N / m,

    with F0_gap = F(x0) - F_ref (so F0_gap - Delta_u = F(x0) - F(u), which may be negative), Delta_u = F(u) - F_ref,
    V_u = V_d(u, x0) and eta = lam / L the step actually run. At u = x* it is (21)."""
    L, sigma, M, m, K = _common(L, sigma, M, m, K, divisible=False)
    V_u = _num("V_u", V_u, 0.0)
    Delta_u = _num("Delta_u", Delta_u, 0.0)
    F0_gap = _num("F0_gap", F0_gap, 0.0)
    eta = _step(L, lam, eta)
    N = K + 2 * m - 1
    return ((1 + (K - 1) / N ** 2) * Delta_u + 4 * m * (m - 1) * (F0_gap - Delta_u) / N ** 2
            + 4 * m * V_u / (eta * N ** 2) + 4 * eta * (sigma + M) ** 2 * N / m)


# --- helpers -----------------------------------------------------------------------------------------------------
def _name(c):
    if isinstance(c, dict):
        return c.get("name")
    return getattr(c, "name", None)


def min_over_comparators(fn: Callable[[object], float], comparators: Iterable) -> tuple[float, str | None]:
    """min_u fn(u) over comparators (objects with ``.name`` or dicts with "name", e.g. problems.base.Comparator);
    returns (value, name of the minimiser). ``fn`` maps one comparator to its bound, e.g.
    ``lambda c: thm1a_comparator(L, c.V, c.delta, sigma, M, m, K, eta=eta)``."""
    best, best_name, seen = math.inf, None, False
    for c in comparators:
        seen = True
        v = float(fn(c))
        if math.isnan(v):
            raise ValueError(f"bound for comparator {_name(c)!r} is NaN")
        if v < best or best_name is None and v == best:
            best, best_name = v, _name(c)
    if not seen:
        raise ValueError("comparators must contain at least one comparator")
    return best, best_name


def k0_argmin_m(L, V, sigma, M, K) -> tuple[int, float]:
    """(m, K0(m)) minimising thm1a_bound over the divisors m of K. By THEORY §4.2's Remark (proved in
    docs/comparator_bounds.md §1) the minimiser is m = 1 or m = K; ties go to the smaller m."""
    K = _int("K", K)
    small = [d for d in range(1, math.isqrt(K) + 1) if K % d == 0]
    divisors = sorted(set(small) | {K // d for d in small})
    vals = [thm1a_bound(L, V, sigma, M, d, K) for d in divisors]
    i = int(np.argmin(vals))
    return divisors[i], vals[i]
