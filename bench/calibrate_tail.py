"""Calibrate the small-sample spread rule of the heavy-tail diagnostic (theorycheck.stats.SPREAD_TABLE, issue 10
item 3; docs/statistics.md section 3b).

For each n, c(n) is the largest threshold on S = log(q75 / q25) (sample quartiles of the errors shifted by
min(0, min e)) such that, for every law of the issue's list (tests/test_coverage.py LAWS: lognormal(1), lognormal(2),
Lomax(2.1), Lomax(3), exponential, two-point), with the other flags (log(max/median) and the degenerate-sample rule)
applied as well,

    P(upper limit < mean AND not flagged) <= TARGET                   (one test at alpha = 0.05), and
    P(some test of a Holm family of 20 wrongly "holds" unflagged) <= TARGET   (every mean at its bound),

found by bisection on c. TARGET = 0.04 leaves room for the Monte-Carlo error of the tests (which allow 0.05 + 3 sd).
c = inf means no spread flag is needed at that n; c = 0 means every non-constant sample is flagged.

Usage: python bench/calibrate_tail.py [REPS] [FAMILY_REPS] [n ...]   (defaults 20000 2000 and the table's n grid)
"""
import math
import sys

import numpy as np

sys.path.insert(0, "tests")
from test_coverage import ALPHA, LAWS, _holm_reject  # noqa: E402

from theorycheck import stats as S  # noqa: E402

TARGET = 0.04
M = 20


def calibrate(n, reps=20000, family_reps=2000, target=TARGET, seed=0):
    """c(n) as described in the module docstring (vectorised; ~10-60 s per n)."""
    data = []
    for i, (law, (draw, mu)) in enumerate(LAWS.items()):
        rng = np.random.default_rng([seed, n, i])
        X = draw(rng, (reps, n))
        _, up = S._limits(X, ALPHA)
        miss = (up < mu) & ~S._other_flags(X)
        XF = draw(rng, (family_reps, M, n))
        ph, pv = S._pvalues(XF, mu)
        wrong = _holm_reject(np.concatenate([ph, pv], 1), ALPHA)[:, :M] & ~S._other_flags(XF)
        data.append((miss, S._spread_stat(X), wrong, S._spread_stat(XF)))

    def ok(c):
        return all((m & ~(s > c)).mean() <= target and (w & ~(sf > c)).any(1).mean() <= target
                   for m, s, w, sf in data)

    if ok(math.inf):
        return math.inf
    if not ok(0.0):
        return 0.0
    lo, hi = 0.0, 1.0
    while ok(hi):
        lo, hi = hi, 2 * hi
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    freps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    ns = [int(a) for a in sys.argv[3:]] or sorted(S.SPREAD_TABLE)
    for n in ns:
        print(f"{n}: {calibrate(n, reps, freps):.3f},", flush=True)
