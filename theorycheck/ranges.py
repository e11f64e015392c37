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

``grad_norm_sup(problem)`` returns G' >= sup_{x in X} ||grad F(x)||_2, the range [0, G'] of the gradient-norm
statistics (Cutkosky & Mehta Theorems 1 and 3: the per-seed statistic (1/k) sum_t ||grad F(w_t)|| is an average of
values in [0, G'], so it lies there too), again from data and certified constants only:

* logistic regression (``Logistic``: a9a, svmlight; F(x) = (1/N) sum_i log(1 + exp(-b_i <a_i, x>)), no
  regulariser): grad F(x) = -(1/N) sum_i s(-b_i <a_i, x>) b_i a_i with the logistic function s in (0, 1) and
  |b_i| = 1, so by the triangle inequality ||grad F(x)|| <= (1/N) sum_i ||a_i||_2 for every x in R^n (equal to
  1 on a9a's unit-norm rows). It is approached only when the b_i a_i are nearly aligned, so it is conservative on
  real data (a9a: sup bound 1, ||grad F(0)|| = 0.18); a looser range costs width, never validity.
* robust regression (``RobustRegression``, F(w) = (1/N) sum_i phi(<a_i, w> - b_i), phi(r) = log(1 + r^2/2)):
  grad F(w) = (1/N) sum_i phi'(r_i) a_i and sup_r |phi'(r)| = |phi'(sqrt 2)| = 1/sqrt 2, so
  ||grad F(w)|| <= (1/sqrt 2) (1/N) sum_i ||a_i||_2 for every w.
* ``compact`` least squares on X with the certified minimiser x* and diameter D_X about x*:
  grad F(x) = grad F(x*) + Q (x - x*) with Q = A'A/N, so ||grad F(x)|| <= ||grad F(x*)|| + lambda_max(Q) D_X.
* ``simplex`` QP: grad F(x) = Qx + c is affine, so ||grad F(x)|| is convex and its maximum over the simplex is
  attained at a vertex: sup = max_j ||e_j'Q + c||_2 (exact; f_grad computes x'Q + c).

Other families (unbounded X with an unbounded gradient, such as least squares on R^n) return None.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["gap_sup", "lower_slack", "grad_norm_sup"]

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


def _row_norms(A) -> np.ndarray:
    """||a_i||_2 for every row of a dense or scipy-sparse (N, n) matrix, as a float64 (N,) array."""
    import scipy.sparse as sp

    if sp.issparse(A):
        return np.sqrt(np.asarray(A.multiply(A).sum(1), dtype=np.float64).ravel())
    return np.linalg.norm(_np(A), axis=1)


def grad_norm_sup(problem) -> float | None:
    """Certified upper bound on sup_{x in X} ||grad F(x)||_2 (see the module docstring for the derivations), from
    the problem's data and certified constants (never sampled), with the same floating-point slack as gap_sup;
    None when no bound is certain (e.g. least squares on R^n, or a family not listed)."""
    from .methods.normalized import PHI1_SUP, RobustRegression
    from .problems.logistic import Logistic
    from .problems.synthetic import CompactLeastSquares, SimplexQP

    c = problem.constants
    if isinstance(problem, Logistic):
        g = float(_row_norms(problem._A_np).mean())
    elif isinstance(problem, RobustRegression):
        g = PHI1_SUP * float(_row_norms(problem.A).mean())
    elif isinstance(problem, CompactLeastSquares) and problem.x_star is not None and math.isfinite(c.D_X):
        A, y = _np(problem.data["A"]), _np(problem.data["y"])
        xs = _np(problem.x_star)
        grad = A.T @ (A @ xs - y) / A.shape[0]
        L = float(np.linalg.eigvalsh(A.T @ A / A.shape[0])[-1])
        g = float(np.linalg.norm(grad)) + max(L, c.L) * c.D_X
    elif isinstance(problem, SimplexQP):
        Q, cc = _np(problem.data["Q"]), _np(problem.data["c"])
        g = float(np.max(np.linalg.norm(Q + cc[None, :], axis=1)))  # row j: grad F(e_j) = e_j'Q + c (f_grad's form)
    else:
        return None
    if not (g > 0 and math.isfinite(g)):
        return None
    return g * (1 + _REL) + 1e-12
