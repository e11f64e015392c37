"""Registries of problem families and noise models (built-ins + plug-ins, see theorycheck.plugins).

Problem family: a factory ``factory(device=..., **params) -> Problem``; the spec keys ``problem.L`` and
``problem.file`` are passed as ``L=`` and ``file=`` when given. Noise model: a factory ``factory(sigma, **params)
-> theorycheck.oracles.Noise``; the spec keys ``noise.df``, ``noise.p`` and the table ``noise.params`` are passed as
keyword arguments. ``minibatch`` is not a noise but the minibatch oracle of a finite-sum problem.
"""
from __future__ import annotations

import math

from .oracles import GaussianNoise, NoNoise, SphereNoise, SpikeNoise, StudentTNoise
from .plugins import Registry


def _synthetic(fn_name):
    def make(device=None, **params):
        from .problems import synthetic

        return getattr(synthetic, fn_name)(device=device, **params)
    def target():
        from .problems import synthetic

        return getattr(synthetic, fn_name)
    make.__doc__ = f"theorycheck.problems.synthetic.{fn_name}"
    make.target = target  # the real factory, imported on demand (its signature names the allowed params)
    return make


def a9a(device=None, L=None, **params):
    """theorycheck.problems.a9a.load_a9a (L: 'row' by default)."""
    from .problems.a9a import load_a9a

    return load_a9a(L=L if L is not None else "row", device=device, **params)


def svmlight(device=None, file=None, L=None, **params):
    """theorycheck.problems.a9a.load_svmlight_problem (L: 'row' by default)."""
    from .problems.a9a import load_svmlight_problem

    return load_svmlight_problem(file, L=L if L is not None else "row", device=device, **params)


def robust_regression(device=None, N=200, n=10, outlier_frac=0.1, w_scale=1.0, seed=0):
    """The smooth non-convex robust regression of Cutkosky–Mehta checks (theorycheck.methods.normalized), with
    F_ref = 0 declared as a lower bound (A2: F >= 0), so F − F_ref = F is the recorded error."""
    from .methods.normalized import RobustRegression

    p = RobustRegression.random(N=N, n=n, outlier_frac=outlier_frac, w_scale=w_scale, seed=seed, device=device)
    c = p.constants
    c.F_ref, c.F_ref_method = 0.0, "lower bound: F >= 0 (A2); not inf F"
    assert math.isfinite(c.L)
    return p


PROBLEMS = Registry("problems", {
    "least_squares": _synthetic("least_squares"), "nesterov_worst_case": _synthetic("nesterov_worst_case"),
    "simplex": _synthetic("simplex_problem"), "l1_composite": _synthetic("l1_composite"),
    "compact": _synthetic("compact_problem"), "mad_regression": _synthetic("mad_regression"),
    "a9a": a9a, "svmlight": svmlight, "robust_regression": robust_regression})

NOISES = Registry("noises", {"none": lambda sigma=0.0, **kw: NoNoise(sigma), "sphere": SphereNoise,
                             "gaussian": GaussianNoise, "student_t": StudentTNoise, "spike": SpikeNoise})
MINIBATCH = "minibatch"


def noise_names() -> list:
    return NOISES.names() + [MINIBATCH]
