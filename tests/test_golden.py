"""Verdict tables pinned before the plug-in refactor (issue 9): same verdicts, numbers equal to 1e-12 relative.

The golden CSVs were written by tests/golden/make_golden.py on the commit before the refactor. Each case is one
CLI invocation (its own Holm family). Columns added later are ignored; every golden column must still be there.
One amendment (issue 9, verdict ``vacuous``): a golden "holds" may now read "vacuous", but only when the new row's
bound (its ``threshold`` for exceedance tests) is at or above its ``vacuity_level`` (F(x0) − F_ref for error
statistics, ||∇F(x0)|| for gradient-norm statistics); every number stays equal. Issue 10 (item 3): a golden
"holds" may read "inconclusive (heavy tail)" on an asymptotic row whose note gives the diagnostic's reason.
Deliberate re-pin (2026-11-30): ``default.csv``'s rows of simplex_thm1a (now 800 seeds, σ ∈ {0.1, 0.3}) and
ls_thm1a's σ = 0.5 rows (σ = 1 was vacuous) were rewritten from the new specs; every other row of the case is the
original pin.
"""
import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
A9A = pytest.mark.skipif(not os.environ.get("THEORYCHECK_DATA"), reason="a9a is read through THEORYCHECK_DATA")

# name -> (command, args); "default" is the embedded default suite with its own seed counts
CASES = {
    "default": ("check", []),
    "cm": ("check-cm", ["--seeds", "4"]),
    **{s: ("check", [s, "--seeds", "4"]) for s in
       ["mad_thm1a", "fig15_compact_am1_m", "fig_dev_compact", "fig_tight_ls_am1", "fig_tight_ls_am2"]},
    **{s: ("check", [s, "--seeds", "4"]) for s in
       ["a9a_paper_a8", "fig14_a9a_am1", "fig15_a9a_am1_m", "fig_dev_a9a", "fig_thm2_a9a", "fig_thm2_a9a_m"]},
}
SLOW = {"a9a_paper_a8", "fig14_a9a_am1", "fig15_a9a_am1_m", "fig_dev_a9a", "fig_thm2_a9a", "fig_thm2_a9a_m"}
KEY = ["spec", "theorem", "option", "m", "sigma", "checkpoint", "statistic", "bound_form", "comparator"]
NUMERIC = ["value", "ci_low", "ci_high", "bound", "ratio", "p_holds", "p_violated", "seeds_needed", "n_seeds",
           "n_diverged", "K"]
FAMILY_FREE = ["value", "bound", "ratio", "n_seeds", "n_diverged", "K"]


def cli_args(case, out):
    cmd, args = case
    return [cmd, *args, "--out", str(out), *(["--no-progress"] if cmd == "check" else [])]


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same(a: str, b: str, abs_tol: float = 1e-300) -> bool:
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
        return (math.isnan(x) and math.isnan(y)) or x == y
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=abs_tol)


# Runs are now split into seed chunks (issue 12 executors); the batched logistic layout sums in blocks that depend on
# the batch size, so errors agree with the pinned ones to ~1e-13 relative, not bitwise. p-values far in the tail
# (1e-22) amplify that to a few 1e-12 relative; they are compared to 1e-15 absolute (far below any decision level).
# The per-seed error F(x) − F_ref is itself known only to a few eps·|F| absolute (F ≈ 0.32 on a9a): at σ = 1e-4 the
# a9a errors (~4e-4) moved by ~5e-16 absolute (1e-12 relative) after the merge of issues 9-14 (source not isolated:
# the sphere-noise norm, the runner's on-device error table or the chunked executor all reorder float64 sums), so
# the error statistics are compared to 1e-14 absolute as well as 1e-12 relative.
ABS_TOL = {"p_holds": 1e-15, "p_violated": 1e-15, "value": 1e-14, "ci_low": 1e-14, "ci_high": 1e-14}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[A9A, pytest.mark.slow] if n in SLOW else [])
                                  for n in CASES])
def test_verdicts_match_golden(name, tmp_path):
    subprocess.run([sys.executable, "-m", "theorycheck.cli", *cli_args(CASES[name], tmp_path)],
                   capture_output=True, text=True, check=False)
    got = _read(next(tmp_path.glob("verdicts*.csv")))
    want = _read(GOLDEN / f"{name}.csv")
    key = lambda r: tuple(r[k] for k in KEY)
    got_by = {key(r): r for r in got}
    assert len(got) == len(want) and len(got_by) == len(got)
    # Issue 10: rows whose error has a certified range use exact betting limits (method "exact-bounded") instead of
    # the asymptotic ones pinned here. Their limits and p-values legitimately change, and since Holm's step levels
    # depend on every p-value of the family, so do the limits / adjusted p-values of the other rows of that case.
    # In such a case: the sample statistics (value, bound, ratio, n_seeds, n_diverged, K) are still compared on
    # every row, the verdict of every other row must be unchanged, and an exact-bounded row may only move from
    # "holds" to "inconclusive" (the exact limits are wider); never to or from "violated".
    exact = any(r.get("method") == "exact-bounded" for r in got)
    for w in want:
        g = got_by[key(w)]
        if w["verdict"] == "holds" and g["verdict"] == "vacuous":  # issue 9: bound at or above the vacuity level
            ref = g["threshold"] if g.get("threshold", "nan") not in ("", "nan") else g["bound"]
            assert float(ref) >= float(g["vacuity_level"]), (key(w), ref, g["vacuity_level"])
        elif (w["verdict"], g["verdict"]) == ("holds", "inconclusive (heavy tail)"):
            # issue 10 item 3 (small-sample rules of the heavy-tail diagnostic): an asymptotic "holds" whose sample
            # is degenerate or more spread than the calibrated log(q75/q25) limit at its n is no longer trusted.
            # Only the label changes (the p-values, hence Holm and every number, are the same); the reason is given.
            assert g["method"] == "asymptotic" and g["note"], (key(w), g["note"])
        elif g.get("method") == "exact-bounded":
            assert g["verdict"] == w["verdict"] or (w["verdict"], g["verdict"]) == ("holds", "inconclusive"), \
                (key(w), g["verdict"], w["verdict"])
        else:
            assert g["verdict"] == w["verdict"], (key(w), g["verdict"], w["verdict"])
        for c in (FAMILY_FREE if exact else NUMERIC):
            assert _same(g[c], w[c], ABS_TOL.get(c, 1e-300)), (key(w), c, g[c], w[c])
