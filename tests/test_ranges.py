"""Certified error ranges (theorycheck/ranges.py): gap_sup >= F(x) - F_ref at random points of X (and is attained
at a vertex for the simplex); no range for unbounded X."""
import numpy as np
import torch

from theorycheck.problems import synthetic
from theorycheck.ranges import gap_sup


def _errors(problem, X):
    return problem.error(torch.as_tensor(X, dtype=torch.float64)).numpy()


def test_simplex_gap_sup_is_the_vertex_maximum():
    p = synthetic.simplex_problem(n=20, seed=0)
    g = gap_sup(p)
    V = np.eye(20)
    e_vert = _errors(p, V)
    assert abs(g - e_vert.max()) <= 1e-8 * max(1.0, g)
    X = np.random.default_rng(0).dirichlet(np.full(20, 0.3), 2000)
    assert _errors(p, X).max() <= g


def test_compact_gap_sup_bounds_every_point():
    for kind in ("ball", "box"):
        p = synthetic.compact_problem(n=10, kind=kind, seed=1)
        g = gap_sup(p)
        rng = np.random.default_rng(2)
        if kind == "ball":
            Z = rng.standard_normal((4000, 10))
            X = Z / np.linalg.norm(Z, axis=1, keepdims=True) * rng.random((4000, 1)) ** 0.1
        else:
            X = rng.choice([-1.0, 1.0], size=(4000, 10))  # vertices, where a convex F peaks
        e = _errors(p, X)
        assert e.max() <= g and e.max() > 0.05 * g, (kind, e.max(), g)


def test_no_range_for_unbounded_problems():
    assert gap_sup(synthetic.least_squares(n=5, seed=0)) is None


# --- gradient-norm ranges (Cutkosky-Mehta statistics) -----------------------------------------------------------
import math  # noqa: E402

import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from theorycheck.problems.logistic import Logistic  # noqa: E402
from theorycheck.ranges import grad_norm_sup  # noqa: E402


def _gnorms(problem, X):
    X = torch.as_tensor(X, dtype=torch.float64)
    return torch.linalg.vector_norm(problem.f_grad(X), dim=-1).numpy()


def _far_points(n, rng, k=3000):
    Z = rng.standard_normal((k, n))
    return Z * (10.0 ** rng.uniform(-2, 3, (k, 1)))  # from near 0 to |x| ~ 1e3 (saturated logistic / phi')


@pytest.mark.parametrize("layout", ["dense", "sparse", "binary"])
def test_logistic_grad_sup_bounds_sampled_gradients(layout):
    rng = np.random.default_rng(0)
    if layout == "binary":
        A = (rng.random((300, 12)) < 0.3).astype(float)
        A[A.sum(1) == 0, 0] = 1.0
        A /= np.linalg.norm(A, axis=1, keepdims=True)
        A = sp.csr_matrix(A)
    else:
        A = rng.standard_normal((300, 12)) * rng.uniform(0.1, 3, (300, 1))
        A = sp.csr_matrix(A * (rng.random(A.shape) < 0.2)) if layout == "sparse" else A
    b = rng.choice([-1.0, 1.0], 300)
    p = Logistic(A, b, F_ref=0.0, layout=layout)
    g = grad_norm_sup(p)
    dense = A.toarray() if sp.issparse(A) else A
    assert g == pytest.approx(np.linalg.norm(dense, axis=1).mean(), rel=1e-8)
    assert _gnorms(p, _far_points(12, rng)).max() <= g


def test_logistic_grad_sup_is_approached_for_aligned_rows():
    # all b_i a_i along one direction u: at x = -t u the gradient norm tends to (1/N) sum ||a_i|| (tight)
    rng = np.random.default_rng(1)
    u = rng.standard_normal(5)
    u /= np.linalg.norm(u)
    s = rng.uniform(0.5, 2.0, 40)
    b = rng.choice([-1.0, 1.0], 40)
    p = Logistic(s[:, None] * b[:, None] * u[None, :], b, F_ref=0.0, layout="dense")
    g = grad_norm_sup(p)
    assert _gnorms(p, -50.0 * u[None, :])[0] >= g * (1 - 1e-6)


def test_robust_regression_grad_sup():
    from theorycheck.registries import robust_regression

    p = robust_regression(N=200, n=10, seed=0)
    g = grad_norm_sup(p)
    assert g == pytest.approx(p.constants.notes["grad_sup"], rel=1e-8)  # the problem's own declared constant
    rng = np.random.default_rng(2)
    X = np.concatenate([_far_points(10, rng), rng.standard_normal((2000, 10)) * 3])
    v = _gnorms(p, X)
    assert v.max() <= g and v.max() > 0.1 * g


@pytest.mark.parametrize("kind", ["ball", "box"])
def test_compact_grad_sup_bounds_every_point(kind):
    p = synthetic.compact_problem(n=10, kind=kind, seed=1)
    g = grad_norm_sup(p)
    rng = np.random.default_rng(3)
    if kind == "ball":
        Z = rng.standard_normal((4000, 10))
        X = Z / np.linalg.norm(Z, axis=1, keepdims=True) * rng.random((4000, 1)) ** 0.1
    else:
        X = rng.choice([-1.0, 1.0], size=(4000, 10))
    v = _gnorms(p, X)
    assert v.max() <= g and v.max() > 0.1 * g, (kind, v.max(), g)


def test_simplex_grad_sup_is_the_vertex_maximum():
    p = synthetic.simplex_problem(n=20, seed=0)
    g = grad_norm_sup(p)
    assert abs(g - _gnorms(p, np.eye(20)).max()) <= 1e-8 * g
    assert _gnorms(p, np.random.default_rng(4).dirichlet(np.full(20, 0.3), 2000)).max() <= g


def test_no_grad_range_for_unbounded_gradients():
    assert grad_norm_sup(synthetic.least_squares(n=5, seed=0)) is None


def test_cm_statistic_range_is_exact_bounded_and_a_too_small_range_is_detected():
    from theorycheck.theorems import get
    from theorycheck.theorems.base import mean_test

    th = get("cm_thm1")

    class Ctx:  # the part of theorems.base.Context that statistic_range reads
        def __init__(self, problem):
            self.problem, self.cache = problem, {}

    from theorycheck.registries import robust_regression

    p = robust_regression(N=200, n=10, seed=0)
    lo, hi = th.statistic_range(Ctx(p))
    assert lo == 0 and hi == pytest.approx(1 / math.sqrt(2), rel=1e-8)  # rows have unit norm
    vals = np.random.default_rng(5).uniform(0.05, 0.15, 30)
    v = mean_test(vals, 0.5, 0.05, (lo, hi))
    assert v.method == "exact-bounded" and v.verdict == "holds"
    # negative control: the same sample against a bound it exceeds is violated
    assert mean_test(vals, 0.02, 0.05, (lo, hi)).verdict == "violated"
    # a wrong, too-small range (values outside it) is not used: asymptotic limits, with the reason
    w = mean_test(vals, 0.5, 0.05, (0.0, 0.1))
    assert w.method == "asymptotic" and "leave the certified range" in w.extra["range_note"]
    # no range for a problem with unbounded gradients: asymptotic
    assert th.statistic_range(Ctx(synthetic.least_squares(n=5, seed=0))) is None
