"""From raw results to verdicts: bounds at each checkpoint, statistical tests, multiple-comparison control.

For every configuration of a spec and every recorded output option:

* thm1a / thm2 — at each checkpoint k the bound valid for the λ actually run (THEORY §4.2, §4.4; the
  pre-optimisation forms hold at every k for a fixed λ), minimised over the problem's comparator points
  (comparator form, THEORY §4.3b and docs/comparator_bounds.md); at k = K, when a minimiser exists and the
  schedule used the true V, also the theorem's bound exactly as printed (K0(m), resp. bound (3)). The test is on
  the mean error (one-sided confidence limits, see docs/statistics.md).
* thm1b — at k = K, for each Λ of the grid, an exact binomial test of P{error > K0 + K1(Λ)} ≤ e^{−Λ²/3} + e^{−Λ}.

All tests of one invocation form one family; Holm's step-down procedure controls its family-wise error rate.
Assumptions are checked first; a test whose assumptions fail reports verdict ``assumptions-failed`` (unless the
spec sets ``check.force``, used by negative controls, in which case the failures are listed next to the verdict).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import stats
from .experiment import build
from .spec import Spec
from .table import Table
from .theory import bounds
from .theory.assumptions import check_assumptions

COLUMNS = ["spec", "theorem", "algorithm", "option", "m", "sigma", "K", "checkpoint", "n_seeds", "statistic",
           "value", "ci_low", "ci_high", "bound", "ratio", "correction", "verdict", "bound_form", "comparator",
           "p_holds", "p_violated", "seeds_needed", "n_diverged", "assumptions", "batch", "method", "note"]


def _errors(table: Table, option: str):
    """(checkpoints, (n_checkpoints, R) errors) for one option of one configuration's raw table."""
    t = table.filter(option=option)
    cps = sorted(set(int(c) for c in t["checkpoint"]))
    seeds = sorted(set(int(s) for s in t["seed"]))
    E = np.full((len(cps), len(seeds)), np.nan)
    ci = {c: i for i, c in enumerate(cps)}
    si = {s: i for i, s in enumerate(seeds)}
    for c, s, e in zip(t["checkpoint"], t["seed"], t["error"]):
        E[ci[int(c)], si[int(s)]] = float(e)
    return cps, E


def comparator_points(problem) -> list:
    """The reference points a comparator-form bound is minimised over: the problem's declared comparators plus,
    when a minimiser is known, points on the segment from x0 to it (all fixed before any run)."""
    return problem.comparators + problem.segment_comparators()


def _expectation_bounds(spec: Spec, problem, oracle, schedule, alg, k: int, form: str, comparators: list):
    """[(bound_form, comparator name, bound value)] for the mean error after k iterations."""
    c = problem.constants
    L, M, sigma, m = c.L, c.M, oracle.sigma, getattr(alg, "m", 1)
    eta = schedule.eta(0)  # α(1−β) = η is constant under both theorems' schedules: λ/L (or its L = 0 limit)
    F0_gap = float(problem.error(problem.x0[None])[0])
    out = []
    # the comparator / fixed-λ forms need λ = Lη <= 2/3; a forced run outside that range (a negative control)
    # is compared with the theorem's bound as printed only
    if form in ("auto", "comparator") and comparators and L * eta <= 2 / 3:
        if spec.theorem == "thm1a":
            fn = lambda u: bounds.thm1a_comparator(L, u.V, u.delta, sigma, M, m, k, eta=eta)
        else:
            fn = lambda u: bounds.thm2_comparator(L, u.V, u.delta, sigma, M, m, k, F0_gap, eta=eta)
        v, name = bounds.min_over_comparators(fn, comparators)
        out.append(("comparator", name, v))
    exact = problem.x_star is not None and c.attained and math.isclose(schedule.V, problem.V0(), rel_tol=1e-12)
    if form in ("auto", "theorem") and exact and k == spec.K:
        V = problem.V0()
        if spec.theorem == "thm1a":
            out.append(("theorem", "x_star", bounds.thm1a_bound(L, V, sigma, M, m, k)))
        else:
            out.append(("theorem", "x_star", bounds.thm2_bound(L, V, sigma, M, m, k, F0_gap)))
    return out


def evaluate(spec: Spec, cfg, table: Table, device="cpu") -> list[dict]:
    """Unadjusted tests for one configuration (Holm is applied by :func:`finalize`)."""
    if spec.theorem == "none":
        return []
    problem, oracle, schedule, alg = build(spec, cfg, device)
    fails = check_assumptions(spec, problem, oracle, schedule, alg)
    force = spec.check.get("force", False)
    scale = float(spec.check.get("bound_scale", 1.0))
    form = spec.check.get("form", "auto")
    points = comparator_points(problem)  # fixed before the run; computed once per configuration
    err_range = error_range(problem)
    base = {"spec": spec.name, "theorem": spec.theorem, "algorithm": alg.name, "m": cfg.m, "sigma": cfg.sigma,
            "K": spec.K, "assumptions": "; ".join(fails) if fails else "ok"}
    rows = []
    for option in table.unique("option"):
        cps, E = _errors(table, option)
        n = E.shape[1]
        for i, k in enumerate(cps):
            if k == 0 or (spec.theorem == "thm1b" and k != spec.K):
                continue
            errs = E[i]
            if spec.theorem == "thm1b":
                tests = _thm1b_tests(spec, problem, oracle, alg, errs, scale)
            else:
                tests = []
                for bform, cname, b in _expectation_bounds(spec, problem, oracle, schedule, alg, k, form, points):
                    tests.append(({"statistic": "mean", "bound_form": bform, "comparator": cname},
                                  _mean_test(errs, b * scale, spec.check.get("alpha", 0.05), err_range)))
            for info, test in tests:
                row = {**base, "option": option, "checkpoint": k, "n_seeds": n,
                       "n_diverged": int(np.sum(~np.isfinite(errs))), **info, "test": test}
                if fails and not force:
                    row["verdict"] = "assumptions-failed"
                rows.append(row)
    if "lemma1_min_rel_slack" in table:
        rows.append({**base, "option": "-", "checkpoint": spec.K, "n_seeds": len(table.unique("seed")),
                     "n_diverged": 0, "statistic": "Lemma 1 min relative slack (pathwise)", "bound_form": "lemma1",
                     "comparator": "x_star", "test": _certificate_test(table["lemma1_min_rel_slack"])})
    return rows


def _certificate_test(slack, tol=1e-9):
    """The pathwise Lemma 1 certificate is deterministic given the run: it holds iff every slack is ≥ −tol."""
    v = float(np.min(np.asarray(slack, dtype=float)))
    ok = v >= -tol
    return stats.Verdict(statistic="lemma1", value=v, ci_low=v, ci_high=v, bound=-tol, ratio=math.nan,
                         verdict="holds" if ok else "violated", n=len(slack), p_holds=0.0 if ok else 1.0,
                         p_violated=1.0 if ok else 0.0, alpha=0.05, alpha_low=0.05, alpha_high=0.05,
                         method="pathwise", extra={"method_detail": "pathwise certificate (no sampling error)"},
                         _limits=lambda a: (v, v),
                         _seeds=lambda a: None)


def error_range(problem):
    """(lo, hi): a certified range of the per-seed error F(x) - F_ref over X (theorycheck.ranges), or None."""
    from .ranges import gap_sup, lower_slack

    g = gap_sup(problem)
    return None if g is None else (-lower_slack(problem), g)


def _mean_test(errs, bound, alpha, err_range=None):
    """verdict_mean, except that diverged seeds (error = +inf) make the mean infinite: violated, p = 0.
    With a certified error range (lo, hi) the exact betting limits are used (method "exact-bounded"); errors
    outside that range (which the certificate excludes) fall back to the asymptotic limits with a note."""
    note = ""
    if err_range is not None and np.all(np.isfinite(errs)):
        lo, hi = err_range
        if errs.min() >= lo and errs.max() <= hi:
            return stats.verdict_mean_bounded(errs, bound, lo, hi, alpha)
        note = f"errors leave the certified range [{lo:.3g}, {hi:.3g}]: asymptotic limits"
    if note:
        v = _mean_test(errs, bound, alpha)
        return replace(v, extra={**v.extra, "range_note": note})
    if np.all(np.isfinite(errs)):
        scale = float(np.max(np.abs(errs)))
        if scale <= 1e100:
            return stats.verdict_mean(errs, bound, alpha)
        # astronomically large (but finite) errors: the limits are scale-equivariant, so test errs/scale against
        # bound/scale and scale the numbers back (the moments would overflow otherwise)
        v = stats.verdict_mean(errs / scale, bound / scale, alpha)
        lim = v._limits
        return replace(v, value=v.value * scale, ci_low=v.ci_low * scale, ci_high=v.ci_high * scale, bound=bound,
                       _limits=lambda a: tuple(x * scale for x in lim(a)))
    inf = math.inf
    return stats.Verdict(statistic="mean", value=inf, ci_low=inf, ci_high=inf, bound=bound, ratio=0.0,
                         verdict="violated", n=errs.size, p_holds=1.0, p_violated=0.0, alpha=alpha,
                         alpha_low=alpha, alpha_high=alpha, method="pathwise",
                         extra={"method_detail": "diverged seeds: mean is +inf"},
                         _limits=lambda a: (inf, inf), _seeds=lambda a: None)


def _thm1b_tests(spec, problem, oracle, alg, errs, scale):
    c = problem.constants
    V, m, sigma = problem.V0(), alg.m, oracle.sigma
    K0 = bounds.thm1a_bound(c.L, V, sigma, c.M, m, spec.K)
    out = []
    for Lam in spec.check.get("Lambda", [1.5, 2.0, 3.0]):
        thr = (K0 + bounds.thm1b_K1(sigma, V, c.D_X, m, spec.K, Lam)) * scale
        p_allowed = bounds.thm1b_prob(Lam)
        finite = np.where(np.isfinite(errs), errs, np.finfo(np.float64).max)  # a diverged seed exceeds
        r = stats.exceedance_test(finite, thr, min(p_allowed, 1.0), alpha=spec.check.get("alpha", 0.05))
        out.append(({"statistic": f"P(error>K0+K1(Lambda={Lam:g}))", "bound_form": "theorem",
                     "comparator": "x_star"}, r))
    return out


def finalize(rows: list[dict], alpha: float = 0.05) -> Table:
    """Apply Holm's correction across every test of the invocation and return the verdict table."""
    live = [r for r in rows if r.get("verdict") != "assumptions-failed"]
    for r, v in zip(live, stats.verdicts_family([r["test"] for r in live], alpha)):
        r.update(value=v.value, ci_low=v.ci_low, ci_high=v.ci_high, bound=v.bound, ratio=v.ratio,
                 verdict=v.verdict, correction=v.correction, p_holds=v.p_holds_adj, p_violated=v.p_violated_adj,
                 seeds_needed=v.seeds_needed if v.seeds_needed is not None else math.nan)
    for r in rows:
        t = r["test"]
        if r.get("verdict") == "assumptions-failed":
            r.update(value=t.value, bound=t.bound, ratio=t.ratio, correction="none (not tested)")
        r["method"] = t.method or "asymptotic"
        notes = [t.extra.get("range_note", "")]
        if r.get("verdict") == stats.HEAVY_TAIL:
            notes.append(t.extra.get("tail_reason", ""))
        r["note"] = "; ".join(n for n in notes if n)
    cols = {c: np.array([r.get(c, math.nan) for r in rows], dtype=object) for c in COLUMNS}
    return Table(cols)


def exit_code(verdicts: Table) -> int:
    """0 all hold, 1 something violated, 3 inconclusive (or untestable) only, or no verdict at all (nothing tested
    is not success)."""
    if not len(verdicts):
        return 3
    v = set(verdicts["verdict"].tolist())
    if "violated" in v:
        return 1
    if v - {"holds"}:
        return 3
    return 0
