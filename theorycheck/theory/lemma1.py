"""Lemma 1 (THEORY §4.1) as a pathwise certificate, evaluated at every step of a run.

For scheme (2) with (z, y, α, β) before the step, x the query point, g the oracle output, δ = ∇f(x) − g,
z⁺ = Prox_{αh}(z, αg), y⁺ = (1−β)z⁺ + βy and any reference point u ∈ X:

    (F(y⁺) − F(u))/(1−β) + V(u, z⁺)/α
        ≤ β/(1−β) (F(y) − F(u)) + V(u, z)/α + (‖δ‖_* + M)² / (2(1/α − L(1−β))) + ⟨δ, z − u⟩.

It holds for every realisation when α(1−β) < 1/L; ``slack = RHS − LHS`` must then be ≥ 0 (up to rounding).
Use as ``run(..., monitor=Lemma1Certificate(problem, u))``; costs 3 extra F evaluations and one ∇f per step.
"""
from __future__ import annotations

import math

import torch


class Lemma1Certificate:
    def __init__(self, problem, u: torch.Tensor | None = None, rel_tol: float = 1e-9):
        self.problem = problem
        self.u = (problem.x_star if u is None else u)
        if self.u is None:
            raise ValueError(f"{problem.name}: give a reference point u (no minimiser is declared)")
        self.u = self.u.to(problem.device, torch.float64)
        self.rel_tol = rel_tol
        self.min_slack = None  # (R,) running minimum of RHS − LHS
        self.min_rel_slack = None  # (R,) slack / (|LHS| + |RHS|)
        self.steps = 0
        self.step_condition_ok = True  # α(1−β) < 1/L at every step seen
        self._Fu = None  # F(u), computed once

    def __call__(self, algorithm, state, x, g, k):
        if not hasattr(algorithm, "scheme2"):
            raise ValueError(f"{algorithm.name} is not a scheme-(2) algorithm; Lemma 1 applies to the general "
                             "proximal forms (am1, am2, acsa)")
        p, setup = self.problem, algorithm.setup
        L, M = p.constants.L, p.constants.M
        z, y, a, b = (t.double() if torch.is_tensor(t) else t for t in algorithm.scheme2(state, k))
        x, g = x.double(), g.double()
        delta = p.grad(x) - g
        zp = setup.prox(z, a * g, a)
        yp = (1 - b) * zp + b * y
        u = self.u[None]
        if self._Fu is None:
            self._Fu = p.value(u)
        Fu = self._Fu
        V = setup.mirror.bregman
        denom = 2.0 * (1.0 / a - L * (1 - b))
        self.step_condition_ok &= a * (1 - b) * L < 1
        noise = (setup.mirror.dual_norm(delta) + M) ** 2 / denom if denom != 0 else torch.full_like(Fu, math.inf)
        lhs = (p.value(yp) - Fu) / (1 - b) + V(u, zp) / a
        rhs = b / (1 - b) * (p.value(y) - Fu) + V(u, z) / a + noise + ((z - u) * delta).sum(-1)
        slack = rhs - lhs
        rel = slack / (lhs.abs() + rhs.abs()).clamp(min=1e-300)
        self.min_slack = slack if self.min_slack is None else torch.minimum(self.min_slack, slack)
        self.min_rel_slack = rel if self.min_rel_slack is None else torch.minimum(self.min_rel_slack, rel)
        self.steps += 1

    def holds(self) -> bool:
        """True when the inequality held at every step for every replica (relative rounding tolerance)."""
        return bool((self.min_rel_slack >= -self.rel_tol).all())

    def summary(self) -> dict:
        return {"steps": self.steps, "min_slack": float(self.min_slack.min()),
                "min_rel_slack": float(self.min_rel_slack.min()), "holds": self.holds(),
                "step_condition": self.step_condition_ok}
