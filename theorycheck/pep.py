"""Performance estimation (PEP): the exact worst case of the theorem's statistic over every L-smooth convex function.

For a deterministic (σ = 0) run of AM1-SGD (Algorithm 1), AM2-SGD (Algorithm 3), AC-SA, M-SGD (scheme (4)) or
MD-SA in the Euclidean unconstrained setup (X = R^n, h = 0), :func:`pep_worst_case` builds the PEPit model of
exactly the iterations the engine runs (the same schedule objects of :mod:`theorycheck.schedules`, the same index
conventions s = k // m for AM1 and k for the others, the same output formulas as :mod:`theorycheck.algorithms`) and
solves

    sup { E[F(output)] − F⋆ :  F L-smooth convex on R^d (any d),  ‖x0 − x⋆‖² ≤ 2V  [, F(x0) − F⋆ ≤ F0_gap] }

as a semidefinite program (Drori & Teboulle 2014; Taylor, Hendrickx & Glineur 2017: the smooth convex interpolation
conditions make the SDP exact, not a relaxation). PEPit (Goujaud et al. 2022) writes the SDP; cvxpy solves it with a
free solver (Clarabel, else SCS).

The iteration code is written once (:func:`trace`) on vector-like objects, so the same function runs on PEPit
points (the model) and on numpy vectors (the tests compare it with the engine's iterates to 1e-12).

AM2-SGD (Algorithm 3) draws j_k ~ U[m]. Its statistic is an expectation over the index path, so the model holds all
index paths' iterates for one function f, and the objective is the probability-weighted sum of the path metrics
E_j[F(φ̄_K)] − F⋆ (linear in the function values, hence a valid PEP objective and exactly sup_f E_j). Paths that
differ by a relabeling of table slots give the same φ̄_K, so only the restricted-growth index sequences are kept
(a slot never chosen before is "the next new slot", with probability (m − used)/m). The model still grows
exponentially with K (m = 2: 2^K − 1 query points); the horizon limit is :data:`AM2_MAX_POINTS` points.

Scaling: the class and the methods are invariant under x ↦ x⋆ + R y, f ↦ f/(L R²) with R² = 2V, step η ↦ Lη, so
the SDP is always solved at L = 1, ‖x0 − x⋆‖ ≤ 1 and the value multiplied by 2LV (exact; better conditioned).
Results are cached on disk by a fingerprint of the normalised model (and the PEPit / theorycheck versions).
See docs/pep.md for the model, its limits and the measured numbers.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time

import numpy as np
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__
from .schedules import Constant, Theorem1, Theorem2

__all__ = ["pep_noise_lower_bound", "PEPError", "PEPSolverError", "PEPResult", "SUPPORTED", "K_MAX", "AM2_MAX_POINTS", "pep_worst_case",
           "trace", "am2_paths", "am2_model_points", "make_schedule", "theorem_bound", "available_solvers",
           "add_pep_columns", "PEP_COLUMNS"]

MODEL_VERSION = 1  # bump when the model changes (invalidates the cache)
K_MAX = 100  # documented horizon limit for the deterministic methods (docs/pep.md: K = 50 takes ~ seconds)
AM2_MAX_POINTS = 100  # AM2-SGD, m >= 2: at most this many points in the index-path tree (m=2: K <= 6; m >= 3: K <= 4)
EXIT_SOLVER_FAILED = 4  # CLI exit code when the SDP solver fails (0/1/3 are verdicts, 2 is bad input)

# algorithm -> schedules admitted, output options (first = default, the theorem's statistic)
SUPPORTED = {
    "am1": {"schedules": ("theorem1", "constant"), "options": ("II", "I"), "m": "m >= 1 with K % m == 0"},
    "am1_momentum": {"schedules": ("theorem1", "constant"), "options": ("II", "I"), "m": "m >= 1 with K % m == 0"},
    "am2": {"schedules": ("theorem2", "constant"), "options": ("II",), "m": "m >= 1"},
    "acsa": {"schedules": ("theorem1", "theorem2", "constant"), "options": ("II", "I"), "m": "1"},
    "msgd": {"schedules": ("constant",), "options": ("I", "II"), "m": "1"},
    "mdsa": {"schedules": ("theorem1", "constant"), "options": ("average", "last"), "m": "1"},
}
SDP_SOLVERS = ("SCS", "CLARABEL", "MOSEK")
# SCS at 1e-9 solves K = 50 in ~10 s and agrees with Clarabel (interior point, ~100 s there) to 1e-11 (docs/pep.md)
SOLVER_OPTIONS = {"SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}, "CLARABEL": {}, "MOSEK": {}}


class PEPError(ValueError):
    """Unsupported algorithm / setup / option, horizon above the limit, bad constants, or no SDP solver (exit 2)."""


class PEPSolverError(RuntimeError):
    """The SDP solver did not return an optimal solution; ``result`` holds status and residuals (never a value)."""

    def __init__(self, msg, result):
        super().__init__(msg)
        self.result = result


@dataclass
class PEPResult:
    """A solved PEP. ``worst_case`` = sup over the class of E F(output) − F⋆ (same units as F); ``bound`` = the
    theorem's bound for this configuration (None where no shipped theorem covers it, see ``bound_name``);
    ``residuals``: PEPit's post-solve feasibility checks of the primal (Gram matrix) / dual certificate."""

    algorithm: str
    schedule: str
    option: str
    m: int
    K: int
    L: float
    V: float
    lam: float | None
    alpha: float | None
    beta: float | None
    F0_gap: float | None
    worst_case: float | None
    bound: float | None
    bound_name: str
    solver: str
    status: str
    residuals: dict = field(default_factory=dict)
    n_points: int = 0
    n_paths: int = 1
    seconds: float = 0.0
    cached: bool = False
    fingerprint: str = ""
    versions: dict = field(default_factory=dict)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """bound / worst_case (the proof slack); None when either is missing."""
        if self.bound is None or self.worst_case is None or self.worst_case <= 0:
            return None
        return self.bound / self.worst_case

    def to_dict(self) -> dict:
        d = asdict(self)
        d["proof_slack"] = self.ratio
        return d


def default_schedule(algorithm: str) -> str:
    """theorem2 for AM2-SGD, constant for M-SGD (the engine admits nothing else), theorem1 otherwise."""
    return {"am2": "theorem2", "msgd": "constant"}.get(algorithm, "theorem1")


# --- schedules ---------------------------------------------------------------------------------------------------
def make_schedule(algorithm, schedule, m, K, L, V, lam=None, alpha=None, beta=None, eta=None):
    """The engine's schedule object (theorycheck.schedules) for σ = M = 0, built as experiment.build does:
    Theorem1/Theorem2(L, V, 0, 0, m, K, lam) or Constant(beta, alpha=|eta=). λ > 2/3 is admitted (force) so that
    an over-long step can be estimated too; no theorem bound is attached then."""
    if schedule == "constant":
        if beta is None:
            beta = 0.0
        if (alpha is None) == (eta is None):
            raise PEPError("schedule 'constant' needs exactly one of alpha and eta (> 0), and beta in [0, 1)")
        try:
            return Constant(beta, alpha=alpha, eta=eta)
        except ValueError as e:
            raise PEPError(str(e)) from None
    cls = {"theorem1": Theorem1, "theorem2": Theorem2}[schedule]
    try:
        return cls(L, V, 0.0, 0.0, m, K, lam=lam, force=True)
    except ValueError as e:
        raise PEPError(str(e)) from None


# --- the iterations (shared by the PEP model and the numpy cross-checks) --------------------------------------------
def _lin(*terms):
    """Σ c·v over (c, v) pairs with Python float coefficients (PEPit points do not mix with numpy scalars)."""
    out = None
    for c, v in terms:
        t = float(c) * v
        out = t if out is None else out + t
    return out


def trace(algorithm, schedule, m, K, option, x0, grad, path=None):
    """Run K iterations of ``algorithm`` from x0 with the deterministic gradient ``grad`` and return the output.

    Vector-like x0 (a numpy array of shape (n,) or a PEPit Point); ``grad(x)`` returns ∇f(x). The recurrences are
    those of theorycheck.algorithms (AM1: Algorithm 1, THEORY §3.2, Option II x̃_S, Option I (1−β)z_K + βx̃_S;
    AM2: Algorithm 3, §3.5, along the index path ``path`` (a sequence of K slots in [0, m)), Option II φ̄_K;
    AC-SA §3.1; M-SGD scheme (4) §3.7; MD-SA §3.8). AM1-SGD's momentum form (am1_momentum) is the same sequence in
    exact arithmetic (THEORY §3.3) and is modelled by Algorithm 1."""
    sc = schedule
    if algorithm in ("am1", "am1_momentum"):
        z, xt, acc = x0, x0, None
        for k in range(K):
            s = k // m
            a, b = sc.alpha(s), sc.beta(s)
            g = grad(_lin((1 - b, z), (b, xt)))
            z = z - float(a) * g
            acc = z if acc is None else acc + z
            if (k + 1) % m == 0:
                xt = _lin(((1 - b) / m, acc), (b, xt))
                acc = None
        if option == "II":
            return xt
        b = sc.beta(K // m)
        return _lin((1 - b, z), (b, xt))
    if algorithm == "am2":
        if path is None or len(path) != K:
            raise ValueError(f"am2 needs an index path of length K={K}")
        z, phi = x0, [x0] * m
        for k in range(K):
            j = int(path[k])
            a, b = sc.alpha(k), sc.beta(k)
            g = grad(_lin((1 - b, z), (b, phi[j])))
            z = z - float(a) * g
            phi = list(phi)
            phi[j] = _lin((1 - b, z), (b, phi[j]))
        return _mean(phi)
    if algorithm == "acsa":
        z, y = x0, x0
        for k in range(K):
            a, b = sc.alpha(k), sc.beta(k)
            g = grad(_lin((1 - b, z), (b, y)))
            z = z - float(a) * g
            y = _lin((1 - b, z), (b, y))
        if option == "II":
            return y
        b = sc.beta(K)
        return _lin((1 - b, z), (b, y))
    if algorithm == "msgd":
        eta, beta = sc.eta(0), sc.beta(0)
        x, y = x0, x0
        for k in range(K):
            yn = x - float(eta) * grad(x)
            x = yn + float(beta) * (yn - y)
            y = yn
        return x if option == "I" else y
    if algorithm == "mdsa":
        z, tot = x0, None
        for k in range(K):
            z = z - float(sc.alpha(k)) * grad(z)
            tot = z if tot is None else tot + z
        return z if option == "last" else (1.0 / K) * tot
    raise PEPError(f"algorithm must be one of {sorted(SUPPORTED)}, got {algorithm!r}")


def _mean(vs):
    return _lin(*[(1.0 / len(vs), v) for v in vs])


def am2_paths(m: int, K: int):
    """[(probability, path)] over the index sequences j_0..j_{K−1} ~ U[m] i.i.d., up to relabeling of slots
    (restricted growth strings: a slot not chosen before is always 'the next new slot', with probability
    (m − used)/m). The probabilities sum to 1 and E over these equals E over all m^K paths for any statistic
    invariant under slot permutations (φ̄_K is)."""
    out = [(1.0, ())]
    for _ in range(K):
        nxt = []
        for w, p in out:
            used = (max(p) + 1) if p else 0
            for j in range(used):
                nxt.append((w / m, p + (j,)))
            if used < m:
                nxt.append((w * (m - used) / m, p + (used,)))
        out = nxt
    return out


def am2_model_points(m: int, K: int) -> int:
    """Number of query points of the AM2 index-path tree (distinct prefixes j_0..j_k, k < K) plus the leaves
    (one output point per path): the size of the Gram matrix, without x0 and x⋆."""
    n = 0
    counts = {0: 1}  # used -> number of prefixes
    for _ in range(K):
        new = {}
        for used, c in counts.items():
            if used:
                new[used] = new.get(used, 0) + c * used
            if used < m:
                new[used + 1] = new.get(used + 1, 0) + c
        counts = new
        n += sum(counts.values())
        if n > 10 ** 7:
            return n
    return n + sum(counts.values())


# --- the theorem's bound -----------------------------------------------------------------------------------------
def theorem_bound(algorithm, schedule, option, m, K, L, V, lam_run, eta_run, F0_gap):
    """(bound, name) of the shipped theorem that covers this σ = 0 configuration, or (None, reason).

    AM1 / Theorem 1 schedule, Option II: [ZJDC] Thm 1(a) with σ = M = 0 for the λ run (thm1a_bound_lambda; equal to
    K0(m) = 6LmV/(K+m)² at λ = 2/3). AM2 / Theorem 2 schedule, Option II: bound (21)/(3) with σ = M = 0
    (thm2_bound_lambda, = bound (3) at λ = 2/3) with F0_gap (default L·V, the largest F(x0) − F⋆ the class allows).
    AC-SA is AM1 with m = 1 (THEORY §3.8): Theorem 1(a) (or 2) at m = 1. MD-SA with a constant step α ≤ 2/(3L) and
    averaged output is AM1 with m = K, β_0 = 0: Theorem 1(a) at m = K with η = α."""
    from .theory import bounds

    if lam_run is not None and lam_run > bounds.LAM_MAX * (1 + 1e-12):
        return None, f"lam = {lam_run:g} > 2/3: outside the theorems' range"
    if algorithm in ("am1", "am1_momentum") and schedule == "theorem1" and option == "II":
        return bounds.thm1a_bound_lambda(L, V, 0.0, 0.0, m, K, lam=lam_run), "thm1a (sigma=0)"
    if algorithm == "am2" and schedule == "theorem2" and option == "II":
        return bounds.thm2_bound_lambda(L, V, 0.0, 0.0, m, K, F0_gap, lam=lam_run), "thm2 bound (3) (sigma=0)"
    if algorithm == "acsa" and option == "II" and schedule in ("theorem1", "theorem2"):
        if schedule == "theorem1":
            return bounds.thm1a_bound_lambda(L, V, 0.0, 0.0, 1, K, lam=lam_run), "thm1a at m=1 (AC-SA = AM1, m=1)"
        return bounds.thm2_bound_lambda(L, V, 0.0, 0.0, 1, K, F0_gap, lam=lam_run), "thm2 at m=1"
    if algorithm == "mdsa" and schedule == "constant" and option == "average" and L * eta_run <= bounds.LAM_MAX:
        return (bounds.thm1a_bound_lambda(L, V, 0.0, 0.0, K, K, eta=eta_run),
                "thm1a at m=K (MD-SA = AM1 with m=K, beta_0=0)")
    return None, "no shipped theorem covers this algorithm / schedule / option"


# --- solvers -----------------------------------------------------------------------------------------------------
def available_solvers() -> list[str]:
    """SDP-capable cvxpy solvers installed here, in order of preference (SCS at 1e-9, Clarabel, MOSEK)."""
    try:
        import cvxpy as cp
    except ImportError:
        return []
    inst = set(cp.installed_solvers())
    return [s for s in SDP_SOLVERS if s in inst]


def _pepit_version():
    try:
        from importlib.metadata import version

        return version("pepit")
    except Exception:
        return None


def _pick_solver(solver) -> list[str]:
    """Solvers to try in order: the one asked for, or (None / 'auto') every installed SDP solver, the next one
    being used only when the previous one's answer fails the residual checks."""
    if _pepit_version() is None:
        raise PEPError("PEPit is not installed: pip install 'pepit>=0.3,<0.6' (an SDP solver comes with cvxpy)")
    have = available_solvers()
    if solver is None or str(solver).lower() == "auto":
        if not have:
            raise PEPError(f"no SDP solver found: install one of {SDP_SOLVERS} for cvxpy (pip install scs clarabel)")
        return have
    s = str(solver).upper()
    if s not in have:
        raise PEPError(f"solver must be 'auto' or an installed SDP solver, one of {have}, got {solver!r}")
    return [s]


# --- the model ---------------------------------------------------------------------------------------------------
def _validate(algorithm, schedule, option, m, K, L, V, lam, F0_gap):
    if algorithm not in SUPPORTED:
        raise PEPError(f"algorithm must be one of {sorted(SUPPORTED)} (Euclidean, h = 0, sigma = 0), "
                       f"got {algorithm!r}")
    sup = SUPPORTED[algorithm]
    if schedule not in sup["schedules"]:
        raise PEPError(f"schedule for {algorithm} must be one of {sup['schedules']}, got {schedule!r}")
    if option not in sup["options"]:
        raise PEPError(f"option for {algorithm} must be one of {sup['options']}, got {option!r}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise PEPError(f"m must be an integer >= 1, got {m!r}")
    if sup["m"] == "1" and m != 1:
        raise PEPError(f"{algorithm} takes no m (m = 1), got m={m}; AM1 with m = K is the MD-SA equivalent")
    if isinstance(K, bool) or not isinstance(K, int) or not 1 <= K <= K_MAX:
        raise PEPError(f"K must be an integer in [1, {K_MAX}] (the documented PEP horizon limit), got {K!r}")
    if algorithm in ("am1", "am1_momentum") and K % m:
        raise PEPError(f"K must be divisible by m for {algorithm}, got K={K}, m={m}")
    if algorithm == "am2" and m > 1:
        n = am2_model_points(m, K)
        if n > AM2_MAX_POINTS:
            ok = [k for k in range(1, K_MAX + 1) if am2_model_points(m, k) <= AM2_MAX_POINTS]
            raise PEPError(f"AM2-SGD with m={m}: the exact expectation over index paths needs {n} points at K={K}, "
                           f"above the limit {AM2_MAX_POINTS}; supported: K <= {max(ok) if ok else 0} for m={m} "
                           f"(m = 1 is deterministic: K <= {K_MAX})")
    for name, v in (("L", L), ("V", V)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise PEPError(f"{name} must be a finite number > 0, got {v!r}")
    if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 < lam < 2):
        raise PEPError(f"lam must be a number in (0, 2) (the theorems cover (0, 2/3]), got {lam!r}")
    if F0_gap is not None and (not isinstance(F0_gap, (int, float)) or not math.isfinite(F0_gap) or F0_gap < 0):
        raise PEPError(f"F0_gap must be a finite number >= 0, got {F0_gap!r}")


def _fingerprint(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:20]


def default_cache_dir() -> Path:
    return Path(os.environ.get("THEORYCHECK_PEP_CACHE", Path.home() / ".cache" / "theorycheck" / "pep"))


def _normalised_pep():
    """A PEP over 1-smooth convex f with ‖x0 − x⋆‖² ≤ 1: (problem, f, x⋆, f(x⋆), x0)."""
    from PEPit import PEP
    from PEPit.functions import SmoothConvexFunction

    problem = PEP()
    func = problem.declare_function(SmoothConvexFunction, L=1.0)
    xs = func.stationary_point()
    fs = func(xs)
    x0 = problem.set_initial_point()
    problem.set_initial_condition((x0 - xs) ** 2 <= 1.0)
    return problem, func, xs, fs, x0


def _solve_normalised(algorithm, sched_n, option, m, K, F0n, solver, verbose=False):
    """Build and solve the PEP at L = 1, ‖x0 − x⋆‖² ≤ 1 (normalised). Returns (value, status, residuals, n_points,
    n_paths)."""
    problem, func, xs, fs, x0 = _normalised_pep()
    if F0n is not None:
        problem.set_initial_condition(func(x0) - fs <= F0n)
    if algorithm == "am2":
        paths = am2_paths(m, K)
    else:
        paths = [(1.0, None)]
    metric = None
    for w, p in paths:
        out = trace(algorithm, sched_n, m, K, option, x0, func.gradient, path=p)
        t = float(w) * func(out)
        metric = t if metric is None else metric + t
    problem.set_performance_metric(metric - fs)
    dual, status, residuals = _solve_sparse(problem, solver, verbose)
    n_points = len(func.list_of_points)
    return dual, status, residuals, n_points, len(paths)


def _solve_sparse(problem, solver, verbose=False):
    """Solve PEPit's SDP (the same prepared constraints and objective PEP.solve sends to its wrapper) through
    cvxpy with the constraints stacked as sparse matrices.

    PEPit's cvxpy wrapper writes each scalar constraint as ``sum(G ∘ W)`` with a dense W: for K = 50 that is ~2,700
    dense 53×53 matrices, 140 s on this machine; stacked sparse rows give the identical SDP in seconds. Returns
    (dual objective, solver status, residuals); the dual objective Σ multipliers × constants is what PEPit reports
    (an upper bound once the dual residuals below are ~0)."""
    import cvxpy as cp
    import numpy as np
    import scipy.sparse as sp
    from PEPit.expression import Expression
    from PEPit.point import Point
    from PEPit.tools.expressions_to_matrices import expression_to_sparse_matrices

    problem._prepare_constraints(verbose=0)
    if problem._list_of_prepared_psd:
        raise PEPError("internal: LMI constraints are not expected in these models")
    d, nF = Point.counter, Expression.counter

    def rows(exprs):
        gi, gj, gv, fi, fj, fv, c = [], [], [], [], [], [], []
        for r, e in enumerate(exprs):
            Gi, Gj, Gv, Fi, Fv, cons = expression_to_sparse_matrices(e)
            # PEPit gives the lower triangle with (w_ij + w_ji)/2 (MOSEK's convention): mirror the off-diagonal
            Gi, Gj, Gv = np.asarray(Gi, dtype=int), np.asarray(Gj, dtype=int), np.asarray(Gv, dtype=float)
            off = Gi != Gj
            Gi, Gj, Gv = np.r_[Gi, Gj[off]], np.r_[Gj, Gi[off]], np.r_[Gv, Gv[off]]
            gi += [r] * len(Gv)
            gj += list(Gi * d + Gj)
            gv += list(Gv)
            fi += [r] * len(Fv)
            fj += list(Fi)
            fv += list(Fv)
            c.append(float(cons))
        n = len(exprs)
        AG = sp.csr_matrix((gv, (gi, gj)), shape=(n, d * d))
        AF = sp.csr_matrix((fv, (fi, fj)), shape=(n, nF))
        return AG, AF, np.array(c)

    cons = problem._list_of_prepared_constraints
    ineq = [c.expression for c in cons if c.equality_or_inequality == "inequality"]
    eq = [c.expression for c in cons if c.equality_or_inequality == "equality"]
    G = cp.Variable((d, d), symmetric=True)
    F = cp.Variable(nF)
    g = cp.vec(G, order="C")
    AGi, AFi, ci = rows(ineq)
    cl = [G >> 0, AGi @ g + AFi @ F + ci <= 0]
    if eq:
        AGe, AFe, ce = rows(eq)
        cl.append(AGe @ g + AFe @ F + ce == 0)
    oG, oF, oc = rows([problem.objective])
    prob = cp.Problem(cp.Maximize(oG @ g + oF @ F + oc[0]), cl)
    try:
        prob.solve(solver=solver, verbose=bool(verbose), **SOLVER_OPTIONS.get(solver, {}))
    except cp.error.SolverError as e:
        return None, f"solver_error: {e}".splitlines()[0], {}
    status = str(prob.status)
    if G.value is None or prob.value is None:
        return None, status, {}
    lam = np.asarray(cl[1].dual_value, dtype=float)
    mu = np.asarray(cl[2].dual_value, dtype=float) if eq else np.zeros(0)
    dual = float(-lam @ ci - (mu @ ce if eq else 0.0) + oc[0])
    # dual residual matrix  S = Σ λ_i A_i − C  (must be PSD) and the F-part  c_F − Σ λ_i a_F,i  (must vanish)
    SG = (AGi.T @ lam - oG.toarray().ravel() + (AGe.T @ mu if eq else 0)).reshape(d, d)
    SG = (SG + SG.T) / 2
    rF = oF.toarray().ravel() - AFi.T @ lam - (AFe.T @ mu if eq else 0)
    Gv = (G.value + G.value.T) / 2
    viol = float(np.max(AGi @ Gv.ravel() + AFi @ F.value + ci))
    if eq:
        viol = max(viol, float(np.max(np.abs(AGe @ Gv.ravel() + AFe @ F.value + ce))))
    primal = float(prob.value)
    res = {"primal": primal, "dual": dual, "gap": dual - primal,
           "gram_min_eig": float(np.min(np.linalg.eigvalsh(Gv))),
           "max_constraint_violation": viol,
           "dual_psd_min_eig": float(np.min(np.linalg.eigvalsh(SG))),
           "dual_F_residual": float(np.max(np.abs(rF))) if rF.size else 0.0,
           "min_inequality_multiplier": float(np.min(lam)) if lam.size else 0.0}
    return dual, status, res


RESIDUAL_TOL = 1e-6  # normalised units (L = 1, ||x0 - x*|| <= 1)


def _accept(status, res) -> bool:
    """optimal, or optimal_inaccurate with every residual within RESIDUAL_TOL (then the value is still certified to
    that accuracy: the dual objective is an upper bound up to the dual residuals, the primal a lower bound up to the
    primal ones)."""
    if status == "optimal":
        return True
    if status != "optimal_inaccurate" or not res:
        return False
    t = RESIDUAL_TOL
    return (abs(res["gap"]) <= t and res["max_constraint_violation"] <= t and res["gram_min_eig"] >= -t
            and res["dual_psd_min_eig"] >= -t and res["dual_F_residual"] <= t and res["min_inequality_multiplier"] >= -t)


def pep_worst_case(algorithm: str, m: int, K: int, L: float = 1.0, V: float = 0.5, lam: float | None = None,
                   schedule: str | None = None, option: str | None = None, *, alpha=None, beta=None, eta=None,
                   F0_gap: float | None = None, solver: str | None = None, cache=None, use_cache: bool = True,
                   verbose: bool = False) -> PEPResult:
    """Worst case of the theorem's statistic over L-smooth convex F with ‖x0 − x⋆‖² ≤ 2V (Euclidean, h = 0, σ = 0).

    algorithm: one of SUPPORTED; m: AM1/AM2 amortization length (1 for the others); K: iterations, 1..K_MAX
    (AM2 with m >= 2: the index-path tree must have <= AM2_MAX_POINTS points); L > 0, V > 0 (V = ½‖x0 − x⋆‖²);
    lam: λ = Lη of the theorem schedules (default: the theorem's, 2/3 at σ = 0); schedule: 'theorem1', 'theorem2'
    or 'constant' (then beta and one of alpha / eta; default: theorem2 for am2, constant for msgd, theorem1
    otherwise); option: the output (default: the theorem's statistic,
    x̃_S / φ̄_K / y_K / average); F0_gap: optional extra constraint F(x0) − F⋆ <= F0_gap (Theorem 2's bound uses it;
    default L·V, which the class implies). solver: None/'auto' (SCS at 1e-9, then Clarabel if SCS's answer fails
    the residual checks), or 'SCS', 'CLARABEL', 'MOSEK'. cache: folder (default ~/.cache/theorycheck/pep or
    $THEORYCHECK_PEP_CACHE); use_cache=False solves again (and overwrites the entry).

    Returns a PEPResult (worst_case in units of F: PEPit's dual objective, i.e. the certified upper bound).
    Raises PEPError on unsupported input (CLI exit 2) and PEPSolverError when no solver returns an accepted
    answer (status optimal, or optimal_inaccurate with all residuals <= RESIDUAL_TOL); no value is reported then."""
    option = option if option is not None else (SUPPORTED.get(algorithm, {}).get("options") or ("II",))[0]
    schedule = schedule if schedule is not None else default_schedule(algorithm)
    _validate(algorithm, schedule, option, m, K, L, V, lam, F0_gap)
    L, V = float(L), float(V)
    solvers = _pick_solver(solver)
    # the engine's schedule at the true constants (for the bound) and at the normalised ones (for the model)
    sched = make_schedule(algorithm, schedule, m, K, L, V, lam, alpha, beta, eta)
    kw_n = {}
    if schedule == "constant":
        kw_n = dict(alpha=None if alpha is None else float(alpha) * L, eta=None if eta is None else float(eta) * L,
                    beta=beta)
    lam_run = getattr(sched, "lam", None)
    sched_n = make_schedule(algorithm, schedule, m, K, 1.0, 0.5, lam_run, **kw_n)
    F0n = None if F0_gap is None else float(F0_gap) / (2 * L * V)
    bound, bname = theorem_bound(algorithm, schedule, option, m, K, L, V, lam_run, sched.eta(0),
                                 L * V if F0_gap is None else float(F0_gap))
    versions = {"pepit": _pepit_version(), "theorycheck": __version__, "model": MODEL_VERSION}
    key = {"algorithm": "am1" if algorithm == "am1_momentum" else algorithm, "schedule": schedule, "option": option,
           "m": m, "K": K, "lam": lam_run,
           "alphas": [sched_n.alpha(t) for t in range(K + 1)], "betas": [sched_n.beta(t) for t in range(K + 1)],
           "F0n": F0n, "solvers": solvers, **versions}
    key = json.loads(json.dumps(key))
    fp = _fingerprint(key)
    base = dict(algorithm=algorithm, schedule=schedule, option=option, m=m, K=K, L=L, V=V, lam=lam_run,
                alpha=alpha, beta=beta if schedule == "constant" else None, F0_gap=F0_gap, bound=bound,
                bound_name=bname, fingerprint=fp, versions=versions)
    note = "" if bound is not None else bname
    cdir = Path(cache) if cache is not None else default_cache_dir()
    cfile = cdir / f"{fp}.json"
    if use_cache and cfile.is_file():
        try:
            c = json.loads(cfile.read_text())
            if c.get("key") == key:
                return PEPResult(**base, worst_case=c["value_normalised"] * 2 * L * V, solver=c["solver"],
                                 status=c["status"], residuals=c["residuals"], n_points=c["n_points"],
                                 n_paths=c["n_paths"], seconds=c["seconds"], cached=True, note=note)
        except (ValueError, KeyError, TypeError):
            pass  # a corrupt cache entry is recomputed
    tried = []
    for sv in solvers:
        t0 = time.perf_counter()
        try:
            value, status, residuals, n_points, n_paths = _solve_normalised(algorithm, sched_n, option, m, K, F0n,
                                                                            sv, verbose)
        except PEPError:
            raise
        except Exception as e:  # the solver raised (numerical failure)
            value, status, residuals, n_points, n_paths = None, f"solver_error: {type(e).__name__}: {e}", {}, 0, 0
            status = status.splitlines()[0]
        secs = time.perf_counter() - t0
        ok = value is not None and math.isfinite(value) and _accept(status, residuals)
        tried.append((sv, status, residuals, secs, n_points, n_paths))
        if ok:
            break
    else:
        sv, status, residuals, secs, n_points, n_paths = tried[-1]
        res = PEPResult(**base, worst_case=None, solver=sv, status=status, residuals=residuals, n_points=n_points,
                        n_paths=n_paths, seconds=secs, note=note)
        msg = "; ".join(f"{t[0]}: status {t[1]!r}, residuals {t[2]}" for t in tried)
        raise PEPSolverError(f"no SDP solver returned an accepted answer ({msg}): no worst case is reported", res)
    try:
        from .table import atomic_write_text

        atomic_write_text(cfile, json.dumps({"key": key, "value_normalised": value, "solver": sv, "status": status,
                                             "residuals": residuals, "n_points": n_points, "n_paths": n_paths,
                                             "seconds": secs}, indent=1))
    except OSError:
        pass  # an unwritable cache only costs time
    return PEPResult(**base, worst_case=value * 2 * L * V, solver=sv, status=status, residuals=residuals,
                     n_points=n_points, n_paths=n_paths, seconds=secs, note=note)


# --- decomposition of a verdict table -----------------------------------------------------------------------------
PEP_COLUMNS = ["pep_worst_case", "proof_slack", "instance_slack", "pep_note"]


def _row_pep(spec, row, cache, device):
    """(worst case, note) for one verdict row, or (nan, reason)."""
    from .experiment import build
    from .spec import Config

    if not spec.check.get("pep", False):
        return math.nan, "pep not requested ([check] pep = true)"
    if row["theorem"] not in ("thm1a", "thm2") or row["statistic"] != "mean":
        return math.nan, "only the expectation statistics of thm1a / thm2 (mean rows)"
    if float(row["sigma"]) != 0.0:
        return math.nan, "sigma > 0: the PEP here is deterministic (docs/pep.md, sigma > 0)"
    alg_name, option, m, k = str(row["algorithm"]), str(row["option"]), int(row["m"]), int(row["checkpoint"])
    if alg_name not in SUPPORTED or option not in SUPPORTED[alg_name]["options"]:
        return math.nan, f"no PEP model for {alg_name} option {option}"
    problem, _, schedule, _ = build(spec, Config(0.0, m), device)
    if problem.setup.mirror.name != "euclidean" or problem.setup.kind != "none":
        return math.nan, f"setup {problem.setup.name}: the PEP model is Euclidean with h = 0, X = R^n"
    if problem.x_star is None or not problem.constants.attained or problem.constants.M:
        return math.nan, "needs an attained minimiser and M = 0"
    L, V = float(problem.constants.L), float(problem.V0())
    F0 = float(problem.error(problem.x0[None])[0]) if row["theorem"] == "thm2" else None
    try:
        r = pep_worst_case(alg_name, m, k, L, V, lam=float(schedule.lam), schedule=spec.schedule["kind"],
                           option=option, F0_gap=F0, cache=cache)
    except PEPError as e:
        return math.nan, f"unsupported: {str(e).splitlines()[0]}"
    except PEPSolverError as e:
        return math.nan, f"solver failed: {e.result.solver} status {e.result.status}"
    return r.worst_case, f"{r.solver} {r.status}; class: L={L:.4g}, V={V:.4g}" + (f", F0_gap={F0:.4g}" if F0 else "")


def add_pep_columns(verdicts, specs, cache=None, device="cpu"):
    """Append PEP_COLUMNS to a verdict table (check.finalize's output; columns spec, theorem, algorithm, option, m,
    sigma, checkpoint, statistic, value = mean error, bound): ``pep_worst_case`` = sup over the class {L-smooth
    convex, ‖x0 − x⋆‖² ≤ 2V0 (and F(x0) − F⋆ <= the problem's gap for thm2)} of the same statistic after
    ``checkpoint`` iterations, ``proof_slack`` = bound / pep_worst_case, ``instance_slack`` = pep_worst_case /
    value, and ``pep_note`` (the class, or why the row has NaN). Rows of specs without ``[check] pep = true``,
    σ > 0 rows, non-Euclidean or constrained / composite problems, unsupported algorithms and horizons above the
    PEP limits get NaN. Returns a new DataFrame (existing columns unchanged)."""
    import pandas as pd

    by_name = {s.name: s for s in specs}
    memo, cols = {}, {c: [] for c in PEP_COLUMNS}
    for row in verdicts.to_dict("records"):
        spec = by_name.get(str(row["spec"]))
        key = (str(row["spec"]), str(row["theorem"]), str(row["statistic"]), str(row["algorithm"]),
               str(row["option"]), int(row["m"]), float(row["sigma"]), int(row["checkpoint"]))
        if spec is None:
            wc, note = math.nan, "spec not given"
        else:
            if key not in memo:
                memo[key] = _row_pep(spec, row, cache, device)
            wc, note = memo[key]
        b, v = float(row["bound"]), float(row["value"])
        cols["pep_worst_case"].append(wc)
        cols["proof_slack"].append(b / wc if wc == wc and wc > 0 else math.nan)
        cols["instance_slack"].append(wc / v if wc == wc and v > 0 else math.nan)
        cols["pep_note"].append(note)
    out = verdicts.copy()
    for c in PEP_COLUMNS:
        out[c] = pd.Series(np.array(cols[c], dtype=object), index=out.index).infer_objects()
    return out


# --- figure ------------------------------------------------------------------------------------------------------
def _empirical_am1(problem, m, K):
    """F(x̃_S) − F⋆ of the engine (σ = 0, one replica, Theorem 1 schedule with the problem's L and V0)."""
    from . import algorithms
    from .oracles import NoNoise, Oracle
    from .run import run

    sched = Theorem1(problem.constants.L, problem.V0(), 0.0, 0.0, m, K)
    alg = algorithms.make("am1", problem.setup, sched, m)
    res = run(problem, Oracle(problem, NoNoise()), alg, K, range(1), options=["II"], checkpoints=[K], progress=False)
    return float(res.final("II")[0])


def slack_data(Ks=(10, 20, 30, 40, 50), ms=(1, 2, 5, 10), cache=None) -> list[dict]:
    """Rows {m, K, bound, worst_case, quad, ls}, all divided by L·V (so that problems with different constants
    share one axis): Theorem 1(a)'s K0(m) (σ = 0), the PEP worst case, and the engine's error on Nesterov's
    worst-case quadratic (n = 201) and on a random least-squares problem (n = 50, seed 0), AM1-SGD Option II."""
    from .problems import synthetic

    quad = synthetic.nesterov_worst_case(n=201, L=1.0)
    ls = synthetic.least_squares(n=50, seed=0)
    out = []
    for m in ms:
        for K in Ks:
            if K % m:
                continue
            r = pep_worst_case("am1", m, K, 1.0, 1.0, cache=cache)
            eq = _empirical_am1(quad, m, K) / (quad.constants.L * quad.V0())
            el = _empirical_am1(ls, m, K) / (ls.constants.L * ls.V0())
            out.append({"m": m, "K": K, "bound": r.bound, "worst_case": r.worst_case, "quad": eq, "ls": el,
                        "seconds": r.seconds})
    return out


def figure_pep_slack(path="figures/fig_pep_slack.png", Ks=(10, 20, 30, 40, 50), ms=(1, 2, 5, 10), cache=None):
    """figures/fig_pep_slack.png: against K, one panel per m, Theorem 1(a)'s bound, the PEP worst case and the
    engine's error on the worst-case quadratic and on random least squares (σ = 0), all / (L·V). Returns the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = slack_data(Ks, ms, cache)
    fig, axes = plt.subplots(1, len(ms), figsize=(3.4 * len(ms), 3.2), sharey=True)
    for ax, m in zip(np.atleast_1d(axes), ms):
        d = [r for r in data if r["m"] == m]
        K = [r["K"] for r in d]
        ax.loglog(K, [r["bound"] for r in d], "k-", label="bound K0(m) (Thm 1a, σ=0)")
        ax.loglog(K, [r["worst_case"] for r in d], "C3o-", label="PEP worst case (exact)")
        ax.loglog(K, [r["quad"] for r in d], "C0s--", label="engine: worst-case quadratic")
        ax.loglog(K, [r["ls"] for r in d], "C2^:", label="engine: random least squares")
        ax.set_title(f"AM1-SGD, m = {m}")
        ax.set_xlabel("K")
        ax.grid(True, which="both", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("(F(x̃_S) − F⋆) / (L·V)")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Where the slack lives: bound / worst case = proof slack; worst case / observed = instance slack",
                 fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return data


# --- sigma > 0: a lower bound with two-point noise (research item, docs/pep.md) ----------------------------------
NOISE_K_MAX = 5  # 2^K noise paths


def pep_noise_lower_bound(algorithm: str, m: int, K: int, L: float, V: float, sigma: float, solver=None):
    """A lower bound on sup E F(x̃_S) − F⋆ over L-smooth convex F with ‖x0 − x⋆‖² ≤ 2V and oracles satisfying
    [ZJDC] assumptions (b), (c) with σ (THEORY §1.3), for AM1-SGD / AC-SA run with Theorem 1's schedule for this σ.

    The oracle is restricted to g_k = ∇f(x_k) ± e_k with a fair sign and a free vector e_k, ‖e_k‖ <= σ, chosen per
    history (zero mean, variance ‖e_k‖² <= σ²). All 2^K sign paths share one f in one PEP and the objective is
    their average, so the value is exactly the worst case over this restricted oracle family: a lower bound on the
    theorem's class (a value above Theorem 1(a)'s bound would prove the bound false). Caveat: the noise may depend
    on the history, not only on x_k; the two coincide whenever the query points of different histories differ
    (generic). K <= NOISE_K_MAX. Returns {lower_bound, bound (thm1a_bound with σ), solver, status, residuals}."""
    from PEPit import Point

    from .theory import bounds

    if algorithm not in ("am1", "acsa"):
        raise PEPError(f"the sigma > 0 lower bound supports am1 and acsa (Theorem 1 schedule), got {algorithm!r}")
    if algorithm == "acsa" and m != 1:
        raise PEPError(f"acsa takes no m (m = 1), got m={m}")
    if isinstance(K, bool) or not isinstance(K, int) or not 1 <= K <= NOISE_K_MAX or K % m:
        raise PEPError(f"K must be a multiple of m in [1, {NOISE_K_MAX}] (2^K noise paths), got K={K!r}, m={m}")
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
        raise PEPError(f"sigma must be a finite number >= 0, got {sigma!r}")
    _validate("am1" if algorithm == "am1" else "acsa", "theorem1", "II", m, K, L, V, None, None)
    sv = _pick_solver(solver)
    if solver is None:  # SCS needs minutes on these trees at sigma ~ 1; Clarabel seconds (docs/pep.md)
        sv = sorted(sv, key=lambda x: x != "CLARABEL")
    L, V = float(L), float(V)
    sched = Theorem1(L, V, float(sigma), 0.0, m, K)
    sched_n = Theorem1(1.0, 0.5, float(sigma) / (L * math.sqrt(2 * V)), 0.0, m, K)
    assert math.isclose(sched.lam, sched_n.lam, rel_tol=1e-12)
    s2n = (float(sigma) / (L * math.sqrt(2 * V))) ** 2
    bound = bounds.thm1a_bound(L, V, float(sigma), 0.0, m, K)
    last = None
    for s in sv:
        problem, func, xs, fs, x0 = _normalised_pep()
        gcache, ecache = {}, {}
        metric = None
        for bits in range(2 ** K):
            signs = [1.0 if (bits >> k) & 1 else -1.0 for k in range(K)]
            step = {"k": 0}

            def grad(x, signs=signs, step=step):
                k = step["k"]
                step["k"] += 1
                pre = tuple(signs[:k])
                if pre not in gcache:
                    gcache[pre] = func.gradient(x)
                    e = Point()
                    problem.add_constraint(e ** 2 <= s2n)
                    ecache[pre] = e
                return gcache[pre] + signs[k] * ecache[pre]

            out = trace("am1", sched_n, m, K, "II", x0, grad)
            t = (1.0 / 2 ** K) * func(out)
            metric = t if metric is None else metric + t
        problem.set_performance_metric(metric - fs)
        value, status, res = _solve_sparse(problem, s)
        last = {"lower_bound": None if value is None else value * 2 * L * V, "bound": bound, "solver": s,
                "status": status, "residuals": res, "lam": sched.lam, "n_paths": 2 ** K}
        if value is not None and _accept(status, res):
            return last
    raise PEPSolverError(f"no SDP solver returned an accepted answer: {last['status']}", None)
