"""Print the coverage table of docs/statistics.md section 3b: one-sided miss rates P(upper limit < true mean) at
alpha = 0.05 for the exact betting limits (on the capped law min(X, 50) or the two-point law's support [1, 101]),
the asymptotic limits, and the asymptotic limits with the heavy-tail diagnostic ("holds" only when not flagged).
Usage: python bench/coverage_table.py [REPS]   (default 20000; ~2 min)"""
import math
import sys

import numpy as np

sys.path.insert(0, "tests")
from test_coverage import ALPHA, CAP, LAWS, _betting_upper_miss, _capped_mean  # noqa: E402

from theorycheck import stats as S  # noqa: E402

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
print(f"| law | n | exact-bounded | asymptotic | asymptotic, unflagged | flagged share |")
print("|---|---|---|---|---|---|")
for law, (draw, mu) in LAWS.items():
    for n in (10, 30, 100):
        X = draw(np.random.default_rng(n), (reps, n))
        if law == "two-point":
            ex = _betting_upper_miss(X, mu, 1.0, 101.0)
        else:
            ex = _betting_upper_miss(np.minimum(X, CAP), _capped_mean(law), 0.0, CAP)
        _, up = S._limits(X, ALPHA)
        miss = up < mu
        flag = S._tail_stat(X) > S.tail_threshold(n)
        print(f"| {law} | {n} | {ex:.4f} | {miss.mean():.4f} | {(miss & ~flag).mean():.4f} | {flag.mean():.3f} |",
              flush=True)
