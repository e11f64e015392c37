"""Betting limits (theorycheck/betting.py) against an independent brute-force evaluation of the capital processes on a
grid of candidate means, their validity at the edges, and the verdict layer (stats.verdict_mean_bounded)."""
import math

import numpy as np
import pytest

from theorycheck import betting as B
from theorycheck import stats as S


def _brute_max_capital(z, lam, m, side, c=0.75):
    """Plain-Python product of the paper's factors with the m-dependent truncation (WSR 2024, Sec. 4)."""
    K, best = 1.0, 1.0
    for l, zi in zip(lam, z):
        if side == "up":
            lt = min(l, c / (1 - m)) if m < 1 else l
            K *= 1 + lt * (m - zi)
        else:
            lt = min(l, c / m) if m > 0 else l
            K *= 1 + lt * (zi - m)
        best = max(best, K)
    return best


@pytest.mark.parametrize("seed,n,law", [(1, 30, "beta"), (2, 10, "beta"), (3, 100, "two"), (4, 50, "unif")])
def test_limits_match_brute_force_grid(seed, n, law):
    rng = np.random.default_rng(seed)
    x = {"beta": lambda: rng.beta(0.5, 3, n), "two": lambda: np.where(rng.random(n) < 0.05, 1.0, 0.0),
         "unif": lambda: rng.random(n)}[law]()
    a = 0.05
    bm = B.BoundedMean(x, 0.0, 1.0, a)
    lo, up = bm.limits(a)
    grid = np.linspace(0, 1, 4001)
    up_grid = min((m for m in grid if _brute_max_capital(bm.Z, bm.lam, m, "up") >= 1 / a), default=1.0)
    lo_grid = max((m for m in grid if _brute_max_capital(bm.Z, bm.lam, m, "low") >= 1 / a), default=0.0)
    h = grid[1] - grid[0]
    assert up_grid - h <= up <= up_grid + 1e-12
    assert lo_grid - 1e-12 <= lo <= lo_grid + h
    # p-values are the reciprocal maximal capital, consistent with the limits
    for b in (0.1, up + 1e-9, up - 1e-6, 0.5):
        ph, pv = bm.pvalues(b)
        assert ph == pytest.approx(min(1.0, 1 / _brute_max_capital(bm.Z, bm.lam, b, "up")), rel=1e-9)
        assert pv == pytest.approx(min(1.0, 1 / _brute_max_capital(bm.Z, bm.lam, b, "low")), rel=1e-9)
        assert (ph <= a) == (up <= b)


def test_range_is_enforced_and_scaled():
    with pytest.raises(ValueError, match="declared range"):
        B.BoundedMean([0.5, 2.0], 0.0, 1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        B.BoundedMean([0.5], 1.0, 1.0)
    x = np.random.default_rng(0).random(40)
    a = B.bounded_mean(x, 0.0, 1.0)
    b = B.bounded_mean(3 * x - 1, -1.0, 2.0)  # affine equivariance
    assert b["upper"] == pytest.approx(3 * a["upper"] - 1, abs=1e-10)
    assert b["lower"] == pytest.approx(3 * a["lower"] - 1, abs=1e-10)


def test_bounded_verdicts_and_negative_control():
    x = np.random.default_rng(1).beta(1, 9, 200)  # mean 0.1 in [0, 1]
    v = S.verdict_mean_bounded(x, 0.3, 0.0, 1.0)
    assert v.verdict == "holds" and v.method == "exact-bounded" and v.ci_high < 0.3
    assert S.verdict_mean_bounded(x, 0.02, 0.0, 1.0).verdict == "violated"  # negative control
    assert S.verdict_mean_bounded(x, 1.0, 0.0, 1.0).p_holds == 0.0  # bound at the top of the range: certain
    fam = S.verdicts_family([v, S.verdict_mean_bounded(x, 0.02, 0.0, 1.0)], 0.05)
    assert [f.verdict for f in fam] == ["holds", "violated"]
    assert fam[0].ci_high < 0.3 and fam[1].ci_low > 0.02


def test_exceedance_with_allowed_probability_one_holds():
    """Issue 10 item 8: p_allowed = 1 allows every seed to exceed."""
    v = S.exceedance_test(np.ones(5), 0.0, 1.0)
    assert v.verdict == "holds" and v.p_holds == 0.0 and v.method == "exact-binomial"
    assert S.exceedance_test(np.ones(30), 0.0, 0.5).verdict == "violated"


def test_methods_are_labelled():
    x = np.random.default_rng(2).exponential(1.0, 30)
    assert S.verdict_mean(x, 5.0).method == "asymptotic"
    assert S.exceedance_test(x, 3.0, 0.2).method == "exact-binomial"
    assert set(S.METHODS) == {"exact-bounded", "exact-binomial", "asymptotic", "pathwise"}


def test_heavy_tail_holds_becomes_inconclusive_with_reason():
    x = np.ones(100)
    x[0] = 1e4  # log(max/median) = 9.2, far outside the reference family
    v = S.verdict_mean(x, 1e6)
    assert v.p_holds <= 0.05 and v.verdict == S.HEAVY_TAIL
    assert "log(max/median)" in v.extra["tail_reason"]
    y = np.random.default_rng(3).gamma(4.0, 0.25, 100)  # in domain: plain holds (negative control)
    assert S.verdict_mean(y, 10.0).verdict == "holds"
    fam = S.verdicts_family([v, S.verdict_mean(y, 10.0)], 0.05)
    assert [f.verdict for f in fam] == [S.HEAVY_TAIL, "holds"]


def test_time_uniform_bets_give_a_confidence_sequence():
    """n_tune=None (t log(1 + t) tuning): the running-max capital rejects the true mean rarely at any time."""
    rng = np.random.default_rng(4)
    Z = rng.random((400, 300))
    lam = B.bets(Z, 0.05, None)
    ph, pv = B.pvalues(Z, lam, np.full(400, 0.5))
    slack = 3 * math.sqrt(0.05 * 0.95 / 400)
    assert np.mean(ph <= 0.05) <= 0.05 + slack and np.mean(pv <= 0.05) <= 0.05 + slack
