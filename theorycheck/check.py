"""From raw results to verdicts, generically: the spec's theorem (theorycheck.theorems) says what to test.

For every configuration of a spec and every recorded output option, the theorem gives its assumptions, the
checkpoints it is tested at, the per-seed statistic (a raw-table column: the error F − F_ref, or e.g. the running
mean gradient norm) and its tests there: expectation bounds (mean statistic vs. bound, one-sided confidence limits,
docs/statistics.md), high-probability bounds (exact binomial test of an exceedance probability) or pathwise
certificates (minimum slack). For the Zhou et al. theorems see THEORY §4 and docs/comparator_bounds.md.

All tests of one invocation form one family; Holm's step-down procedure controls its family-wise error rate.
Assumptions are checked first; a test whose assumptions fail reports verdict ``assumptions-failed`` (unless the
spec sets ``check.force``, used by negative controls, in which case the failures are listed next to the verdict).
A test that holds with a bound at or above the theorem's vacuity level (what the method that never moves
achieves) reports ``vacuous``: it says nothing about the method.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import stats, theorems
from .experiment import build
from .spec import Spec
from .theorems.base import Context, certificate_test, mean_test  # noqa: F401  (re-exported for callers)

COLUMNS = ["spec", "theorem", "algorithm", "option", "m", "sigma", "K", "checkpoint", "n_seeds", "statistic",
           "value", "ci_low", "ci_high", "bound", "ratio", "correction", "verdict", "bound_form", "comparator",
           "p_holds", "p_violated", "seeds_needed", "n_diverged", "assumptions", "vacuity_level", "threshold",
           "batch", "method", "note"]
VACUOUS = "vacuous"


def _values(table: pd.DataFrame, option: str, column: str = "error"):
    """(checkpoints, (n_checkpoints, R) per-seed statistic) for one option of one configuration's raw table."""
    t = table[table["option"] == option]
    cps = sorted(set(int(c) for c in t["checkpoint"]))
    seeds = sorted(set(int(s) for s in t["seed"]))
    E = np.full((len(cps), len(seeds)), np.nan)
    ci = {c: i for i, c in enumerate(cps)}
    si = {s: i for i, s in enumerate(seeds)}
    for c, s, e, d in zip(t["checkpoint"], t["seed"], t[column], t["diverged"]):
        E[ci[int(c)], si[int(s)]] = math.inf if _true(d) else float(e)
    return cps, E


def _true(v) -> bool:
    return v is True or v == 1 or str(v) == "True"


def _errors(table: pd.DataFrame, option: str):
    """(checkpoints, (n_checkpoints, R) errors) for one option (kept for callers of the old name)."""
    return _values(table, option, "error")


def comparator_points(problem) -> list:
    """The reference points a comparator-form bound is minimised over: the problem's declared comparators plus,
    when a minimiser is known, points on the segment from x0 to it (all fixed before any run)."""
    return problem.comparators + problem.segment_comparators()


def _rows(theorem, ctx, table, base, fails, force, level):
    rows = []
    for option in dict.fromkeys(table["option"].tolist()):
        cps, E = _values(table, option, theorem.statistic)
        n = E.shape[1]
        for k in theorem.test_checkpoints(ctx.spec, cps):
            vals = E[cps.index(k)]
            for t in theorem.tests(ctx, k, vals):
                row = {**base, "option": option, "checkpoint": k, "n_seeds": n,
                       "n_diverged": int(np.sum(~np.isfinite(vals))), **t.info, "test": t.test,
                       "vacuity_level": level, "threshold": t.threshold}
                if fails and not force:
                    row["verdict"] = "assumptions-failed"
                rows.append(row)
    return rows


def evaluate(spec: Spec, cfg, table: pd.DataFrame, device="cpu") -> list[dict]:
    """Unadjusted tests for one configuration (Holm is applied by :func:`finalize`). ``table``: its raw results
    (a DataFrame with columns option, seed, checkpoint, diverged and the theorem's statistic column)."""
    theorem = theorems.get(spec.theorem)
    if theorem is None:
        return []
    problem, oracle, schedule, alg = build(spec, cfg, device)
    ctx = Context(spec, cfg, problem, oracle, schedule, alg)
    fails = theorem.assumptions(ctx)
    force = spec.check.get("force", False)
    base = {"spec": spec.name, "theorem": spec.theorem, "algorithm": alg.name, "m": cfg.m, "sigma": cfg.sigma,
            "K": spec.K, "assumptions": "; ".join(fails) if fails else "ok"}
    rows = _rows(theorem, ctx, table, base, fails, force, theorem.vacuity_level(problem, ctx))
    cert = theorems.get("lemma1")
    if spec.check.get("lemma1") and theorem is not cert and cert.statistic in table.columns:
        # the pathwise Lemma 1 certificate recorded next to the theorem (deterministic given the run)
        rows.append({**base, "option": "-", "checkpoint": spec.K, "n_seeds": int(table["seed"].nunique()),
                     "n_diverged": 0, "statistic": cert.statistic_label, "bound_form": cert.bound_form,
                     "comparator": "x_star", "test": certificate_test(table[cert.statistic]),
                     "vacuity_level": math.nan, "threshold": math.nan})
    return rows


def is_vacuous(row) -> bool:
    """The row's bound (its threshold, for exceedance tests) is at or above the theorem's vacuity level."""
    level = row.get("vacuity_level", math.nan)
    thr = row.get("threshold", math.nan)
    ref = thr if isinstance(thr, float) and not math.isnan(thr) else row.get("bound", math.nan)
    try:
        return bool(float(ref) >= float(level))  # False when either is nan
    except (TypeError, ValueError):
        return False


def finalize(rows: list[dict], alpha: float = 0.05) -> pd.DataFrame:
    """Apply Holm's correction across every test of the invocation and return the verdict table: a DataFrame,
    one row per test, columns :data:`COLUMNS` (in that order; numeric columns as numbers)."""
    live = [r for r in rows if r.get("verdict") != "assumptions-failed"]
    for r, v in zip(live, stats.verdicts_family([r["test"] for r in live], alpha)):
        r.update(value=v.value, ci_low=v.ci_low, ci_high=v.ci_high, bound=v.bound, ratio=v.ratio,
                 verdict=v.verdict, correction=v.correction, p_holds=v.p_holds_adj, p_violated=v.p_violated_adj,
                 seeds_needed=v.seeds_needed if v.seeds_needed is not None else math.nan)
        if r["verdict"] == "holds" and is_vacuous(r):
            r["verdict"] = VACUOUS  # met by the method that never moves: says nothing (a violation stays one)
    for r in rows:
        t = r["test"]
        if r.get("verdict") == "assumptions-failed":
            r.update(value=t.value, bound=t.bound, ratio=t.ratio, correction="none (not tested)")
        r["method"] = t.method or "asymptotic"
        notes = [t.extra.get("range_note", "")]
        if r.get("verdict") == stats.HEAVY_TAIL:
            notes.append(t.extra.get("tail_reason", ""))
        r["note"] = "; ".join(n for n in notes if n)
    return verdict_frame(rows)


def verdict_frame(rows: list[dict]) -> pd.DataFrame:
    """The verdict table (columns :data:`COLUMNS`, missing values NaN; column dtypes inferred, so numeric
    columns are numbers) of finalized rows."""
    cols = {c: np.array([r.get(c, math.nan) for r in rows], dtype=object) for c in COLUMNS}
    return pd.DataFrame(cols, columns=COLUMNS).infer_objects()


def exit_code(verdicts: pd.DataFrame) -> int:
    """0: nothing violated and something non-vacuous held; 1: something violated; 3: inconclusive or untestable
    results, every test vacuous, or no verdict at all (nothing tested is not success)."""
    if not len(verdicts):
        return 3
    v = set(verdicts["verdict"].tolist())
    if "violated" in v:
        return 1
    if v - {"holds", VACUOUS} or (v and "holds" not in v):
        return 3
    return 0


def all_vacuous(verdicts: pd.DataFrame) -> bool:
    """True when there were tests and every one of them is vacuous."""
    v = set(verdicts["verdict"].tolist()) if len(verdicts) else set()
    return v == {VACUOUS}
