"""Synthetic problem families with exact constants and certified optima (THEORY §1.3, §2, §2.3).

Each family is drawn deterministically from an integer seed (``numpy.random.default_rng(seed)``). It declares L, M
and D_X in the primal norm of its setup, and its optimum is certified by a check that does not trust the solver:

===================  ==============================================  ================================================
family               F = f + h on X                                  certificate of x_star, F_star
===================  ==============================================  ================================================
least_squares        (1/2N)||Ax - y||² on R^n, prescribed spectrum    closed form: planted x_star, residual ⟂ range(A)
nesterov_worst_case  (L/4)[½(x_1² + Σ(x_i - x_{i+1})² + x_n²) - x_1]  closed form x*_i = 1 - i/(n+1)
simplex_problem      ½xᵀQx + cᵀx on the simplex (entropic setup)     cvxpy, active-set polish, KKT + Frank–Wolfe gap
l1_composite         (1/2N)||Ax - y||² + λ||x||_1                    cvxpy, polish, prox fixed point + Lasso dual gap
compact_problem      (1/2N)||Ax - y||² on an l2 ball or a box        cvxpy, polish, projected-gradient fixed pt + FW gap
mad_regression       (1/N)||Ax - y||_1 (non-smooth: L=0, M=2 L0)     cvxpy LP, vertex polish + exact LP dual certificate
===================  ==============================================  ================================================

Finite sums (every family with rows A, y) have f = (1/N) Σ_i f_i with f_i(x) = ½(⟨a_i, x⟩ - y_i)², resp.
|⟨a_i, x⟩ - y_i|. ``f_grad_rows(X, idx)`` averages the component (sub)gradients over rows idx[r, :]. For B rows drawn
uniformly with replacement, E||g_B - ∇f(x)||² = (1/B)·(1/N) Σ_i ||∇f_i(x) - ∇f(x)||² (l2, the dual norm here).
``sample_variance(X)`` evaluates that per-row variance exactly, and ``minibatch_sigma(B)`` is the σ each family
declares: an upper bound over X where one is known (compact_problem, mad_regression), otherwise a LOCAL value at
x_star (see ``constants.notes['minibatch_sigma']``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as Fnn

from ..geometry import entropic, euclidean
from ..numerics import l2_norm
from .base import Comparator, Constants, Problem

KKT_TOL = 1e-8  # every certified optimum must pass its optimality check to this tolerance


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------
def _int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _real(name, v, lo=0.0, strict=False):
    ok = isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and math.isfinite(v)
    if not ok or v < lo or (strict and v == lo):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {lo}, got {v!r}")
    return float(v)


def _orthogonal(rng, n):
    """Haar-distributed n×n orthogonal matrix (QR with the sign of diag(R) fixed)."""
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def _solve_cvxpy(problem, solvers=("CLARABEL", "SCS")):
    """Solve a cvxpy problem; return 'SOLVER status' of the first solver that reports a solution."""
    import cvxpy as cp

    tried = []
    for s in solvers:
        try:
            problem.solve(solver=s)
        except cp.SolverError as e:  # pragma: no cover - solver availability
            tried.append(f"{s}: {e}")
            continue
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return f"{s} {problem.status}"
        tried.append(f"{s}: {problem.status}")
    raise RuntimeError(f"cvxpy found no solution ({'; '.join(tried)})")


def _certify(name, residual, what):
    if not (residual <= KKT_TOL):
        raise RuntimeError(f"{name}: could not certify the optimum: {what} = {residual:.3g} > {KKT_TOL:g}")


# --------------------------------------------------------------------------------------------------
# shared base classes
# --------------------------------------------------------------------------------------------------
class SyntheticProblem(Problem):
    """A Problem whose data are float64 numpy arrays in ``self.data``, cast per (dtype, device) on first use."""

    def __init__(self, *, name, setup, x0, x_star, constants, params, data, device=None):
        super().__init__()
        self.name = name
        self.setup = setup
        self.params = dict(params)
        self.data = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in data.items()}
        self.x0 = torch.as_tensor(np.asarray(x0, dtype=np.float64), device=device)
        self.x_star = torch.as_tensor(np.asarray(x_star, dtype=np.float64), device=device)
        self.constants = constants
        self.comparators = [Comparator("x_star", self.x_star, 0.0, self.V0())]
        self._cache = {}

    def _d(self, X):
        key = (X.dtype, str(X.device))
        if key not in self._cache:
            self._cache[key] = {k: torch.as_tensor(v, dtype=X.dtype, device=X.device) for k, v in self.data.items()}
        return self._cache[key]

    def to(self, device=None):
        self._cache = {}
        return super().to(device)

    def _check_idx(self, X, idx):
        if idx.ndim != 2 or idx.shape[0] != X.shape[0] or idx.shape[1] < 1:
            raise ValueError(f"idx must have shape (R, B) with R = {X.shape[0]} and B >= 1, got {tuple(idx.shape)}")
        return idx.to(device=X.device, dtype=torch.int64)

    def minibatch_sigma(self, batch: int) -> float:
        """σ for the minibatch oracle with `batch` rows drawn uniformly with replacement (see the notes)."""
        if self.n_rows is None:
            raise NotImplementedError(f"{self.name} is not a finite sum: no minibatch oracle")
        B = _int("batch", batch, 1)
        return math.sqrt(self.constants.notes["sigma2_one_row"] / B)


class _RowsLeastSquares(SyntheticProblem):
    """f(x) = (1/2N)||Ax - y||² = (1/N) Σ_i f_i(x), f_i(x) = ½(⟨a_i, x⟩ - y_i)², data A (N, n), y (N,)."""

    def _res(self, X):
        d = self._d(X)
        return X @ d["A"].T - d["y"]  # (R, N)

    def f_value(self, X):
        return 0.5 * (self._res(X) ** 2).mean(-1)

    def f_grad(self, X):
        return self._res(X) @ self._d(X)["A"] / self.n_rows

    def f_grad_rows(self, X, idx):
        idx = self._check_idx(X, idx)
        d = self._d(X)
        rows = d["A"][idx]  # (R, B, n)
        r = torch.einsum("rbn,rn->rb", rows, X) - d["y"][idx]
        return torch.einsum("rb,rbn->rn", r, rows) / idx.shape[1]

    def sample_variance(self, X):
        """(1/N) Σ_i ||∇f_i(x) - ∇f(x)||²_2 for each row x of X (the one-row minibatch variance)."""
        d = self._d(X)
        r = self._res(X)
        g = r @ d["A"] / self.n_rows
        return ((r ** 2) @ (d["A"] ** 2).sum(1) / self.n_rows - (g ** 2).sum(-1)).clamp(min=0)


def _ls_sigma2_at(A, y, x):
    """Exact (1/N) Σ ||∇f_i(x) - ∇f(x)||² for least squares, in float64 numpy."""
    r = A @ x - y
    G = A * r[:, None]
    return float(((G - G.mean(0)) ** 2).sum(1).mean())


# --------------------------------------------------------------------------------------------------
# 1. least squares with a prescribed spectrum, and Nesterov's worst-case quadratic
# --------------------------------------------------------------------------------------------------
class LeastSquares(_RowsLeastSquares):
    """f(x) = (1/2N)||Ax - y||² with AᵀA/N = V diag(eigs) Vᵀ exactly (V Haar-orthogonal); see least_squares."""


def least_squares(n=20, N=None, spectrum=(1e-3, 1.0), noise=0.1, seed=0, x0=None, device=None) -> LeastSquares:
    """Least squares f(x) = (1/2N)||Ax - y||² on R^n whose Hessian AᵀA/N has a prescribed spectrum.

    ``spectrum`` is (mu, L) (n eigenvalues evenly spaced in [mu, L], both ends included) or n explicit eigenvalues
    >= 0. A = sqrt(N) U diag(sqrt(eigs)) Vᵀ with U (N×n) orthonormal columns and V orthogonal, so L = max(eigs) is
    the exact λ_max. y = A x_p + r with r ⟂ range(A) (norm set by ``noise`` per row), so the minimisers are
    x_p + null(A) in closed form and F_star = ||r||²/(2N). x_star is the minimiser nearest to x0 (it minimises V0).
    N defaults to 2n (N >= n is required). Finite sum over the N rows.
    """
    n = _int("n", n, 1)
    N = 2 * n if N is None else _int("N", N, n)
    noise = _real("noise", noise)
    rng = np.random.default_rng(_int("seed", seed, 0))
    spec = np.asarray(spectrum, dtype=np.float64).ravel()
    if spec.size == 2:
        mu, L = spec
        if not (np.isfinite(spec).all() and 0 <= mu <= L and L > 0):
            raise ValueError(f"spectrum (mu, L) needs 0 <= mu <= L and L > 0, got {tuple(spectrum)!r}")
        eigs = np.linspace(mu, L, n)
        eigs[-1] = L
    elif spec.size == n:
        if not (np.isfinite(spec).all() and spec.min() >= 0 and spec.max() > 0):
            raise ValueError("explicit spectrum must hold n finite eigenvalues >= 0, not all 0")
        eigs = np.sort(spec)
    else:
        raise ValueError(f"spectrum must be (mu, L) or n={n} eigenvalues, got {spec.size} numbers")
    V = _orthogonal(rng, n)
    U = _orthogonal(rng, N)
    A = math.sqrt(N) * (U[:, :n] * np.sqrt(eigs)) @ V.T
    x_p = rng.standard_normal(n) / math.sqrt(n)
    r = U[:, n:] @ (noise * rng.standard_normal(N - n))
    y = A @ x_p + r
    x0_label = "zeros" if x0 is None else "given"
    x0 = np.zeros(n) if x0 is None else np.asarray(x0, dtype=np.float64).reshape(n)
    V0 = V[:, eigs == 0]  # exact null space of the Hessian
    x_star = x_p + V0 @ (V0.T @ (x0 - x_p))
    F_star = float(r @ r) / (2 * N)
    grad_star = A.T @ (A @ x_star - y) / N
    gnorm = float(np.abs(grad_star).max())
    _certify("least_squares", gnorm, "max|grad f(x_star)|")
    s2 = _ls_sigma2_at(A, y, x_star)
    notes = {"spectrum": eigs.tolist(), "mu": float(eigs[0]), "grad_inf_at_x_star": gnorm,
             "sigma2_one_row": s2,
             "minibatch_sigma": "LOCAL: (1/N) sum_i ||grad f_i - grad f||^2 at x_star, divided by B; it grows "
                                "quadratically in ||x - x_star|| on the unbounded X = R^n, so it is no global bound"}
    const = Constants(L=float(eigs[-1]), M=0.0, F_ref=F_star, attained=True, notes=notes,
                      F_ref_method=f"closed form (planted x_star, residual orthogonal to range(A)); "
                                   f"|grad f(x_star)|_inf={gnorm:.1e}")
    params = dict(n=n, N=N, spectrum=tuple(float(s) for s in spectrum) if spec.size == 2 else tuple(eigs.tolist()),
                  noise=noise, seed=seed, x0=x0_label)
    p = LeastSquares(name="least_squares", setup=euclidean(), x0=x0, x_star=x_star, constants=const, params=params,
                     data={"A": A, "y": y}, device=device)
    p.n_rows = N
    return p


class NesterovWorstCase(SyntheticProblem):
    """f(x) = (L/4)[½(x_1² + Σ_{i<n}(x_i - x_{i+1})² + x_n²) - x_1] (Nesterov 2004, §2.1.2); see nesterov_worst_case."""

    def __init__(self, n, L, device=None):
        i = np.arange(1, n + 1)
        x_star = 1.0 - i / (n + 1)
        lam_max = L * math.sin(n * math.pi / (2 * (n + 1))) ** 2  # (L/4)·λ_max(tridiag(-1, 2, -1))
        F_star = (L / 8) * (-1.0 + 1.0 / (n + 1))
        notes = {"L_nominal": L, "lam_min": L * math.sin(math.pi / (2 * (n + 1))) ** 2,
                 "lower_bound": "krylov_lower_bound(k) = (L/8)(1/(k+1) - 1/(n+1)) for any method whose first k "
                                "gradient queries keep it in x0 + span of the gradients (x0 = 0)"}
        const = Constants(L=lam_max, M=0.0, F_ref=F_star, attained=True, notes=notes,
                          F_ref_method="closed form x*_i = 1 - i/(n+1), F* = (L/8)(1/(n+1) - 1)")
        self.L_nominal = L
        super().__init__(name="nesterov_worst_case", setup=euclidean(), x0=np.zeros(n), x_star=x_star,
                         constants=const, params=dict(n=n, L=L), data={}, device=device)

    def f_value(self, X):
        q = X[:, 0] ** 2 + ((X[:, :-1] - X[:, 1:]) ** 2).sum(-1) + X[:, -1] ** 2
        return (self.L_nominal / 4) * (0.5 * q - X[:, 0])

    def f_grad(self, X):
        P = Fnn.pad(X, (1, 1))
        G = 2 * X - P[:, :-2] - P[:, 2:]
        G[:, 0] -= 1
        return (self.L_nominal / 4) * G

    def krylov_lower_bound(self, k: int) -> float:
        """min of f - F* over span(e_1..e_k), a lower bound after k gradient queries from x0 = 0 (k <= n)."""
        k = _int("k", k, 0)
        n = self.n
        return (self.L_nominal / 8) * (1.0 / (min(k, n) + 1) - 1.0 / (n + 1))


def nesterov_worst_case(n=401, L=1.0, device=None) -> NesterovWorstCase:
    """Nesterov's worst-case smooth convex quadratic on R^n, started at x0 = 0 (deterministic rate checks).

    Declared L is the exact λ_max of the Hessian, L sin²(nπ/(2n+2)) (< nominal L by O(1/n²)); the nominal L is
    in ``L_nominal`` and ``constants.notes``. V0 = ||x*||²/2 = n(2n+1)/(12(n+1)).
    """
    return NesterovWorstCase(_int("n", n, 1), _real("L", L, strict=True), device=device)


# --------------------------------------------------------------------------------------------------
# 2. smooth convex quadratic on the probability simplex (entropic setup)
# --------------------------------------------------------------------------------------------------
class SimplexQP(SyntheticProblem):
    """f(x) = ½ xᵀQx + cᵀx on Δ_n; L in l1 = max_j Q_jj (THEORY §2.3); see simplex_problem."""

    def f_value(self, X):
        d = self._d(X)
        return 0.5 * ((X @ d["Q"]) * X).sum(-1) + X @ d["c"]

    def f_grad(self, X):
        d = self._d(X)
        return X @ d["Q"] + d["c"]


def simplex_fw_gap(g, x):
    """Frank–Wolfe gap ⟨g, x⟩ - min_j g_j on the simplex: >= f(x) - f* for convex f with g = ∇f(x)."""
    return float(g @ x - g.min())


def _polish_simplex(Q, c, x_init, max_iter=50):
    """Active-set refinement of min ½xᵀQx + cᵀx on Δ_n from a near-optimal x_init (KKT on the support)."""
    n = c.size
    S = set(np.flatnonzero(x_init > 1e-6 * x_init.max()).tolist())
    for _ in range(max_iter):
        s = np.array(sorted(S))
        K = np.zeros((s.size + 1, s.size + 1))
        K[:-1, :-1] = Q[np.ix_(s, s)]
        K[:-1, -1] = K[-1, :-1] = 1.0
        sol = np.linalg.lstsq(K, np.concatenate([-c[s], [1.0]]), rcond=None)[0]  # lstsq: K may be singular
        if sol[:-1].min() <= 0:
            S.discard(int(s[np.argmin(sol[:-1])]))
            continue
        x = np.zeros(n)
        x[s] = sol[:-1]
        x /= x.sum()
        g = Q @ x + c
        tau = g @ x
        off = np.setdiff1d(np.arange(n), s)
        if off.size and (tau - g[off]).max() > 1e-13 * max(1.0, abs(tau)):
            S.add(int(off[np.argmax(tau - g[off])]))
            continue
        return x
    return None


def simplex_problem(n=50, k=None, c_scale=0.5, seed=0, device=None) -> SimplexQP:
    """Convex quadratic f(x) = ½ xᵀQx + cᵀx on the probability simplex with the entropic setup.

    Q = BᵀB/k (B standard normal k×n, k defaults to 2n, so Q ≻ 0 and x_star is unique) rescaled to max_j Q_jj = 1,
    hence L = 1 in l1 exactly; c = c_scale·N(0, I). x0 = uniform, so V0 = KL(x*||x0) <= log n; x_star typically
    lies on the boundary of the simplex (KL stays finite with 0 log 0 = 0). D_X = max_{x∈Δ}||x - x*||_1 =
    2(1 - min_j x*_j) (attained at a vertex). x_star from cvxpy, polished by an active-set solve and certified by
    the KKT conditions (gradient equal on the support, >= off it) and the Frank–Wolfe gap.
    """
    import cvxpy as cp

    n = _int("n", n, 2)
    k = 2 * n if k is None else _int("k", k, 1)
    c_scale = _real("c_scale", c_scale)
    rng = np.random.default_rng(_int("seed", seed, 0))
    B = rng.standard_normal((k, n))
    Q = B.T @ B / k
    Q = Q / np.diag(Q).max()
    c = c_scale * rng.standard_normal(n)
    x = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(0.5 * cp.quad_form(x, cp.psd_wrap(Q)) + c @ x), [x >= 0, cp.sum(x) == 1])
    solver = _solve_cvxpy(prob)
    x_cvx = np.clip(np.asarray(x.value).ravel(), 0, None)
    x_cvx /= x_cvx.sum()
    gap_solver = simplex_fw_gap(Q @ x_cvx + c, x_cvx)
    x_star = _polish_simplex(Q, c, x_cvx)
    if x_star is None or simplex_fw_gap(Q @ x_star + c, x_star) > gap_solver:
        x_star, polished = x_cvx, False
    else:
        polished = True
    g = Q @ x_star + c
    supp = x_star > 0
    tau = float(g @ x_star)
    kkt = max(float(np.abs(g[supp] - tau).max()), float(np.clip(tau - g[~supp], 0, None).max(initial=0.0)))
    gap = simplex_fw_gap(g, x_star)
    _certify("simplex_problem", kkt, "KKT residual")
    F_star = float(0.5 * x_star @ Q @ x_star + c @ x_star)
    notes = {"solver": solver, "solver_fw_gap": gap_solver, "polished": polished, "kkt_residual": kkt,
             "fw_gap": gap, "support_size": int(supp.sum()), "cvxpy_value": float(prob.value),
             "L_l2": float(np.linalg.eigvalsh(Q)[-1])}
    const = Constants(L=float(np.diag(Q).max()), M=0.0, D_X=2.0 * (1.0 - float(x_star.min())), F_ref=F_star,
                      attained=True, notes=notes,
                      F_ref_method=f"cvxpy {solver} (FW gap {gap_solver:.1e}) + active-set polish; "
                                   f"KKT residual {kkt:.1e}, FW gap {gap:.1e}")
    return SimplexQP(name="simplex_qp", setup=entropic(), x0=np.full(n, 1.0 / n), x_star=x_star, constants=const,
                     params=dict(n=n, k=k, c_scale=c_scale, seed=seed), data={"Q": Q, "c": c}, device=device)


# --------------------------------------------------------------------------------------------------
# 3. l1-composite least squares (Lasso)
# --------------------------------------------------------------------------------------------------
class L1Composite(_RowsLeastSquares):
    """F(x) = (1/2N)||Ax - y||² + λ||x||_1 with setup euclidean('l1', lam=λ); see l1_composite."""


def lasso_dual_gap(A, y, lam, x):
    """P(x) - D(θ) >= P(x) - P* for P(x) = (1/2N)||Ax - y||² + λ||x||_1, with the feasible dual point
    θ = ρ·min(1, λ/||Aᵀρ||_∞), ρ = (y - Ax)/N, D(θ) = ⟨y, θ⟩ - (N/2)||θ||²."""
    N = A.shape[0]
    rho = (y - A @ x) / N
    s = np.abs(A.T @ rho).max()
    theta = rho * (min(1.0, lam / s) if s > 0 else 1.0)
    P = 0.5 * np.mean((A @ x - y) ** 2) + lam * np.abs(x).sum()
    return float(P - (y @ theta - 0.5 * N * theta @ theta))


def _polish_lasso(A, y, lam, x_init, max_iter=50):
    """Active-set refinement: on the support S with signs s, solve (A_SᵀA_S/N) x_S = A_Sᵀy/N - λ s."""
    N, n = A.shape
    G, b = A.T @ A / N, A.T @ y / N
    sign = np.sign(x_init) * (np.abs(x_init) > 1e-7 * max(1.0, np.abs(x_init).max()))
    for _ in range(max_iter):
        s = np.flatnonzero(sign)
        x = np.zeros(n)
        if s.size:
            try:
                x[s] = np.linalg.solve(G[np.ix_(s, s)], b[s] - lam * sign[s])
            except np.linalg.LinAlgError:  # singular on this support: leave it to the caller's fallback
                return None
        flip = s[np.sign(x[s]) != sign[s]]
        if flip.size:
            sign[flip[np.argmin(np.abs(x[flip]))]] = 0.0
            continue
        g = G @ x - b
        off = np.setdiff1d(np.arange(n), s)
        viol = np.abs(g[off]) - lam
        if off.size and viol.max() > 1e-13 * max(1.0, lam):
            j = off[np.argmax(viol)]
            sign[j] = -np.sign(g[j])
            continue
        return x
    return None


def l1_composite(n=30, N=60, lam=0.05, sparsity=5, noise=0.1, seed=0, device=None) -> L1Composite:
    """Lasso F(x) = (1/2N)||Ax - y||² + λ||x||_1 on R^n with setup euclidean('l1', lam=λ), x0 = 0.

    A standard normal (N×n), y = A x_true + noise·N(0, I) with x_true ``sparsity``-sparse. L = λ_max(AᵀA)/N exact.
    x_star from cvxpy, polished on its support and certified by the prox fixed point
    x = S_{tλ}(x - t∇f(x)) (t = 1/L) and the Lasso duality gap. Finite sum over the N rows of f (not h).
    """
    import cvxpy as cp

    n = _int("n", n, 1)
    N = _int("N", N, 1)
    lam = _real("lam", lam)
    sparsity = _int("sparsity", sparsity, 0)
    if sparsity > n:
        raise ValueError(f"sparsity must be in [0, n={n}], got {sparsity}")
    noise = _real("noise", noise)
    rng = np.random.default_rng(_int("seed", seed, 0))
    A = rng.standard_normal((N, n))
    x_true = np.zeros(n)
    x_true[rng.choice(n, size=sparsity, replace=False)] = rng.standard_normal(sparsity)
    y = A @ x_true + noise * rng.standard_normal(N)
    L = float(np.linalg.eigvalsh(A.T @ A / N)[-1])
    x = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(A @ x - y) / (2 * N) + lam * cp.norm1(x)))
    solver = _solve_cvxpy(prob)
    x_cvx = np.asarray(x.value).ravel()
    gap_solver = lasso_dual_gap(A, y, lam, x_cvx)
    x_star = _polish_lasso(A, y, lam, x_cvx)
    polished = x_star is not None and lasso_dual_gap(A, y, lam, x_star) <= gap_solver
    x_star = x_star if polished else x_cvx
    t = 1.0 / L
    grad = A.T @ (A @ x_star - y) / N
    v = x_star - t * grad
    fp = float(np.abs(x_star - np.sign(v) * np.clip(np.abs(v) - t * lam, 0, None)).max())  # |x - S_{tλ}(v)|_inf
    _certify("l1_composite", fp / t, "prox fixed-point residual / t")
    gap = lasso_dual_gap(A, y, lam, x_star)
    F_star = float(0.5 * np.mean((A @ x_star - y) ** 2) + lam * np.abs(x_star).sum())
    s2 = _ls_sigma2_at(A, y, x_star)
    notes = {"solver": solver, "solver_dual_gap": gap_solver, "polished": polished, "dual_gap": gap,
             "prox_fixed_point_residual": fp, "support_size": int((x_star != 0).sum()),
             "cvxpy_value": float(prob.value), "sigma2_one_row": s2,
             "minibatch_sigma": "LOCAL: minibatch variance of grad f at x_star divided by B; unbounded over R^n"}
    const = Constants(L=L, M=0.0, F_ref=F_star, attained=True, notes=notes,
                      F_ref_method=f"cvxpy {solver} (dual gap {gap_solver:.1e}) + support polish; "
                                   f"prox fixed point {fp:.1e}, Lasso dual gap {gap:.1e}")
    p = L1Composite(name="l1_composite", setup=euclidean("l1", lam=lam), x0=np.zeros(n), x_star=x_star,
                    constants=const, params=dict(n=n, N=N, lam=lam, sparsity=sparsity, noise=noise, seed=seed),
                    data={"A": A, "y": y}, device=device)
    p.n_rows = N
    return p


# --------------------------------------------------------------------------------------------------
# 4. least squares on a compact set (l2 ball or box) with the constraint active
# --------------------------------------------------------------------------------------------------
class CompactLeastSquares(_RowsLeastSquares):
    """f(x) = (1/2N)||Ax - y||² on X = {||x||_2 <= r} or [lower, upper]^n; see compact_problem."""


def _project(kind, x, radius, lower, upper):
    if kind == "ball":
        nx = l2_norm(x)
        return x if nx <= radius else x * (radius / nx)
    return np.clip(x, lower, upper)


def compact_fw_gap(kind, g, x, radius, lower, upper):
    """max_{s∈X} ⟨g, x - s⟩ (>= f(x) - f* for convex f): ball ⟨g, x⟩ + r||g||, box ⟨g, x⟩ - Σ min(g l, g u)."""
    if kind == "ball":
        return float(g @ x + radius * l2_norm(g))
    return float(g @ x - np.minimum(g * lower, g * upper).sum())


def _polish_ball(Q, b, radius):
    """Solve min ½xᵀQx - bᵀx s.t. ||x|| <= r with the unconstrained minimiser outside: (Q + νI)x = b, ||x|| = r."""
    from scipy.optimize import brentq

    lam, V = np.linalg.eigh(Q)
    bt = V.T @ b
    phi = lambda nu: l2_norm(bt / (lam + nu)) - radius
    nu = brentq(phi, 0.0, l2_norm(b) / radius, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    x = V @ (bt / (lam + nu))
    return x * (radius / l2_norm(x))


def _polish_box(Q, b, lower, upper, x_init, max_iter=50):
    """Active-set refinement of min ½xᵀQx - bᵀx on [lower, upper]^n from a near-optimal x_init."""
    tol = 1e-7 * (upper - lower)
    state = np.where(x_init <= lower + tol, -1, np.where(x_init >= upper - tol, 1, 0))
    for _ in range(max_iter):
        x = np.where(state < 0, lower, np.where(state > 0, upper, 0.0))
        F = np.flatnonzero(state == 0)
        if F.size:
            A_ = np.flatnonzero(state != 0)
            try:
                x[F] = np.linalg.solve(Q[np.ix_(F, F)], b[F] - Q[np.ix_(F, A_)] @ x[A_])
            except np.linalg.LinAlgError:
                return None
        out = F[(x[F] < lower) | (x[F] > upper)]
        if out.size:
            j = out[np.argmax(np.maximum(lower - x[out], x[out] - upper))]
            state[j] = -1 if x[j] < lower else 1
            continue
        g = Q @ x - b
        viol = np.where(state < 0, -g, np.where(state > 0, g, 0.0))  # bound j wrongly held if > 0
        if viol.max() > 1e-13 * max(1.0, np.abs(g).max()):
            state[np.argmax(viol)] = 0
            continue
        return x
    return None


def max_quadratic_on_ball(W, p, rho):
    """(bound, z): bound >= max_{||z||_2 <= rho} zᵀWz + 2pᵀz (W symmetric, possibly indefinite), tight up to
    rounding, and z the maximiser read off the dual (||z|| = rho unless the maximum is interior or the hard case).

    S-lemma / Lagrangian dual: for every ν >= 0 with νI - W ≻ 0 the value is <= pᵀ(νI - W)⁻¹p + νρ²; the dual is
    convex in ν and minimised where ||(νI - W)⁻¹p|| = ρ (found by bisection), and strong duality holds for one ball
    constraint, so the minimum equals the maximum.
    """
    from scipy.optimize import brentq

    mu, V = np.linalg.eigh(W)
    pt2 = (V.T @ p) ** 2
    U = lambda nu: float((pt2 / (nu - mu)).sum() + nu * rho ** 2)
    dU = lambda nu: float(rho ** 2 - (pt2 / (nu - mu) ** 2).sum())
    lo = max(float(mu[-1]), 0.0)
    start = lo if mu[-1] < 0 else lo + 1e-12 * max(1.0, abs(lo))
    if dU(start) >= 0:
        nu = start
    else:
        hi = lo + (1 + 1e-9) * math.sqrt(pt2.sum()) / rho + 1e-300
        nu = brentq(dU, start, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return U(nu), V @ ((V.T @ p) / (nu - mu))


def _ls_variance_max(A, y, center, rho):
    """Upper bound on max_{||x - center|| <= rho} (1/N) Σ ||∇f_i(x) - ∇f(x)||² for least squares: the variance
    is the quadratic xᵀWx - 2wᵀx + const, W = (1/N)Σ||a_i||² a_i a_iᵀ - Q², w = (1/N)Σ||a_i||² y_i a_i - Qb."""
    N = A.shape[0]
    s = (A ** 2).sum(1)
    Q, b = A.T @ A / N, A.T @ y / N
    W = (A * s[:, None]).T @ A / N - Q @ Q
    w = A.T @ (s * y) / N - Q @ b
    v_c = _ls_sigma2_at(A, y, center)
    return v_c + max_quadratic_on_ball(W, W @ center - w, rho)[0]


def compact_problem(n=20, kind="ball", N=None, radius=1.0, lower=-1.0, upper=1.0, noise=0.1, seed=0,
                    device=None) -> CompactLeastSquares:
    """Least squares f(x) = (1/2N)||Ax - y||² on a compact X whose constraint is active (for Theorem 1(b)).

    kind='ball': X = {||x||_2 <= radius} (center 0); kind='box': X = [lower, upper]^n. A standard normal (N×n, N
    defaults to 2n >= n so Q = AᵀA/N ≻ 0); y = A x_u + r with r ⟂ range(A) and the unconstrained minimiser x_u
    outside X (ball: ||x_u|| = 2·radius; box: some |x_u,j| beyond the box), so x_star lies on the boundary.
    L = λ_max(AᵀA)/N exact. D_X = max_{x∈X}||x - x_star||_2 exactly (ball ||x_star|| + r; box: farthest vertex).
    x_star from cvxpy, polished (ball: secular equation; box: active set), certified by the projected-gradient
    fixed point x = P_X(x - ∇f(x)/L) and the Frank–Wolfe gap. ``minibatch_sigma`` bounds the variance over all
    of X: on the ball it is the exact maximum of the (indefinite) quadratic x -> (1/N) Σ ||∇f_i(x) - ∇f(x)||²
    (S-lemma); on the box the smaller of (1/N) Σ ||a_i||² max_{x∈X}(⟨a_i, x⟩ - y_i)² (>= (1/N) Σ ||∇f_i(x)||²) and
    that maximum over the ball circumscribing the box (an exact maximum over a box is NP-hard in general).
    """
    import cvxpy as cp

    n = _int("n", n, 1)
    N = 2 * n if N is None else _int("N", N, n)
    if kind not in ("ball", "box"):
        raise ValueError(f"kind must be 'ball' or 'box', got {kind!r}")
    radius = _real("radius", radius, strict=True)
    lower, upper = float(lower), float(upper)
    if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
        raise ValueError(f"box needs finite lower < upper, got [{lower}, {upper}]")
    noise = _real("noise", noise)
    rng = np.random.default_rng(_int("seed", seed, 0))
    A = rng.standard_normal((N, n))
    z = rng.standard_normal(n)
    if kind == "ball":
        x_u = 2 * radius * z / l2_norm(z)
    else:
        mid, half = (lower + upper) / 2, (upper - lower) / 2
        x_u = mid + 1.5 * half * z
        j = int(np.argmax(np.abs(z)))
        x_u[j] = mid + np.sign(z[j]) * max(abs(x_u[j] - mid), 2 * half)  # at least one coordinate outside
    Qa, _ = np.linalg.qr(A, mode="complete")
    r = Qa[:, n:] @ (noise * rng.standard_normal(N - n))
    y = A @ x_u + r
    Q, b = A.T @ A / N, A.T @ y / N
    L = float(np.linalg.eigvalsh(Q)[-1])
    x = cp.Variable(n)
    cons = [cp.norm(x, 2) <= radius] if kind == "ball" else [x >= lower, x <= upper]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(A @ x - y) / (2 * N)), cons)
    solver = _solve_cvxpy(prob)
    x_cvx = _project(kind, np.asarray(x.value).ravel(), radius, lower, upper)
    gap_of = lambda v: compact_fw_gap(kind, Q @ v - b, v, radius, lower, upper)
    gap_solver = gap_of(x_cvx)
    x_star = _polish_ball(Q, b, radius) if kind == "ball" else _polish_box(Q, b, lower, upper, x_cvx)
    polished = x_star is not None and gap_of(x_star) <= gap_solver
    x_star = x_star if polished else x_cvx
    g = Q @ x_star - b
    fp = float(np.abs(x_star - _project(kind, x_star - g / L, radius, lower, upper)).max())
    _certify("compact_problem", fp * L, "projected-gradient fixed-point residual * L")
    gap = gap_of(x_star)
    F_star = float(0.5 * np.mean((A @ x_star - y) ** 2))
    if kind == "ball":
        setup = euclidean("l2ball", radius=radius)
        worst = np.abs(y) + radius * l2_norm(A, dim=1)
    else:
        setup = euclidean("box", lower=lower, upper=upper)
        hi = np.maximum(A * lower, A * upper).sum(1) - y
        lo = np.minimum(A * lower, A * upper).sum(1) - y
        worst = np.maximum(np.abs(hi), np.abs(lo))
    s2_termwise = float(((A ** 2).sum(1) * worst ** 2).mean())
    if kind == "ball":
        s2_ball = _ls_variance_max(A, y, np.zeros(n), radius)
    else:  # the ball circumscribing the box
        s2_ball = _ls_variance_max(A, y, np.full(n, (lower + upper) / 2), (upper - lower) / 2 * math.sqrt(n))
    s2_upper = min(s2_termwise, s2_ball)
    D_X = setup.diameter(torch.as_tensor(x_star))
    notes = {"solver": solver, "solver_fw_gap": gap_solver, "polished": polished, "fw_gap": gap,
             "pg_fixed_point_residual": fp, "x_unconstrained_norm": float(l2_norm(x_u)),
             "F_unconstrained": float(r @ r) / (2 * N), "sigma2_one_row": s2_upper,
             "sigma2_one_row_termwise": s2_termwise, "sigma2_one_row_ball_dual": s2_ball,
             "sigma2_one_row_at_x_star": _ls_sigma2_at(A, y, x_star),
             "minibatch_sigma": ("EXACT MAX over X (ball): (1/B) max_{||x||<=r} (1/N) sum_i ||grad f_i - grad f||^2 "
                                 "by the S-lemma dual" if kind == "ball" else
                                 "UPPER BOUND over X (box): (1/B) min(termwise (1/N) sum_i ||a_i||^2 max_X "
                                 "(<a_i,x> - y_i)^2, exact max over the ball circumscribing the box)")}
    const = Constants(L=L, M=0.0, D_X=D_X, F_ref=F_star, attained=True, notes=notes,
                      F_ref_method=f"cvxpy {solver} (FW gap {gap_solver:.1e}) + "
                                   f"{'secular equation' if kind == 'ball' else 'active-set'} polish; "
                                   f"PG fixed point {fp:.1e}, FW gap {gap:.1e}")
    p = CompactLeastSquares(name=f"compact_{kind}", setup=setup, x0=np.zeros(n) if kind == "ball" else
                            np.clip(np.zeros(n), lower, upper), x_star=x_star, constants=const,
                            params=dict(n=n, kind=kind, N=N, radius=radius, lower=lower, upper=upper, noise=noise,
                                        seed=seed), data={"A": A, "y": y}, device=device)
    p.n_rows = N
    return p


# --------------------------------------------------------------------------------------------------
# 5. mean absolute deviation regression (non-smooth)
# --------------------------------------------------------------------------------------------------
class MADRegression(SyntheticProblem):
    """f(x) = (1/N) Σ_i |⟨a_i, x⟩ - y_i|; subgradient (1/N) Σ sign(r_i) a_i with sign(0) = 0; see mad_regression."""

    def _res(self, X):
        d = self._d(X)
        return X @ d["A"].T - d["y"]

    def f_value(self, X):
        return self._res(X).abs().mean(-1)

    def f_grad(self, X):
        return torch.sign(self._res(X)) @ self._d(X)["A"] / self.n_rows

    def f_grad_rows(self, X, idx):
        idx = self._check_idx(X, idx)
        d = self._d(X)
        rows = d["A"][idx]
        s = torch.sign(torch.einsum("rbn,rn->rb", rows, X) - d["y"][idx])
        return torch.einsum("rb,rbn->rn", s, rows) / idx.shape[1]

    def sample_variance(self, X):
        """(1/N) Σ_i ||∇f_i(x) - ∇f(x)||²_2 for each row x of X (component subgradients sign(r_i) a_i)."""
        d = self._d(X)
        s = torch.sign(self._res(X))
        g = s @ d["A"] / self.n_rows
        return ((s ** 2) @ (d["A"] ** 2).sum(1) / self.n_rows - (g ** 2).sum(-1)).clamp(min=0)


def mad_certificate(A, y, x, zero_tol=1e-9):
    """LP dual certificate for min (1/N)||Ax - y||_1 at x: u with u_i = sign(r_i) where |r_i| > zero_tol,
    |u_i| <= 1 on the zero residuals Z, and Aᵀu = 0 (u_Z from least squares on A_Zᵀ). Returns (u, max|u_Z|,
    ||Aᵀu||_inf); 0 ∈ ∂f(x) iff such u exists, and then f(x) + ⟨y, u⟩/N = duality gap."""
    r = A @ x - y
    Z = np.abs(r) <= zero_tol * max(1.0, np.abs(y).max())
    u = np.sign(r) * ~Z
    if Z.any():
        u[Z] = np.linalg.lstsq(A[Z].T, -A[~Z].T @ u[~Z], rcond=None)[0]
    return u, float(np.abs(u[Z]).max(initial=0.0)), float(np.abs(A.T @ u).max())


def mad_regression(n=10, N=100, noise=1.0, seed=0, device=None) -> MADRegression:
    """Non-smooth f(x) = (1/N) Σ |⟨a_i, x⟩ - y_i| on R^n (euclidean setup, x0 = 0): L = 0, M = 2 L0.

    L0 = (1/N) Σ ||a_i||_2 is a Lipschitz constant of f in l2: every subgradient is (1/N) Σ s_i a_i with s_i ∈
    [-1, 1], of norm <= (1/N) Σ ||a_i||. The tight constant max_{s∈{±1}^N} ||Aᵀs||/N is a norm maximisation over
    the hypercube (NP-hard in general), so it is not used. A standard normal, y = A x_true + noise·N(0, I).
    x_star from cvxpy (an LP), polished to the vertex where n residuals vanish (A_Z x = y_Z), and certified by an
    exact LP dual certificate: u with Aᵀu = 0, u_i = sign(r_i) off Z, |u_Z| <= 1 (i.e. 0 ∈ ∂f(x_star)).
    ``minibatch_sigma`` is a GLOBAL upper bound: E||g_i - ∇f||² <= E||g_i||² <= (1/N) Σ ||a_i||².
    """
    import cvxpy as cp

    n = _int("n", n, 1)
    N = _int("N", N, n)
    noise = _real("noise", noise)
    rng = np.random.default_rng(_int("seed", seed, 0))
    A = rng.standard_normal((N, n))
    y = A @ rng.standard_normal(n) + noise * rng.standard_normal(N)
    x = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(cp.norm1(A @ x - y) / N))
    solver = _solve_cvxpy(prob)
    x_cvx = np.asarray(x.value).ravel()
    f = lambda v: float(np.abs(A @ v - y).mean())
    Z = np.argsort(np.abs(A @ x_cvx - y))[:n]  # a vertex: n residuals vanish
    x_vert = np.linalg.solve(A[Z], y[Z])
    u, umax, res = mad_certificate(A, y, x_vert)
    polished = umax <= 1 + 1e-12 and f(x_vert) <= f(x_cvx) + 1e-9
    x_star = x_vert if polished else x_cvx
    if not polished:
        u, umax, res = mad_certificate(A, y, x_star, zero_tol=1e-7)
    _certify("mad_regression", max(umax - 1, 0.0) + res, "LP dual certificate violation")
    F_star = f(x_star)
    gap = F_star + float(y @ u) / N
    row_norm = l2_norm(A, dim=1)
    L0 = float(row_norm.mean())
    notes = {"solver": solver, "cvxpy_value": float(prob.value), "solver_gap_vs_vertex": float(prob.value) - F_star,
             "polished": polished, "dual_max_abs_u_Z": umax, "dual_Atu_inf": res, "dual_gap": gap, "L0": L0,
             "sigma2_one_row": float((row_norm ** 2).mean()),
             "sigma2_one_row_at_x_star": float(((A * np.sign(A @ x_star - y)[:, None] -
                                                 (A * np.sign(A @ x_star - y)[:, None]).mean(0)) ** 2).sum(1).mean()),
             "minibatch_sigma": "GLOBAL UPPER BOUND: (1/B)(1/N) sum_i ||a_i||^2 (holds at every x)"}
    const = Constants(L=0.0, M=2 * L0, F_ref=F_star, attained=True, notes=notes,
                      F_ref_method=f"cvxpy {solver} LP (value - F* = {float(prob.value) - F_star:.1e}) + vertex "
                                   f"polish; exact dual certificate (max|u_Z|={umax:.3f}, |A^T u|={res:.1e}, "
                                   f"gap {gap:.1e})")
    p = MADRegression(name="mad_regression", setup=euclidean(), x0=np.zeros(n), x_star=x_star, constants=const,
                      params=dict(n=n, N=N, noise=noise, seed=seed), data={"A": A, "y": y}, device=device)
    p.n_rows = N
    return p


FAMILIES = {
    "least_squares": least_squares,
    "nesterov_worst_case": nesterov_worst_case,
    "simplex": simplex_problem,
    "l1_composite": l1_composite,
    "compact": compact_problem,
    "mad_regression": mad_regression,
}
