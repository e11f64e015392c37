"""Certified ranges of the per-seed error statistic F(x) - F_ref over a compact feasible set X.

``gap_sup(problem)`` returns an upper bound G >= sup_{x in X} F(x) - F_ref computed from the problem's exact data and
certified constants (never sampled), or None where no such bound is certain. Every output of the algorithms lies in X
(mirror steps map into X and outputs are convex combinations of such points), so the error at any checkpoint lies
in [-eps, G], where -eps allows for F_ref being rounded above F_star (``lower_slack``).

Families:

* ``simplex`` (SimplexQP, F(x) = 1/2 x'Qx + c'x on the probability simplex): F is convex, so its maximum over the
  polytope is attained at a vertex e_j: sup F - F_ref = max_j (Q_jj / 2 + c_j) - F_ref (exact).
* ``compact`` (CompactLeastSquares, F(x) = (1/2N)||Ax - y||^2 on an l2 ball or a box): F is quadratic, so for every
  x in X, F(x) - F(x*) = <grad F(x*), x - x*> + 1/2 (x - x*)'Q(x - x*) <= ||grad F(x*)||_2 D_X + L D_X^2 / 2 with
  ||x - x*||_2 <= D_X (the problem's exact diameter about x*) and L = lambda_max(Q) (Cauchy-Schwarz and the
  Rayleigh quotient). (x* is on the boundary, so grad F(x*) != 0.)

Both values get a relative slack of 1e-9 (plus 1e-12 absolute) for floating-point evaluation.
Any other family (unbounded X, or non-quadratic F) returns None: the asymptotic limits are used there.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["gap_sup", "lower_slack"]

_REL = 1e-9


def _np(v):
    try:
        return v.detach().cpu().double().numpy()
    except AttributeError:
        return np.asarray(v, dtype=np.float64)


def gap_sup(problem) -> float | None:
    """Certified upper bound on sup_{x in X} F(x) - F_ref (see the module docstring), or None."""
    from .problems.synthetic import CompactLeastSquares, SimplexQP

    c = problem.constants
    if not (math.isfinite(c.D_X) and math.isfinite(c.F_ref)):
        return None
    if isinstance(problem, SimplexQP):
        Q, cc = _np(problem.data["Q"]), _np(problem.data["c"])
        g = float(np.max(0.5 * np.diag(Q) + cc) - c.F_ref)
    elif isinstance(problem, CompactLeastSquares) and problem.x_star is not None and c.M == 0:
        A, y = _np(problem.data["A"]), _np(problem.data["y"])
        xs = _np(problem.x_star)
        grad = A.T @ (A @ xs - y) / A.shape[0]
        L = float(np.linalg.eigvalsh(A.T @ A / A.shape[0])[-1])
        g = float(np.linalg.norm(grad)) * c.D_X + 0.5 * max(L, c.L) * c.D_X ** 2
    else:
        return None
    if not (g > 0 and math.isfinite(g)):
        return None
    return g * (1 + _REL) + 1e-12 * max(1.0, abs(c.F_ref))


def lower_slack(problem) -> float:
    """How far below 0 a rounding-level error may go: F_ref is rounded, so F(x) - F_ref >= -eps."""
    return 1e-9 * max(1.0, abs(problem.constants.F_ref))
