"""Zhou et al., Theorem 1(b): P{F(x̃_S) − F⋆ > K0 + K1(Λ)} ≤ e^{−Λ²/3} + e^{−Λ} for AM1-SGD (Option II) on a
compact X under the light-tail condition (THEORY §4.2)."""
from __future__ import annotations

import math

from ..theory import bounds
from ._zhou import common_assumptions, f_ref_assumption, need_divisible
from .base import HighProbabilityTheorem


class ZhouThm1b(HighProbabilityTheorem):
    name = "thm1b"
    reference = "Zhou et al., Amortized Nesterov's momentum, Theorem 1(b) (THEORY §4.2)"
    summary = "P{F(x̃_S) − F⋆ > K0 + K1(Λ)} ≤ e^{−Λ²/3} + e^{−Λ} (compact X, light tail)"
    algorithms = ("am1", "am1_momentum")
    options = ("II",)
    schedule = "theorem1"

    def validate(self, spec, need):
        need_divisible(spec, need)

    def assumptions(self, ctx):
        problem, oracle, setup, c = ctx.problem, ctx.oracle, ctx.problem.setup, ctx.problem.constants
        fails = common_assumptions(ctx, epoch_indexed=True)
        if not oracle.light_tail:
            fails.append(f"light-tail condition fails for noise '{oracle.describe()['noise']}' "
                         "(Theorem 1(b) needs E exp(||delta||^2/sigma^2) <= e)")
        if not setup.compact or not math.isfinite(c.D_X):
            fails.append("Theorem 1(b) needs a compact X with a declared diameter D_X")
        if problem.x_star is None:
            fails.append("Theorem 1(b) needs a minimiser x_star")
        elif not math.isclose(ctx.schedule.V, problem.V0(), rel_tol=1e-12):
            fails.append("Theorem 1(b) is checked with the schedule set from the true V_d(x*, x0)")
        return fails + f_ref_assumption(problem)

    def test_checkpoints(self, spec, checkpoints):
        return [k for k in checkpoints if k == spec.K]

    def thresholds(self, ctx, k):
        c, spec = ctx.problem.constants, ctx.spec
        V, m, sigma = ctx.problem.V0(), ctx.alg.m, ctx.oracle.sigma
        K0 = bounds.thm1a_bound(c.L, V, sigma, c.M, m, spec.K)
        return [(f"P(error>K0+K1(Lambda={Lam:g}))", K0 + bounds.thm1b_K1(sigma, V, c.D_X, m, spec.K, Lam),
                 bounds.thm1b_prob(Lam)) for Lam in spec.check.get("Lambda", [1.5, 2.0, 3.0])]


THEOREM = ZhouThm1b()
