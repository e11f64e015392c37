"""theorycheck.paired: paired bootstrap intervals checked against the exact (fully enumerated) bootstrap."""
import itertools

import numpy as np
import pytest
from scipy.stats import norm

from theorycheck import paired

N = 6  # 6**6 = 46656 resamples: the bootstrap distribution is enumerated exactly


def _exact_boot(a, b, stat):
    idx = np.array(list(itertools.product(range(N), repeat=N)))  # every resample of seed indices, equally likely
    return stat(a[idx], b[idx])  # same indices for both arms: the paired bootstrap


def _cdf(dist, x):  # P*(theta* < x) + P*(theta* = x)/2, the mid-rank convention of the BCa bias correction
    return ((dist < x).mean() + (dist <= x).mean()) / 2


def _exact_bca_probs(a, b, stat, level):
    """BCa's adjusted percentile levels (Efron & Tibshirani 1993, eqs. 14.10, 14.14, 14.15), computed by hand."""
    theta = stat(a, b)
    dist = _exact_boot(a, b, stat)
    z0 = norm.ppf(_cdf(dist, theta))
    jack = np.array([stat(np.delete(a, i), np.delete(b, i)) for i in range(N)])
    u = jack.mean() - jack
    acc = (u ** 3).sum() / (6 * ((u ** 2).sum()) ** 1.5)
    za = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    return dist, norm.cdf(z0 + (z0 + za) / (1 - acc * (z0 + za)))


def _sd_ratio_defined(a, b, axis=-1):
    # sd_ratio is 0/0 on the N resamples that repeat one seed N times (probability N**(1-N)); the exact reference
    # needs a value there, so these tests use a version that is 1 on them and sd_ratio up to 1e-12 elsewhere
    return (np.std(a, axis=axis, ddof=1) + 1e-12) / (np.std(b, axis=axis, ddof=1) + 1e-12)


@pytest.fixture
def pair():
    r = np.random.default_rng(3)
    a = r.lognormal(0, 0.5, N)
    b = a + r.normal(0.3, 0.2, N)
    return a, b


@pytest.mark.parametrize("stat", [_sd_ratio_defined, paired.mean_gain])
def test_percentile_matches_exact_bootstrap(pair, stat):
    a, b = pair
    level = 0.8
    dist = _exact_boot(a, b, stat)
    _, lo, hi = paired.paired_bootstrap_ci(a, b, stat, level=level, n_boot=200_000, method="percentile", seed=0)
    # the Monte Carlo end points sit at the exact bootstrap's 10 % and 90 % points (MC error ~ 0.001 in probability)
    assert abs(_cdf(dist, lo) - 0.1) < 0.01
    assert abs(_cdf(dist, hi) - 0.9) < 0.01


@pytest.mark.parametrize("stat", [_sd_ratio_defined, paired.mean_gain])
def test_bca_matches_hand_computed_bca(pair, stat):
    a, b = pair
    level = 0.8
    dist, (p_lo, p_hi) = _exact_bca_probs(a, b, stat, level)
    _, lo, hi = paired.paired_bootstrap_ci(a, b, stat, level=level, n_boot=200_000, method="BCa", seed=1)
    assert abs(_cdf(dist, lo) - p_lo) < 0.015
    assert abs(_cdf(dist, hi) - p_hi) < 0.015
    assert abs(p_lo - 0.1) > 0.005 or abs(p_hi - 0.9) > 0.005  # BCa differs from percentile here


def test_same_resample_for_both_arms():
    a = np.random.default_rng(0).exponential(size=40)
    # b = a + 1: every paired resample has gain exactly 1 (an unpaired bootstrap would give a wide interval)
    assert paired.paired_bootstrap_ci(a, a + 1, paired.mean_gain, seed=0) == pytest.approx((1, 1, 1))
    # b = 2 a: every paired resample has sd ratio exactly 1/2
    assert paired.paired_bootstrap_ci(a, 2 * a, paired.sd_ratio, seed=0) == pytest.approx((0.5, 0.5, 0.5))


def test_compare_fields_and_direction():
    r = np.random.default_rng(5)
    z = r.normal(size=300)
    a = 1 + 0.5 * z + 0.05 * r.normal(size=300)  # A: smaller spread, smaller mean
    b = 1.2 + 1.0 * z
    c = paired.compare(a, b, level=0.99, n_boot=4000, seed=2)
    assert c["sd_ratio_lo"] < c["sd_ratio"] < c["sd_ratio_hi"] < 1  # A deviates less, resolved
    assert 0 < c["gain_lo"] < c["gain"] < c["gain_hi"]
    assert c["rel_gain"] == pytest.approx(c["gain"] / a.mean())
    # negative control: swapping the arms reverses both conclusions
    d = paired.compare(b, a, level=0.99, n_boot=4000, seed=2)
    assert d["sd_ratio_lo"] > 1 and d["gain_hi"] < 0


def test_coverage_of_sd_ratio_near_nominal():
    # paired normal data, true sd ratio 0.8: the 90 % BCa interval covers in about 90 % of 200 data sets
    r = np.random.default_rng(11)
    hits = 0
    reps = 200
    for _ in range(reps):
        z = r.normal(size=(2, 80))
        a = 0.8 * z[0]
        b = 0.9 * z[0] + np.sqrt(1 - 0.81) * z[1]  # sd 1, correlation 0.9 with a
        _, lo, hi = paired.paired_bootstrap_ci(a, b, paired.sd_ratio, level=0.9, n_boot=2000, seed=r.integers(1 << 30))
        hits += lo <= 0.8 <= hi
    assert 0.82 <= hits / reps <= 0.97


def test_bonferroni_level():
    assert paired.bonferroni_level(0.05, 12) == pytest.approx(1 - 0.05 / 12)
    for bad in [(0, 3), (1.2, 3), (0.05, 0), (0.05, 1.5)]:
        with pytest.raises(ValueError):
            paired.bonferroni_level(*bad)


@pytest.mark.parametrize("a,b,kw,msg", [
    (np.ones(5), np.ones(4), {}, "same length"),
    (np.ones(2), np.ones(2), {}, "at least 3"),
    (np.array([1.0, np.inf, 2.0]), np.ones(3), {}, "finite"),
    (np.arange(5.0), np.arange(5.0) ** 2, {"level": 1.0}, "level"),
    (np.arange(5.0), np.arange(5.0) ** 2, {"method": "basic"}, "method"),
])
def test_bad_input(a, b, kw, msg):
    with pytest.raises(ValueError, match=msg):
        paired.paired_bootstrap_ci(a, b, paired.mean_gain, **kw)
