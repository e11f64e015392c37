"""Verdicts for the Cutkosky–Mehta theorems (THEORY §6) in the format of :mod:`theorycheck.check`.

Legacy programmatic API (kept for callers and tests): the theorems themselves are
:mod:`theorycheck.theorems.cm_thm1` / :mod:`~theorycheck.theorems.cm_thm3` and run through the common engine with
``theorycheck check cm_thm1 cm_thm3`` (specs problems/cm_thm1.toml, cm_thm3.toml). Runs here also go through
:func:`theorycheck.run.run` (via :func:`~theorycheck.methods.normalized.run_normalized`) and the engine's mean test.

For each theorem and each σ of a grid, R seeds run the method with the theorem's parameters on a
:class:`~theorycheck.methods.normalized.RobustRegression` problem (noise from the counter-based ``theorycheck.rng``:
seed r's run is a pure function of (seed_r, σ, T), whatever the batch):

* ``cm_thm1`` — normalized SGD with momentum, Theorem 1's (α, η) (A1–A3);
* ``cm_thm3`` — NIGT (Algorithm 1), Theorem 3's (α, η) (A1–A4).

Statistic (one number per seed): ``(1/T) Σ_{t=1..T} ||∇F(w_t)||`` over the T points at which gradients were
queried. Its population mean over seeds is the left side of both theorems, so the test is
:func:`theorycheck.stats.verdict_mean` against the theorem's bound with R = F(w_1) (the tightest admissible R),
then Holm over every test of the call (:func:`theorycheck.stats.verdicts_family`, via
:func:`theorycheck.check.finalize`). ``bound_scale`` multiplies the bound (negative control: 0.01 → "violated").
Rows have the columns of :data:`theorycheck.check.COLUMNS` (``option`` = "w_t", ``m`` = 1, ``checkpoint`` = T,
``comparator`` = "R=F(w_1)").

Vacuity: every w has ||∇F(w)|| <= sup|φ'| mean_i ||a_i|| (``problem.grad_sup``), so a bound at or above it holds for
*any* algorithm. Such rows get ``bound_form`` = "theorem (vacuous)", and a "holds" there says nothing about the
method. On the default problem (sup ||∇F|| <= 0.707) at T = 100 that is Theorem 1 at every σ >= 0 and Theorem 3
at σ >= 0.1; T = 10^4 makes both non-vacuous for σ <= 0.1 (docs/optimizers.md §4).
"""
from __future__ import annotations


import numpy as np

from ..check import COLUMNS, finalize
from ..theorems.base import mean_test
from ._common import check_real
from .normalized import RobustRegression, run_normalized, thm1_bound, thm3_bound

__all__ = ["THEOREMS", "STATISTIC", "per_seed_statistic", "theorem_bound", "is_vacuous", "evaluate",
           "check_cutkosky_mehta", "COLUMNS"]

STATISTIC = "mean ||grad F|| over t"
THEOREMS = {"cm_thm1": "nsgdm", "cm_thm3": "nigt"}  # theorem -> the method it is about


def _check_theorem(theorem):
    if theorem not in THEOREMS:
        raise ValueError(f"theorem must be one of {sorted(THEOREMS)}, got {theorem!r}")


def _check_T(T):
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")


def theorem_bound(problem: RobustRegression, theorem: str, sigma: float, T: int) -> float:
    """The theorem's bound on (1/T) Σ_t E||∇F(w_t)|| with R = F(w_1) (THEORY §6; OCR corrections §9 #14–15)."""
    _check_theorem(theorem)
    R = float(problem.value(problem.x0[None])[0])
    if theorem == "cm_thm1":
        return thm1_bound(R, problem.L, sigma, T)
    return thm3_bound(R, problem.L, problem.rho, sigma, T)


def is_vacuous(problem: RobustRegression, bound: float) -> bool:
    """True when bound >= sup_w ||∇F(w)|| (= problem.grad_sup), i.e. the bound holds for any algorithm."""
    return bool(bound >= problem.grad_sup)


def per_seed_statistic(problem: RobustRegression, theorem: str, sigma: float, T: int, seeds,
                       noise: str = "gaussian") -> tuple[np.ndarray, dict]:
    """Run the theorem's method with its parameters; return ((R,) array of (1/T) Σ_t ||∇F(w_t)||, info) where
    info holds ``alpha``, ``eta``, ``R`` (= F(w_1)) and ``min_lemma2_slack`` (Lemma 2 checked pathwise)."""
    _check_theorem(theorem)
    out = run_normalized(problem, seeds, T, sigma, THEOREMS[theorem], noise=noise)
    stat = out["grad_norm"].mean(0).cpu().numpy()
    info = {"alpha": out["alpha"], "eta": out["eta"], "R": out["R"], "min_lemma2_slack": float(out["slack"].min())}
    return stat, info


def evaluate(problem: RobustRegression, theorem: str, sigma: float, T: int, seeds, *, noise: str = "gaussian",
             bound_scale: float = 1.0, alpha: float = 0.05, spec: str = "cutkosky_mehta") -> dict:
    """One unadjusted test (a row dict with the Verdict under ``"test"``; :func:`finalize` applies Holm)."""
    if not isinstance(problem, RobustRegression):
        raise ValueError(f"problem must be a RobustRegression (its L, rho, sigma are derived), got "
                         f"{type(problem).__name__}")
    _check_theorem(theorem)
    _check_T(T)
    check_real("sigma", sigma, lo=0)
    check_real("bound_scale", bound_scale, lo=0, lo_open=True)
    stat, info = per_seed_statistic(problem, theorem, sigma, T, seeds, noise)
    bound = theorem_bound(problem, theorem, sigma, T) * bound_scale
    finite = np.isfinite(stat)
    test = mean_test(stat, bound, alpha)  # the engine's test (a non-finite seed makes the mean +inf: violated)
    form = "theorem" if bound_scale == 1.0 else f"theorem x {bound_scale:g}"
    if is_vacuous(problem, bound):
        form += " (vacuous)"
    return {"spec": spec, "theorem": theorem, "algorithm": THEOREMS[theorem], "option": "w_t", "m": 1,
            "sigma": float(sigma), "K": T, "checkpoint": T, "n_seeds": int(stat.size), "statistic": STATISTIC,
            "bound_form": form, "comparator": "R=F(w_1)", "n_diverged": int((~finite).sum()), "assumptions": "ok",
            "test": test, "info": info}


def check_cutkosky_mehta(problem: RobustRegression | None = None, sigmas=(0.1, 0.3, 1.0, 3.0), T=100,
                         seeds=range(20), theorems=("cm_thm1", "cm_thm3"), *, noise: str = "gaussian",
                         bound_scale: float = 1.0, alpha: float = 0.05, spec: str = "cutkosky_mehta"):
    """Verdict table (a pandas DataFrame, columns :data:`COLUMNS`) for every theorem × σ × T (T: an int or a sequence of ints; each T
    is a separate run, the parameters depend on T), Holm-corrected as one family.

    problem: default ``RobustRegression.random(N=200, n=10, seed=0)`` (L = 0.137, ρ = 0.141, F(w_1) = 0.631,
    sup ||∇F|| <= 0.707)."""
    problem = RobustRegression.random(N=200, n=10, seed=0) if problem is None else problem
    sig = list(sigmas)
    Ts = [T] if isinstance(T, int) else list(T)
    if not sig:
        raise ValueError("sigmas must hold at least one sigma")
    if not Ts:
        raise ValueError("T must be an integer >= 1 or a non-empty sequence of them")
    for th in theorems:
        _check_theorem(th)
    rows = [evaluate(problem, th, float(s), t, seeds, noise=noise, bound_scale=bound_scale, alpha=alpha, spec=spec)
            for th in theorems for t in Ts for s in sig]
    return finalize(rows, alpha)
