"""Cutkosky & Mehta 2020, Theorem 1: normalized SGD with momentum (eqs. (2)–(3), m_1 = g_1) with
α = min{sqrt(RL)/(σ sqrt T), 1}, η = sqrt(Rα/(TL)), β = 1 − α satisfies
(1/T) Σ_t E||∇F(w_t)|| ≤ 29 sqrt(RL/T) + 21 sqrt(σ)(RL)^{1/4}/T^{1/4} + 8σ²/sqrt(RLT) under A1–A3
(THEORY §6; OCR corrections §9 #14)."""
from __future__ import annotations

from ..methods.normalized import thm1_bound, thm1_params
from ._cm import CMTheorem, R_of, schedule_factory


class CMThm1(CMTheorem):
    name = "cm_thm1"
    reference = "Cutkosky & Mehta 2020, Momentum improves normalized SGD, Theorem 1 (THEORY §6)"
    summary = "(1/T) Σ E||∇F(w_t)|| ≤ 29√(RL/T) + 21√σ(RL)^¼/T^¼ + 8σ²/√(RLT) (normalized SGD+M)"
    algorithms = ("nsgdm",)
    schedule = "cm_thm1"
    schedule_kinds = {"cm_thm1": schedule_factory(lambda p, s, T: thm1_params(R_of(p), p.constants.L, s, T),
                                                  "cm_thm1")}

    def bound(self, ctx):
        return thm1_bound(R_of(ctx.problem), ctx.problem.constants.L, ctx.oracle.sigma, ctx.spec.K)


THEOREM = CMThm1()
