"""Nemirovski, Juditsky, Lan & Shapiro 2009 ("Robust stochastic approximation approach to stochastic programming",
SIAM J. Optim. 19(4):1574–1609), §2.3: mirror-descent SA with a constant step γ and averaging.

Statement checked. X convex and compact, f convex, ω 1-strongly convex w.r.t. ||·|| on X (the setups of
theorycheck.geometry are: ½||x||² for ℓ2, entropy for ℓ1 on the simplex), a stochastic subgradient G with
E G(x, ξ) = ∇f(x) and E||G(x, ξ)||_*² ≤ M_*² on X. MD-SA runs x_{t+1} = P_{x_t}(γ G(x_t, ξ_t)) from x_1 = x0; after
N steps the average of the query points x̃_N = (1/N) Σ_{t=1..N} x_t satisfies

    E f(x̃_N) − f⋆ ≤ (V(x_1, x⋆) + γ² N M_*² / 2) / (N γ) = V(x_1, x⋆)/(Nγ) + γ M_*²/2,

the paper's general estimate [D²_{ω,X} + (2α)^{-1} M_*² Σγ_t²] / Σγ_t (α = 1) with constant γ_t = γ, in the form
its proof gives it (the proof uses only V(x_1, x⋆) ≤ D²_{ω,X} = max ω − min ω; with x_1 = argmin ω the printed
form follows). With γ = sqrt(2V/(N M_*²)) it is M_* sqrt(2V/N), the paper's D_{ω,X} M_* sqrt(2/N) (α = 1).
Equation numbers are not cited: the paper is not in ../shared/papers and the numbers could not be checked against
it (THEORY §3.8 describes the algorithm only), so the reference names the section and the estimate is written out
above in full.

Constants used here (all declared or derived, nothing estimated from the run):
* V(x_1, x⋆) = ``problem.V0()`` (Bregman divergence of the setup, needs a minimiser);
* M_* ≤ G_* + σ with G_* = sup_X ||∇f||_*: ``constants.notes['grad_sup_dual']`` when the problem declares it,
  else ||∇f(x0)||_* + L · max_{x∈X} ||x − x0|| (L-smoothness in the setup's norm, needs M = 0), and σ the
  oracle's σ in the dual norm (Minkowski: sqrt(E||∇f + δ||_*²) ≤ ||∇f||_* + sqrt(E||δ||_*²)).

The algorithm is :class:`theorycheck.algorithms.baselines.MirrorDescentSA`, output option ``query_average``
((1/k) Σ_{j<k} z_j). Schedule: ``kind = "mdsa"`` (γ = sqrt(2V/(K M_*²)), V from schedule.V or the true V) or
``kind = "constant"`` with ``alpha`` (any constant γ; the bound uses it).
"""
from __future__ import annotations

import math

from .base import ExpectationTheorem


def grad_sup_dual(problem) -> float:
    """G_* ≥ sup_{x∈X} ||∇f(x)||_* (declared, or ||∇f(x0)||_* + L max_X ||x − x0||)."""
    c = problem.constants
    if "grad_sup_dual" in c.notes:
        return float(c.notes["grad_sup_dual"])
    g0 = float(problem.setup.mirror.dual_norm(problem.f_grad(problem.x0[None].double()))[0])
    return g0 + c.L * problem.setup.diameter(problem.x0)


def M_star(problem, sigma: float) -> float:
    return grad_sup_dual(problem) + sigma


class _MDSASchedule:
    """Constant step γ (β = 0)."""

    constant = True

    def __init__(self, gamma):
        if not (math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"the MD-SA step must be a finite number > 0, got {gamma!r}")
        self.gamma = float(gamma)

    def alpha(self, t):
        return self.gamma

    def beta(self, t):
        return 0.0

    def eta(self, t):
        return self.gamma

    def describe(self):
        return {"schedule": "mdsa", "alpha": self.gamma, "beta": 0.0, "eta": self.gamma}


def _mdsa_schedule(spec, cfg, problem, oracle):
    V = spec.schedule.get("V", "true")
    V = problem.V0() if V == "true" else float(V)
    M = M_star(problem, oracle.sigma)
    return _MDSASchedule(math.sqrt(2 * V / (spec.K * M * M)))


class NemirovskiMDSA(ExpectationTheorem):
    name = "mdsa"
    reference = ("Nemirovski, Juditsky, Lan & Shapiro 2009, SIAM J. Optim. 19(4), §2.3 "
                 "(mirror-descent SA, constant step, averaged output)")
    summary = "E f(x̃_N) − f⋆ ≤ V(x_1,x⋆)/(Nγ) + γM_*²/2 (mirror-descent SA, constant step, averaged)"
    algorithms = ("mdsa",)
    options = ("query_average",)
    schedule = None
    schedule_kinds = {"mdsa": _mdsa_schedule}

    def refusals(self, spec, default_option):
        out = super().refusals(spec, default_option)
        if spec.schedule["kind"] not in ("mdsa", "constant"):
            out.append(("schedule.kind", f"mdsa needs schedule.kind = 'mdsa' or 'constant' (constant step), got "
                                         f"{spec.schedule['kind']!r}"))
        if spec.schedule["kind"] == "constant" and spec.schedule.get("beta", 0.0) != 0:
            out.append(("schedule.beta", "mirror-descent SA has no momentum: beta must be 0"))
        return out

    def assumptions(self, ctx):
        p, c, fails = ctx.problem, ctx.problem.constants, []
        if not p.setup.compact or not math.isfinite(p.setup.diameter(p.x0)):
            fails.append("NJLS §2.3 needs a compact X (finite max_X ||x - x0||)")
        if p.setup.kind in ("l1", "box_l1", "linear"):
            fails.append(f"the bound is for f on X without a composite term h, got setup {p.setup.name!r}")
        if c.M != 0 and "grad_sup_dual" not in c.notes:
            fails.append("M > 0: declare constants.notes['grad_sup_dual'] (sup_X ||grad f||_*)")
        if p.x_star is None:
            fails.append("the bound needs a minimiser x_star (V(x_1, x_star))")
        if c.F_ref != c.F_ref or c.F_ref_method in ("unknown", "not certified"):
            fails.append("F_ref is not certified")
        return fails

    def bounds(self, ctx, k):
        gamma = ctx.schedule.alpha(0)
        M = M_star(ctx.problem, ctx.oracle.sigma)
        return [("theorem", "x_star", ctx.problem.V0() / (k * gamma) + gamma * M * M / 2)]


THEOREM = NemirovskiMDSA()
