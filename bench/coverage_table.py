"""Print the coverage tables of docs/statistics.md section 3b.

1. One-sided miss rates P(upper limit < true mean) at alpha = 0.05 for the exact betting limits (on the capped law
   min(X, 50) or the two-point law's support [1, 101]), the asymptotic limits, and the rate of a WRONG "holds" that
   the heavy-tail diagnostic lets through: P(upper limit < mean AND not flagged) (stats.tail_flags: log(max/median),
   degenerate sample, log(q75/q25) > c(n)); then the flagged share, and the same wrong-"holds" rate for a Holm family
   of 20 tests with every mean at its bound (P(some test holds unflagged)).
2. False-flag rates on well-behaved laws.
Usage: python bench/coverage_table.py [REPS] [FAMILY_REPS]   (defaults 20000 2000; ~5-20 min)"""
import sys

import numpy as np

sys.path.insert(0, "tests")
from test_coverage import ALPHA, CAP, LAWS, _betting_upper_miss, _capped_mean, _holm_reject  # noqa: E402

from theorycheck import stats as S  # noqa: E402

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
freps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
print("| law | n | exact-bounded | asymptotic | wrong holds, unflagged | flagged share | Holm-20 family: wrong holds, unflagged (without diagnostic) |")
print("|---|---|---|---|---|---|---|")
for law, (draw, mu) in LAWS.items():
    for n in (10, 30, 100):
        X = draw(np.random.default_rng(n), (reps, n))
        if law == "two-point":
            ex = _betting_upper_miss(X, mu, 1.0, 101.0)
        else:
            ex = _betting_upper_miss(np.minimum(X, CAP), _capped_mean(law), 0.0, CAP)
        _, up = S._limits(X, ALPHA)
        miss = up < mu
        flag = S.tail_flags(X)
        XF = draw(np.random.default_rng(n + 1), (freps, 20, n))
        ph, pv = S._pvalues(XF, mu)
        rej = _holm_reject(np.concatenate([ph, pv], 1), ALPHA)[:, :20]
        fam, fam0 = (rej & ~S.tail_flags(XF)).any(1).mean(), rej.any(1).mean()
        print(f"| {law} | {n} | {ex:.4f} | {miss.mean():.4f} | {(miss & ~flag).mean():.4f} | {flag.mean():.3f} "
              f"| {fam:.4f} ({fam0:.3f}) |", flush=True)
print()
print("| law (false flags) | n=10 | n=30 | n=100 | n=300 |")
print("|---|---|---|---|---|")
WELL = {"N(10, 1) (cv 0.1)": lambda r, s: r.normal(10, 1, s), "N(1, 0.3) (cv 0.3)": lambda r, s: r.normal(1, .3, s),
        "gamma(4) (cv 0.5)": lambda r, s: r.gamma(4.0, 1.0, s), "exponential": lambda r, s: r.exponential(1.0, s),
        "lognormal(1)": lambda r, s: r.lognormal(0.0, 1.0, s)}
for name, draw in WELL.items():
    rates = [S.tail_flags(draw(np.random.default_rng(n + 99), (reps, n))).mean() for n in (10, 30, 100, 300)]
    print(f"| {name} | " + " | ".join(f"{r:.3f}" for r in rates) + " |", flush=True)
