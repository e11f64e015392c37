"""Synthetic problem families: gradients, exact constants, certified optima, finite-sum hooks, determinism."""
import copy
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from theorycheck.problems import synthetic as S

F64 = torch.float64


@pytest.fixture(scope="module")
def probs():
    return {
        "least_squares": S.least_squares(),
        "nesterov": S.nesterov_worst_case(n=51, L=2.0),
        "simplex": S.simplex_problem(),
        "l1": S.l1_composite(),
        "ball": S.compact_problem(kind="ball"),
        "box": S.compact_problem(kind="box"),
        "mad": S.mad_regression(),
    }


SMOOTH = ["least_squares", "nesterov", "simplex", "l1", "ball", "box"]
ROWS = ["least_squares", "l1", "ball", "box", "mad"]
ALL = SMOOTH + ["mad"]


def points_in_X(p, R, seed=0):
    """R random points of X (float64): Dirichlet on the simplex, uniform in the ball / box, Gaussian on R^n."""
    rng = np.random.default_rng(seed)
    n, kind = p.n, p.setup.kind
    if p.setup.mirror.name == "entropic":
        X = rng.dirichlet(np.full(n, 0.5), size=R)
    elif kind == "l2ball":
        Z = rng.standard_normal((R, n))
        X = Z / np.linalg.norm(Z, axis=1, keepdims=True) * p.setup.radius * rng.uniform(size=(R, 1)) ** (1 / n)
    elif kind == "box":
        X = rng.uniform(p.setup.lower, p.setup.upper, size=(R, n))
    else:
        X = p.x_star.numpy() + rng.standard_normal((R, n))
    return torch.as_tensor(X, dtype=F64)


def hessian(p, x):
    return torch.autograd.functional.hessian(lambda v: p.f_value(v[None])[0], x, vectorize=True)


# ------------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_grad_matches_autograd_and_finite_differences(probs, key):
    p = probs[key]
    X = points_in_X(p, 4, seed=1).requires_grad_(True)
    auto = torch.autograd.grad(p.f_value(X).sum(), X)[0]
    X = X.detach()
    G = p.f_grad(X)
    assert G.shape == X.shape and G.dtype == F64
    torch.testing.assert_close(G, auto, rtol=1e-10, atol=1e-12)
    U = torch.randn(X.shape, dtype=F64, generator=torch.Generator().manual_seed(2))
    h = 1e-6
    fd = (p.f_value(X + h * U) - p.f_value(X - h * U)) / (2 * h)
    torch.testing.assert_close(fd, (G * U).sum(-1), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------------------
# smoothness constants in the matching norm
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", SMOOTH)
def test_declared_L_is_the_exact_hessian_bound(probs, key):
    p = probs[key]
    H = hessian(p, points_in_X(p, 1, seed=3)[0]).numpy()
    if p.setup.mirror.primal_norm == "l1":
        exact = np.diag(H).max()  # sup of uᵀHu over the l1 ball is attained at a vertex ±e_j (THEORY §2.3)
    else:
        exact = np.linalg.eigvalsh(H)[-1]
    assert p.constants.L == pytest.approx(exact, rel=1e-12)
    assert p.constants.M == 0.0


@pytest.mark.parametrize("key", SMOOTH)
def test_finite_difference_curvature_never_exceeds_L(probs, key):
    p = probs[key]
    norm = p.setup.mirror.norm
    x = points_in_X(p, 1, seed=4)
    g = torch.Generator().manual_seed(5)
    U = torch.cat([torch.randn(300, p.n, dtype=F64, generator=g),
                   torch.as_tensor(np.linalg.eigh(hessian(p, x[0]).numpy())[1][:, -1:].T),  # top eigenvector
                   torch.eye(p.n, dtype=F64)])  # vertices of the l1 ball
    t = 1e-3
    curv = (p.f_value(x + t * U) + p.f_value(x - t * U) - 2 * p.f_value(x)) / (t ** 2 * norm(U) ** 2)
    L = p.constants.L
    assert curv.max() <= L * (1 + 1e-6)
    assert curv.max() >= L * (1 - 1e-6)  # and it is attained (top eigenvector in l2, a vertex in l1)
    assert curv.min() >= -1e-6  # convex


def test_nesterov_declared_L_below_nominal():
    p = S.nesterov_worst_case()
    assert p.n == 401 and p.constants.L < 1.0 and p.constants.L == pytest.approx(1.0, abs=2e-5)
    assert p.constants.notes["L_nominal"] == 1.0


def test_mad_assumption_a_with_L0_lipschitz(probs):
    p = probs["mad"]
    M = p.constants.M
    assert p.constants.L == 0.0 and M == pytest.approx(2 * p.constants.notes["L0"])
    A = torch.as_tensor(p.data["A"])
    L0 = p.constants.notes["L0"]
    assert L0 == pytest.approx(float(torch.linalg.norm(A, dim=1).mean()))
    g = torch.Generator().manual_seed(6)
    s = torch.sign(torch.randn(2000, p.n_rows, dtype=F64, generator=g))  # subgradients (1/N) Aᵀs
    assert float(torch.linalg.norm(s @ A / p.n_rows, dim=1).max()) <= L0
    X = points_in_X(p, 500, seed=7)
    Y = points_in_X(p, 500, seed=8)
    gap = p.f_value(Y) - p.f_value(X) - (p.f_grad(X) * (Y - X)).sum(-1)
    dist = torch.linalg.norm(Y - X, dim=1)
    assert gap.min() >= -1e-12
    assert (gap <= M * dist).all()
    assert ((p.f_value(Y) - p.f_value(X)).abs() <= L0 * dist + 1e-12).all()


# ------------------------------------------------------------------------------------------------
# certified optima
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_optimum_not_beaten_by_nearby_feasible_points(probs, key):
    p = probs[key]
    xs = p.x_star[None]
    assert float(p.error(xs)[0]) == pytest.approx(0.0, abs=1e-12)
    g = torch.Generator().manual_seed(9)
    D = 1e-3 * torch.randn(400, p.n, dtype=F64, generator=g)
    if p.setup.mirror.name == "entropic":
        Y = (xs + D.abs()) / (xs + D.abs()).sum(1, keepdim=True)  # stays in the simplex
    elif p.setup.kind in ("l2ball", "box"):
        Y = p.setup.prox(xs + D, torch.zeros_like(D), 1.0)  # projection onto X
    else:
        Y = xs + D
    assert bool(p.setup.contains(Y).all())
    assert float(p.error(Y).min()) >= -1e-13


def test_least_squares_closed_form_and_spectrum():
    eigs = np.array([0.0, 0.0, 0.3, 0.5, 2.0])
    x0 = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    p = S.least_squares(n=5, N=9, spectrum=eigs, seed=3, x0=x0)
    A, y = p.data["A"], p.data["y"]
    H = A.T @ A / 9
    assert np.allclose(np.linalg.eigvalsh(H), eigs, atol=1e-13)
    assert p.constants.L == 2.0
    xs = p.x_star.numpy()
    assert np.abs(H @ xs - A.T @ y / 9).max() < 1e-13
    # nearest minimiser to x0: x0 - x_star is orthogonal to the null space of H
    w, V = np.linalg.eigh(H)
    null = V[:, :2]
    assert np.abs(null.T @ (x0 - xs)).max() < 1e-12
    assert p.V0() == pytest.approx(0.5 * np.sum((xs - x0) ** 2))
    assert p.constants.F_ref == pytest.approx(0.5 * np.mean((A @ xs - y) ** 2), rel=1e-12)
    q = S.least_squares(n=6, spectrum=(0.1, 3.0), seed=1)
    assert np.allclose(np.linalg.eigvalsh(q.data["A"].T @ q.data["A"] / 12), np.linspace(0.1, 3.0, 6), atol=1e-13)


def test_nesterov_closed_form_and_krylov_lower_bound():
    n, L = 61, 1.0
    p = S.nesterov_worst_case(n=n, L=L)
    xs = p.x_star[None]
    assert float(torch.abs(p.f_grad(xs)).max()) < 1e-15
    assert float(p.f_value(xs)[0]) == pytest.approx(p.constants.F_ref, abs=1e-15)
    assert p.V0() == pytest.approx(n * (2 * n + 1) / (12 * (n + 1)), rel=1e-13)
    x = torch.zeros(1, n, dtype=F64)
    for k in range(1, 40):  # gradient descent is a Krylov method: x_k ∈ span(e_1..e_k)
        x = x - p.f_grad(x) / p.constants.L
        assert float(x[0, k:].abs().max()) == 0.0
        assert float(p.error(x)[0]) >= p.krylov_lower_bound(k) * (1 - 1e-12)
    assert p.krylov_lower_bound(n) == 0.0
    assert p.krylov_lower_bound(0) == pytest.approx(float(p.error(torch.zeros(1, n, dtype=F64))[0]))


def test_simplex_kkt_and_kl(probs):
    p = probs["simplex"]
    xs = p.x_star
    n = p.n
    assert float(xs.min()) >= 0 and float(xs.sum()) == pytest.approx(1.0, abs=1e-14)
    g = p.f_grad(xs[None])[0]
    supp = xs > 0
    tau = float(g[supp].mean())
    assert float((g[supp] - tau).abs().max()) <= 1e-8  # equal on the support
    assert float((g[~supp] - tau).min()) >= -1e-8  # >= on the rest
    assert 0 < supp.sum() < n  # on the boundary, as intended
    fw = float(g @ xs - g.min())
    assert fw <= 1e-8
    x0 = p.x0
    assert torch.allclose(x0, torch.full((n,), 1.0 / n, dtype=F64))
    kl = float((xs[supp] * torch.log(xs[supp] * n)).sum())
    assert p.V0() == pytest.approx(kl, rel=1e-12) and p.V0() <= math.log(n)
    assert p.comparators[0].V == p.V0() and p.comparators[0].delta == 0.0
    # D_X = max over the simplex of ||x - x*||_1, attained at a vertex
    X = points_in_X(p, 5000, seed=18)
    D = p.constants.D_X
    assert float(torch.linalg.norm(X - xs, ord=1, dim=1).max()) <= D
    assert float(torch.linalg.norm(torch.eye(n, dtype=F64) - xs, ord=1, dim=1).max()) == pytest.approx(D, rel=1e-14)
    # L is in l1, not l2 (they differ)
    assert p.constants.notes["L_l2"] > 1.5 * p.constants.L


def test_l1_composite_prox_fixed_point_and_dual_gap(probs):
    p = probs["l1"]
    A, y, lam = p.data["A"], p.data["y"], p.setup.lam
    xs = p.x_star[None]
    t = 1.0 / p.constants.L
    z = p.setup.prox(xs, t * p.f_grad(xs), t)  # S_{tλ}(x - t∇f(x))
    assert float((z - xs).abs().max()) <= 1e-8 * t
    N = A.shape[0]
    x = xs[0].numpy()
    rho = (y - A @ x) / N
    theta = rho * min(1.0, lam / np.abs(A.T @ rho).max())
    dual = y @ theta - 0.5 * N * theta @ theta
    assert float(p.value(xs)[0]) - dual <= 1e-10
    assert p.constants.F_ref - dual <= 1e-10
    assert 0 < (x != 0).sum() < p.n  # a sparse solution
    assert p.setup.name == "euclidean/l1" and p.n_rows == N


@pytest.mark.parametrize("key", ["ball", "box"])
def test_compact_fixed_point_active_constraint_and_diameter(probs, key):
    p = probs[key]
    xs = p.x_star[None]
    assert bool(p.setup.contains(xs, tol=1e-12).all())
    L = p.constants.L
    g = p.f_grad(xs)
    z = p.setup.prox(xs, g / L, 1.0 / L)  # P_X(x - ∇f(x)/L)
    assert float((z - xs).abs().max()) <= 1e-8 / L
    assert float(torch.linalg.norm(g)) > 1e-2  # the constraint is active: ∇f(x*) != 0
    X = points_in_X(p, 5000, seed=10)
    dist = torch.linalg.norm(X - xs, dim=1)
    D = p.constants.D_X
    assert math.isfinite(D) and float(dist.max()) <= D
    if key == "ball":
        far = -p.setup.radius * xs / torch.linalg.norm(xs)
        assert float(torch.linalg.norm(xs)) == pytest.approx(p.setup.radius, rel=1e-12)
    else:
        far = torch.where(xs - p.setup.lower > p.setup.upper - xs, p.setup.lower, p.setup.upper)
        assert ((xs == p.setup.lower) | (xs == p.setup.upper)).any()
    assert float(torch.linalg.norm(far - xs)) == pytest.approx(D, rel=1e-12)  # D_X is attained: exact


def test_mad_zero_in_subdifferential_by_independent_lp(probs):
    p = probs["mad"]
    A, y = p.data["A"], p.data["y"]

    def feasible(x, tol=1e-9):
        """Is there u with Aᵀu = 0, |u| <= 1 and u_i = sign(r_i) where r_i != 0?  (0 ∈ ∂f(x))"""
        r = A @ x - y
        Z = np.abs(r) <= tol
        s = np.sign(r) * ~Z
        bounds = [(-1, 1) if z else (si, si) for z, si in zip(Z, s)]
        res = linprog(np.zeros(len(y)), A_eq=A.T, b_eq=np.zeros(A.shape[1]), bounds=bounds, method="highs")
        return res.status == 0

    xs = p.x_star.numpy()
    assert (np.abs(A @ xs - y) <= 1e-9).sum() == p.n  # a vertex of the LP
    assert feasible(xs)
    assert not feasible(xs + 1e-3 * np.eye(p.n)[0])  # negative control
    assert p.constants.notes["dual_gap"] <= 1e-12
    # at x* (residuals ~1e-16 on the vertex rows) the oracle's subgradient agrees with autograd
    X = p.x_star[None].clone().requires_grad_(True)
    auto = torch.autograd.grad(p.f_value(X).sum(), X)[0]
    torch.testing.assert_close(p.f_grad(p.x_star[None]), auto)


def test_mad_subgradient_uses_sign_zero_equals_zero(probs):
    p = copy.copy(probs["mad"])
    A, y = p.data["A"], p.data["y"].copy()
    y[:3] = 0.0  # exact zero residuals at x = 0 for rows 0, 1, 2
    p.data, p._cache = dict(p.data, y=y), {}
    x = torch.zeros(1, p.n, dtype=F64)
    expected = A.T @ np.sign(-y) / len(y)
    torch.testing.assert_close(p.f_grad(x)[0], torch.as_tensor(expected), rtol=1e-14, atol=1e-15)
    assert float(p.f_grad_rows(x, torch.tensor([[0, 1, 2]])).abs().max()) == 0.0


# ------------------------------------------------------------------------------------------------
# finite sums: rows, variances, minibatch sigma
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_batch_equals_row_by_row(probs, key):
    p = probs[key]
    X = points_in_X(p, 6, seed=11)
    V, G = p.f_value(X), p.f_grad(X)
    for i in range(6):
        torch.testing.assert_close(p.f_value(X[i:i + 1])[0], V[i], rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(p.f_grad(X[i:i + 1])[0], G[i], rtol=1e-13, atol=1e-15)
    if key in ROWS:
        N = p.n_rows
        allrows = torch.arange(N).repeat(6, 1)
        torch.testing.assert_close(p.f_grad_rows(X, allrows), G, rtol=1e-12, atol=1e-14)
        idx = torch.randint(0, N, (6, 7), generator=torch.Generator().manual_seed(12))
        Gb = p.f_grad_rows(X, idx)
        for i in range(6):
            one = torch.stack([p.f_grad_rows(X[i:i + 1], idx[i:i + 1, j:j + 1])[0] for j in range(7)]).mean(0)
            torch.testing.assert_close(Gb[i], one, rtol=1e-12, atol=1e-14)
    else:
        assert p.n_rows is None
        with pytest.raises(NotImplementedError):
            p.f_grad_rows(X, torch.zeros(6, 1, dtype=torch.int64))
        with pytest.raises(NotImplementedError):
            p.minibatch_sigma(1)


@pytest.mark.parametrize("key", ROWS)
def test_sample_variance_and_minibatch_sigma(probs, key):
    p = probs[key]
    N = p.n_rows
    X = points_in_X(p, 3, seed=13)
    comps = torch.stack([p.f_grad_rows(X, torch.full((3, 1), i)) for i in range(N)])  # (N, 3, n)
    brute = ((comps - comps.mean(0)) ** 2).sum(-1).mean(0)
    torch.testing.assert_close(p.sample_variance(X), brute, rtol=1e-10, atol=1e-12)
    s2 = p.constants.notes["sigma2_one_row"]
    assert p.minibatch_sigma(4) == pytest.approx(math.sqrt(s2 / 4))
    # Monte Carlo: E||g_B - ∇f||² = variance / B at x_star (sampling with replacement)
    B, R = 5, 4000
    xs = p.x_star[None].expand(R, -1)
    idx = torch.randint(0, N, (R, B), generator=torch.Generator().manual_seed(14))
    mc = ((p.f_grad_rows(xs, idx) - p.f_grad(xs)) ** 2).sum(-1).mean()
    exact = p.sample_variance(p.x_star[None])[0] / B
    assert float(mc) == pytest.approx(float(exact), rel=0.1)
    note = p.constants.notes["minibatch_sigma"]
    if key in ("least_squares", "l1"):
        assert note.startswith("LOCAL") and s2 == pytest.approx(float(exact * B), rel=1e-10)
    else:  # a bound over all of X
        assert "UPPER BOUND" in note or "EXACT MAX" in note
        Y = points_in_X(p, 3000, seed=15) if key != "mad" else 5 * points_in_X(p, 3000, seed=15)
        assert float(p.sample_variance(Y).max()) <= s2


def test_ball_variance_max_is_exact(probs):
    p = probs["ball"]
    A, y = p.data["A"], p.data["y"]
    N = A.shape[0]
    s = (A ** 2).sum(1)
    Q, b = A.T @ A / N, A.T @ y / N
    W = (A * s[:, None]).T @ A / N - Q @ Q
    w = A.T @ (s * y) / N - Q @ b
    val, z = S.max_quadratic_on_ball(W, -w, p.setup.radius)
    assert np.linalg.norm(z) <= p.setup.radius * (1 + 1e-9)
    at_z = float(p.sample_variance(torch.as_tensor(z)[None])[0])
    assert at_z == pytest.approx(p.constants.notes["sigma2_one_row"], rel=1e-8)  # the bound is attained


# ------------------------------------------------------------------------------------------------
# dtypes, devices, determinism, metadata, validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_float32_input(probs, key):
    p = probs[key]
    X = points_in_X(p, 3, seed=16)
    X32 = X.float()
    for f in (p.f_value, p.f_grad):
        out = f(X32)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), f(X), rtol=1e-4, atol=1e-4)
    if key in ROWS:
        idx = torch.randint(0, p.n_rows, (3, 4))
        assert p.f_grad_rows(X32, idx).dtype == torch.float32
    assert p.error(X32).dtype == F64


@pytest.mark.parametrize("fn,kw", [(S.least_squares, {}), (S.simplex_problem, {}), (S.l1_composite, {}),
                                   (S.compact_problem, {"kind": "box"}), (S.mad_regression, {})])
def test_determinism(fn, kw):
    a, b, c = fn(seed=5, **kw), fn(seed=5, **kw), fn(seed=6, **kw)
    for k in a.data:
        assert np.array_equal(a.data[k], b.data[k])
        assert not np.array_equal(a.data[k], c.data[k])
    assert torch.equal(a.x_star, b.x_star) and a.constants == b.constants
    assert not torch.equal(a.x_star, c.x_star)


@pytest.mark.parametrize("key", ALL)
def test_metadata_and_to_cpu(probs, key):
    p = probs[key]
    c = p.constants
    assert isinstance(p.params, dict) and p.params and p.name
    assert p.x0.dtype == F64 and p.x_star.dtype == F64 and p.x0.shape == (p.n,)
    assert c.attained and math.isfinite(c.F_ref) and c.F_ref_method
    assert [u.name for u in p.comparators] == ["x_star"] and p.comparators[0].V == pytest.approx(p.V0())
    assert math.isfinite(c.D_X) == p.setup.compact
    X = points_in_X(p, 2, seed=17)
    before = p.f_value(X)
    q = p.to("cpu")
    assert q is p and p.x0.device.type == "cpu" and p.comparators[0].u.device.type == "cpu"
    torch.testing.assert_close(p.f_value(X), before)
    assert p.describe()["F_ref"] == c.F_ref


@pytest.mark.parametrize("call", [
    lambda: S.least_squares(n=0),
    lambda: S.least_squares(n=5, N=3),
    lambda: S.least_squares(n=5, spectrum=(1.0, 0.5)),
    lambda: S.least_squares(n=5, spectrum=[1, 2, 3]),
    lambda: S.nesterov_worst_case(L=0),
    lambda: S.simplex_problem(n=1),
    lambda: S.l1_composite(lam=-1.0),
    lambda: S.l1_composite(n=4, sparsity=5),
    lambda: S.compact_problem(kind="sphere"),
    lambda: S.compact_problem(kind="box", lower=1.0, upper=1.0),
    lambda: S.mad_regression(n=10, N=5),
    lambda: S.least_squares(seed=-1),
])
def test_invalid_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_minibatch_argument_validation(probs):
    with pytest.raises(ValueError, match="batch"):
        probs["mad"].minibatch_sigma(0)
    with pytest.raises(ValueError, match="idx"):
        probs["mad"].f_grad_rows(torch.zeros(2, 10, dtype=F64), torch.zeros(3, 1, dtype=torch.int64))
