"""Assumption checks run before a theorem check (THEORY §1.3, §2.3, §4). Each returns human-readable failures;
an empty list means the theorem applies to the configuration as run."""
from __future__ import annotations

import math


def check_assumptions(spec, problem, oracle, schedule, alg) -> list[str]:
    c, setup, K = problem.constants, problem.setup, spec.K
    fails = []
    # step condition α(1−β) < 1/L of Lemma 1, at every index the run uses
    if c.L > 0:
        idx = range(K // alg.m) if spec.theorem in ("thm1a", "thm1b") else range(K)
        worst = max(schedule.alpha(t) * (1 - schedule.beta(t)) for t in idx)
        if not worst * c.L < 1:
            fails.append(f"step condition alpha(1-beta) < 1/L fails: max alpha(1-beta)*L = {worst * c.L:.3g}")
    lam = getattr(schedule, "lam", None)
    if lam is not None and c.L > 0 and not (0 < lam <= 2 / 3):
        fails.append(f"lambda = {lam:.3g} is outside (0, 2/3] required by the theorem's proof")
    # norms: the oracle's σ is reported in the dual norm of the setup; L must be declared in its primal norm
    declared = c.notes.get("L_norm", setup.mirror.primal_norm)
    if declared != setup.mirror.primal_norm:
        fails.append(f"L is declared in {declared} but the setup's norm is {setup.mirror.primal_norm}")
    # a minimiser is needed by the theorem as printed; otherwise the comparator form must be used
    if spec.check.get("form", "auto") == "theorem" and (problem.x_star is None or not c.attained):
        fails.append("no minimiser exists (infimum not attained): use the comparator form (check.form = 'auto')")
    if spec.theorem in ("thm1a", "thm2") and not problem.comparators and problem.x_star is None:
        fails.append("no minimiser and no comparator points: no bound can be evaluated")
    if spec.theorem == "thm1b":
        if not oracle.light_tail:
            fails.append(f"light-tail condition fails for noise '{oracle.describe()['noise']}' "
                         "(Theorem 1(b) needs E exp(||delta||^2/sigma^2) <= e)")
        if not setup.compact or not math.isfinite(c.D_X):
            fails.append("Theorem 1(b) needs a compact X with a declared diameter D_X")
        if problem.x_star is None:
            fails.append("Theorem 1(b) needs a minimiser x_star")
        elif not math.isclose(schedule.V, problem.V0(), rel_tol=1e-12):
            fails.append("Theorem 1(b) is checked with the schedule set from the true V_d(x*, x0)")
    if c.F_ref != c.F_ref or c.F_ref_method in ("unknown", "not certified"):
        fails.append("F_ref is not certified")
    return fails
