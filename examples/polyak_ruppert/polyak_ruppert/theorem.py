"""The classic bound for averaged SGD on a convex L-smooth f with unbiased, variance-σ² gradients.

Statement. f convex and L-smooth on R^n with a minimiser x⋆; g_k = ∇f(x_k) + δ_k, E[δ_k | x_k] = 0,
E||δ_k||² ≤ σ²; constant step η ≤ 1/L; x̄_K = (1/K) Σ_{k=0..K−1} x_k. Then

    E f(x̄_K) − f⋆ ≤ ||x0 − x⋆||² / (2ηK) + ησ²/2.

Proof (standard; e.g. Bubeck 2015, "Convex Optimization: Algorithms and Complexity", §6.1, and Garrigos & Gower
2023, "Handbook of convergence theorems for (stochastic) gradient methods", §5, give the same argument):
||x_{k+1} − x⋆||² = ||x_k − x⋆||² − 2η⟨g_k, x_k − x⋆⟩ + η²||g_k||²; take expectations, use
E||g_k||² = ||∇f(x_k)||² + E||δ_k||² and ⟨∇f(x), x − x⋆⟩ ≥ f(x) − f⋆ + ||∇f(x)||²/(2L) (convex, L-smooth,
∇f(x⋆) = 0); with η ≤ 1/L the gradient terms cancel: 2η E[f(x_k) − f⋆] ≤ E||x_k − x⋆||² − E||x_{k+1} − x⋆||² + η²σ².
Sum over k < K, divide by 2ηK and apply Jensen.
"""
from __future__ import annotations

from theorycheck.theorems.base import ExpectationTheorem


class AveragedSGDBound(ExpectationTheorem):
    name = "avg_sgd"
    reference = "classic averaged-SGD bound, convex L-smooth, bounded variance (Bubeck 2015 §6.1)"
    summary = "E f(x̄_K) − f⋆ ≤ ||x0 − x⋆||²/(2ηK) + ησ²/2 (SGD, constant η ≤ 1/L, Polyak-Ruppert average)"
    algorithms = ("sgd_pr",)
    options = ("average",)
    schedule = "constant"

    def validate(self, spec, need):
        need(spec.schedule.get("beta", 0.0) == 0, "schedule.beta", "averaged SGD has no momentum: beta must be 0")

    def assumptions(self, ctx):
        p, fails = ctx.problem, []
        eta = ctx.schedule.eta(0)
        if not eta * p.constants.L <= 1:
            fails.append(f"step condition eta <= 1/L fails: eta*L = {eta * p.constants.L:.3g}")
        if p.setup.name != "euclidean/none":
            fails.append(f"the bound is for unconstrained R^n with the l2 norm, got {p.setup.name!r}")
        if p.x_star is None:
            fails.append("the bound needs a minimiser x_star")
        return fails

    def bounds(self, ctx, k):
        p, eta = ctx.problem, ctx.schedule.eta(0)
        r2 = float(((p.x0 - p.x_star) ** 2).sum())
        return [("theorem", "x_star", r2 / (2 * eta * k) + eta * ctx.oracle.sigma ** 2 / 2)]


THEOREM = AveragedSGDBound()
