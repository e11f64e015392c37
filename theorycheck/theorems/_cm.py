"""Shared pieces of the Cutkosky–Mehta theorems (THEORY §6): the prescribed (η, β) schedules, the
gradient-norm statistic and its monitor."""
from __future__ import annotations

import math

import numpy as np
import torch

from .base import ExpectationTheorem, grad_norm_range

STATISTIC = "mean ||grad F|| over t"
GRAD_COLUMN = "grad_norm_mean"  # raw-table column: (1/k) Σ_{t=1..k} ||∇F(w_t)|| per seed


class FixedStep:
    """Constant normalized-method parameters: step η and momentum β = 1 − α, kept exactly as given (no α round
    trip). ``alpha(t) = η/(1−β)`` for the scheme-(2) reading; ``eta(t) = η``."""

    constant = True

    def __init__(self, eta: float, beta: float, kind: str = "fixed"):
        if not (math.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
        if not (0 <= beta < 1):
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        self._eta, self._beta, self.kind = float(eta), float(beta), kind

    def alpha(self, t):
        return self._eta / (1 - self._beta)

    def beta(self, t):
        return self._beta

    def eta(self, t):
        return self._eta

    def describe(self):
        return {"schedule": self.kind, "eta": self._eta, "beta": self._beta}


def R_of(problem) -> float:
    """R = F(w_1) − F_ref: the tightest admissible R of Theorems 1 and 3 when F_ref ≤ inf F (A2)."""
    return float(problem.error(problem.x0[None])[0])


def sup_constant(problem, key) -> float:
    v = problem.constants.notes.get(key)
    if v is None:
        raise ValueError(f"{problem.name} declares no constants.notes[{key!r}] (needed by the theorem)")
    return float(v)


class GradNormMonitor:
    """Records ||∇F(w_t)|| before every step (w_t = the algorithm's output ``option``) and reports, per raw-table
    row (checkpoint k, replica r), the running mean (1/k) Σ_{t=1..k} ||∇F(w_t)|| (the left side of Theorems 1
    and 3 of Cutkosky–Mehta, over the k points at which gradients were queried)."""

    column = GRAD_COLUMN

    def __init__(self, problem, option="w_t"):
        self.problem, self.option, self.norms = problem, option, []

    def __call__(self, algorithm, state, x, g, k):
        w = algorithm.output(state, self.option, k)
        self.norms.append(torch.linalg.vector_norm(self.problem.f_grad(w), dim=-1))

    def columns(self, table, n_seeds):
        cps = np.asarray(table["checkpoint"], dtype=int)
        reps = np.asarray(table["replica"], dtype=int)
        means = {}
        for c in sorted(set(cps.tolist())):
            means[c] = (torch.stack(self.norms[:c]).mean(0).cpu().numpy() if c > 0
                        else np.full(n_seeds, np.nan))
        return {self.column: np.array([means[c][r] for c, r in zip(cps, reps)], dtype=float)}


class CMTheorem(ExpectationTheorem):
    """A bound on (1/T) Σ_t E||∇F(w_t)|| at k = T (the parameters depend on T)."""

    statistic = GRAD_COLUMN
    statistic_label = STATISTIC
    options = ("w_t",)

    def monitor(self, spec, problem):
        return GradNormMonitor(problem)

    def vacuity_level(self, problem, ctx=None) -> float:
        """||∇F(x0)||: the mean gradient norm of the method that never moves."""
        return float(torch.linalg.vector_norm(problem.f_grad(problem.x0[None].double()), dim=-1)[0])

    def test_checkpoints(self, spec, checkpoints):
        return [k for k in checkpoints if k == spec.K]

    def statistic_range(self, ctx):
        """[0, sup_X ||grad F||] certified from data and constants (theorycheck.ranges.grad_norm_sup; e.g.
        robust regression: sup|phi'| mean_i ||a_i||), so the limits are exact-bounded; None when no bound is
        certain (then the limits are asymptotic)."""
        if ctx.cache.get("grad_range", 0) == 0:
            ctx.cache["grad_range"] = grad_norm_range(ctx.problem)
        return ctx.cache["grad_range"]

    def assumptions(self, ctx):
        p, fails = ctx.problem, []
        if p.setup.mirror.name != "euclidean" or p.setup.kind != "none":
            fails.append(f"the theorem is about unconstrained R^n with the l2 norm, got setup {p.setup.name!r}")
        if not math.isfinite(p.constants.F_ref):
            fails.append("A2 needs a declared lower bound F_ref <= inf F (R = F(w_1) - F_ref)")
        if p.constants.M != 0:
            fails.append("A1 needs a smooth F (M = 0)")
        if p.constants.L <= 0:
            fails.append("the theorem's parameters need L > 0")
        return fails

    def bound(self, ctx) -> float:
        raise NotImplementedError

    def bounds(self, ctx, k):
        return [("theorem", "R=F(w_1)", self.bound(ctx))]


def schedule_factory(params, kind):
    """A schedule-kind factory (spec, cfg, problem, oracle) -> FixedStep from ``params(problem, sigma, T)``."""
    def make(spec, cfg, problem, oracle):
        alpha, eta = params(problem, oracle.sigma, spec.K)
        return FixedStep(eta, 1.0 - alpha, kind)
    return make
