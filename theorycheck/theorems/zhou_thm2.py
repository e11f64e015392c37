"""Zhou et al., Theorem 2: E F(φ̄_K) − F⋆ ≤ bound (3) for AM2-SGD (Option II) with the Theorem 2 schedule
(THEORY §4.4; comparator form §4.3b)."""
from __future__ import annotations

from ..theory import bounds
from .zhou_thm1a import ZhouThm1a


class ZhouThm2(ZhouThm1a):
    name = "thm2"
    reference = "Zhou et al., Amortized Nesterov's momentum, Theorem 2, bound (3) (THEORY §4.4)"
    summary = "E F(φ̄_K) − F⋆ ≤ bound (3) (AM2-SGD, Theorem 2 schedule)"
    algorithms = ("am2",)
    options = ("II",)
    schedule = "theorem2"
    epoch_indexed = False

    def validate(self, spec, need):
        pass

    def comparator_bound(self, ctx, u, k, eta, F0_gap):
        c = ctx.problem.constants
        return bounds.thm2_comparator(c.L, u.V, u.delta, ctx.oracle.sigma, c.M, ctx.alg.m, k, F0_gap, eta=eta)

    def theorem_bound(self, ctx, V, k, F0_gap):
        c = ctx.problem.constants
        return bounds.thm2_bound(c.L, V, ctx.oracle.sigma, c.M, ctx.alg.m, k, F0_gap)


THEOREM = ZhouThm2()
