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
