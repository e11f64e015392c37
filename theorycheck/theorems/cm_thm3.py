"""Cutkosky & Mehta 2020, Theorem 3: NIGT (Algorithm 1) with η = min{R^{5/7}/(T^{5/7}ρ^{1/7}σ^{4/7}), sqrt(R/(TL))},
α = min{R^{4/7}ρ^{2/7}/(T^{4/7}σ^{6/7}), 1} satisfies (1/T) Σ_t E||∇F(w_t)|| ≤ 5 sqrt(RL/T)
+ 27 R^{2/7}ρ^{1/7}σ^{4/7}/T^{2/7} + 8σ^{13/7}/(R^{4/7}ρ^{2/7}T^{3/7}) under A1–A4 (ρ: second-order smoothness;
THEORY §6, §9 #15)."""
from __future__ import annotations

from ..methods.normalized import thm3_bound, thm3_params
from ._cm import CMTheorem, R_of, schedule_factory, sup_constant


class CMThm3(CMTheorem):
    name = "cm_thm3"
    reference = "Cutkosky & Mehta 2020, Momentum improves normalized SGD, Theorem 3 (THEORY §6)"
    summary = "(1/T) Σ E||∇F(w_t)|| ≤ 5√(RL/T) + 27R^{2/7}ρ^{1/7}σ^{4/7}/T^{2/7} + … (NIGT, A1–A4)"
    algorithms = ("nigt",)
    schedule = "cm_thm3"
    schedule_kinds = {"cm_thm3": schedule_factory(
        lambda p, s, T: thm3_params(R_of(p), p.constants.L, sup_constant(p, "rho"), s, T), "cm_thm3")}

    def assumptions(self, ctx):
        fails = super().assumptions(ctx)
        if "rho" not in ctx.problem.constants.notes:
            fails.append("A4 needs a declared second-order smoothness constant constants.notes['rho']")
        return fails

    def bound(self, ctx):
        p = ctx.problem
        return thm3_bound(R_of(p), p.constants.L, sup_constant(p, "rho"), ctx.oracle.sigma, ctx.spec.K)


THEOREM = CMThm3()
