"""Shared pieces of the Zhou et al. theorems (THEORY §4): assumptions common to Theorems 1 and 2."""
from __future__ import annotations


def common_assumptions(ctx, epoch_indexed: bool) -> list[str]:
    """Step condition α(1−β) < 1/L of Lemma 1 at every index the run uses (epochs s < K/m when
    ``epoch_indexed``, else iterations k < K), λ in (0, 2/3], L declared in the setup's norm, a comparator or
    minimiser for the bound, a certified F_ref (THEORY §1.3, §2.3, §4)."""
    spec, problem, schedule, alg = ctx.spec, ctx.problem, ctx.schedule, ctx.alg
    c, setup, K = problem.constants, problem.setup, spec.K
    fails = []
    if c.L > 0:
        idx = range(K // alg.m) if epoch_indexed else range(K)
        worst = max(schedule.alpha(t) * (1 - schedule.beta(t)) for t in idx)
        if not worst * c.L < 1:
            fails.append(f"step condition alpha(1-beta) < 1/L fails: max alpha(1-beta)*L = {worst * c.L:.3g}")
    lam = getattr(schedule, "lam", None)
    if lam is not None and c.L > 0 and not (0 < lam <= 2 / 3):
        fails.append(f"lambda = {lam:.3g} is outside (0, 2/3] required by the theorem's proof")
    declared = c.notes.get("L_norm", setup.mirror.primal_norm)
    if declared != setup.mirror.primal_norm:
        fails.append(f"L is declared in {declared} but the setup's norm is {setup.mirror.primal_norm}")
    if spec.check.get("form", "auto") == "theorem" and (problem.x_star is None or not c.attained):
        fails.append("no minimiser exists (infimum not attained): use the comparator form (check.form = 'auto')")
    return fails


def f_ref_assumption(problem) -> list[str]:
    c = problem.constants
    if c.F_ref != c.F_ref or c.F_ref_method in ("unknown", "not certified"):
        return ["F_ref is not certified"]
    return []


def need_divisible(spec, need):
    for m in (spec.algorithm.get("m", 1) if isinstance(spec.algorithm.get("m", 1), list)
              else [spec.algorithm.get("m", 1)]):
        need(spec.run["K"] % m == 0, "run.K", f"K={spec.run['K']} must be divisible by every m (m={m})")
