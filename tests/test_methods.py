"""theorycheck.methods: NAdam vs torch, SGD+M ⇔ SPA (Defazio), normalized SGD / NIGT (Cutkosky–Mehta) theorems,
and the App. A.5 baselines against their published formulas (THEORY §6–§8)."""
import math

import numpy as np
import pytest
import torch

from theorycheck.methods import baselines_a5 as bl
from theorycheck.methods import nadam as na
from theorycheck.methods import normalized as nz
from theorycheck.methods import spa

TOL = 1e-12


def quad(R=3, n=6, K=300, sigma=0.3, seed=0):
    """Gradient oracle g_k(x) = A x - b + xi_k (A ⪰ 0, λ_max <= 1) with a fixed noise sequence xi."""
    rs = np.random.default_rng(seed)
    Q = rs.standard_normal((n, n))
    A = Q @ Q.T
    A /= np.linalg.eigvalsh(A)[-1]
    b = rs.standard_normal(n)
    xi = sigma * rs.standard_normal((K, R, n))
    x0 = rs.standard_normal((R, n))
    At, bt, xit = torch.tensor(A), torch.tensor(b), torch.tensor(xi)
    return (lambda X, k: X @ At - bt + xit[k]), torch.tensor(x0), (lambda x, k: A @ x - b + xi[k])


# ---------------------------------------------------------------------------------------------------
# NAdam
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps NAdam's mu_product in the default dtype
    yield
    torch.set_default_dtype(old)


def run_torch_nadam(grad, x0, K, lr, mu, nu, eps, psi):
    p = torch.nn.Parameter(x0.clone())
    opt = torch.optim.NAdam([p], lr=lr, betas=(mu, nu), eps=eps, momentum_decay=psi)
    xs = []
    for k in range(K):
        p.grad = grad(p.detach(), k)
        opt.step()
        xs.append(p.detach().clone())
    return xs


def run_ours_nadam(grad, x0, K, lr, mu, nu, eps, psi, inside):
    st = na.nadam_init(x0)
    xs = []
    for k in range(K):
        st = na.nadam_step(st, grad(st.x, k), k + 1, lr, mu, nu, eps, psi, eps_inside=inside)
        xs.append(st.x)
    return xs


@pytest.mark.parametrize("lr,mu,nu,eps,psi", [(1e-2, 0.99, 0.999, 1e-8, 0.004), (2e-3, 0.9, 0.999, 1e-3, 0.004),
                                              (5e-2, 0.95, 0.99, 1e-6, 0.01)])
def test_nadam_eps_outside_equals_torch(float64_default, lr, mu, nu, eps, psi):
    grad, x0, _ = quad()
    ref = run_torch_nadam(grad, x0, 300, lr, mu, nu, eps, psi)
    ours = run_ours_nadam(grad, x0, 300, lr, mu, nu, eps, psi, inside=False)
    assert max(float((a - b).abs().max()) for a, b in zip(ref, ours)) <= TOL
    assert float((ours[-1] - x0).abs().max()) > 0.1


def test_nadam_eps_inside_as_printed_differs(float64_default):
    grad, x0, _ = quad()
    gaps = {}
    for eps in (1e-8, 1e-3):
        ref = run_torch_nadam(grad, x0, 300, 1e-2, 0.99, 0.999, eps, 0.004)
        ins = run_ours_nadam(grad, x0, 300, 1e-2, 0.99, 0.999, eps, 0.004, inside=True)
        gaps[eps] = max(float((a - b).abs().max()) for a, b in zip(ref, ins))
    assert gaps[1e-3] > 1e-3  # visible: sqrt(n + eps) vs sqrt(n) + eps
    assert 1e-10 < gaps[1e-8] < gaps[1e-3]  # small but far above rounding for the default eps


def test_nadam_first_step_closed_form():
    """t = 1: m̄ = g (1-μ_1)/(1-μ_1) + μ_2 (1-μ) g/(1-μ_1 μ_2); n̂ = g²; step = lr m̄/(|g| + ε)."""
    g = torch.tensor([[0.5, -2.0, 1e-3]], dtype=torch.float64)
    mu, lr, eps = 0.99, 0.1, 1e-8
    st = na.nadam_step(na.nadam_init(torch.zeros_like(g)), g, 1, lr, mu, 0.999, eps, 0.004)
    m1, m2 = na.mu_schedule(1, mu), na.mu_schedule(2, mu)
    mbar = g + m2 * (1 - mu) * g / (1 - m1 * m2)
    assert torch.allclose(st.x, -lr * mbar / (g.abs() + eps), rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="t must be"):
        na.nadam_step(st, g, 3, lr)
    with pytest.raises(ValueError, match="^mu"):
        na.nadam_step(st, g, 2, lr, mu=1.0)


# ---------------------------------------------------------------------------------------------------
# SGD+M ⇔ SPA
# ---------------------------------------------------------------------------------------------------
def run_spa(grad, x0, eta, c):
    st, xs = spa.spa_init(x0), []
    for k in range(len(eta)):
        st = spa.spa_step(st, grad(st.x, k), eta[k], c[k])
        xs.append(st.x)
    return torch.stack(xs)


def run_sgdm(grad, x0, alpha, beta):
    st, xs = spa.sgdm_init(x0), []
    for k in range(len(alpha)):
        st = spa.sgdm_step(st, grad(st.x, k), alpha[k], beta[k])
        xs.append(st.x)
    return torch.stack(xs)


def test_spa_equals_sgdm_random_schedule():
    K = 200
    grad, x0, _ = quad(K=K)
    rs = np.random.default_rng(5)
    eta, c = rs.uniform(0.1, 0.5, K), rs.uniform(0.2, 1.0, K)
    alpha, beta = spa.spa_to_sgdm(eta, c)
    a, b = run_spa(grad, x0, eta, c), run_sgdm(grad, x0, alpha, beta)
    assert float((a - b).abs().max()) <= TOL
    # with a wrong map (β_k = 1 - c_k, the constant-case formula) they differ
    bad = run_sgdm(grad, x0, alpha, 1 - np.roll(c, 1))
    assert float((a - bad).abs().max()) > 1e-3


def test_spa_equals_sgdm_constant_and_exact_map():
    alpha, beta = spa.spa_to_sgdm(np.full(10, 1.0), np.full(10, 0.1), beta0=0.9)
    assert np.all(alpha == 0.1) and np.all(beta == 0.9)
    eta, c = spa.sgdm_to_spa(np.full(10, 0.1), np.full(10, 0.9), eta0=1.0)
    assert np.all(eta == 1.0) and np.all(c == 0.1)
    grad, x0, _ = quad(K=150)
    a = run_spa(grad, x0, np.full(150, 1.0), np.full(150, 0.1))
    b = run_sgdm(grad, x0, np.full(150, 0.1), np.full(150, 0.9))
    assert float((a - b).abs().max()) <= TOL


@pytest.mark.parametrize("eta0", [1.0, 2.5])
def test_stagewise_sgdm_equals_spa_via_converse(eta0):
    K, k0 = 100, 50
    grad, x0, _ = quad(K=K)
    alpha = spa.stagewise(K, k0, 0.1, 0.1)
    beta = np.full(K, 0.9)
    eta, c = spa.sgdm_to_spa(alpha, beta, eta0)
    assert eta[-1] > 10 * eta[k0]  # Fig. 1(a): the SPA step grows geometrically after the α drop
    a, b = run_sgdm(grad, x0, alpha, beta), run_spa(grad, x0, eta, c)
    assert float((a - b).abs().max()) <= TOL
    back_a, back_b = spa.spa_to_sgdm(eta, c, beta0=0.9)
    assert np.abs(back_a - alpha).max() <= 1e-14 and np.abs(back_b[1:] - beta[1:]).max() <= 1e-12


def test_sudden_eta_drop_spike_and_gradual_has_none():
    K, k0, c0 = 100, 20, 0.1
    alpha, beta = spa.sudden_drop_mapping(K, k0, eta0=1.0, c=c0, factor=10.0)
    assert abs(beta[k0] - 10 * (1 - c0)) <= TOL  # the spike
    rest = np.delete(beta[1:], k0 - 1)
    assert np.abs(rest - (1 - c0)).max() <= TOL
    assert np.abs(alpha[k0:] - 0.01).max() <= TOL and np.abs(alpha[:k0] - 0.1).max() <= TOL
    N = spa.min_gradual_steps(10.0, c0)
    assert N == 22
    eta, c = spa.gradual_spa_schedule(K, k0, 1.0, c0, 0.1, 10.0, steps=N)
    assert abs(eta[-1] - 0.1) <= TOL and abs(c[-1] - 1.0) <= TOL and np.all(c <= 1.0)
    _, bg = spa.spa_to_sgdm(eta, c)
    assert bg[1:].max() < 1.0 and abs(bg[k0] - 10 ** (1 / N) * (1 - c0)) <= TOL
    _, bg_short = spa.spa_to_sgdm(*spa.gradual_spa_schedule(K, k0, 1.0, c0, 0.1, 10.0, steps=N - 1))
    assert bg_short[1:].max() >= 1.0  # N is the smallest number of steps that keeps every β below 1
    cases = spa.defazio_cases(K, k0, steps=30)
    assert abs(cases["both sudden"]["beta"][k0] - 9.0) <= TOL and cases["both gradual"]["beta"].max() < 1.0
    assert abs(cases["sudden c increase"]["alpha"][-1] - 1.0) <= TOL  # Fig. 1(d): α rises 10x ...
    assert abs(cases["sudden c increase"]["beta"][-1]) <= TOL  # ... and β -> 0


def test_spa_validation_and_bad_converse():
    with pytest.raises(ValueError, match="^c"):
        spa.spa_to_sgdm([1.0, 1.0], [0.1, 1.5])
    with pytest.raises(ValueError, match="eta0"):
        spa.sgdm_to_spa([0.1, 0.1], [0.9, 0.9], eta0=0.0)
    with pytest.raises(ValueError, match="no SPA form"):
        spa.sgdm_to_spa([0.1, 0.1, 0.1], [0.9, 0.9, 0.9], eta0=0.05)  # η_1 < 0
    with pytest.raises(ValueError, match="^c"):
        spa.spa_step(spa.spa_init(torch.zeros(1, 2)), torch.ones(1, 2), 1.0, 0.0)


def test_figure_defazio(tmp_path):
    paths = spa.figure_defazio(tmp_path)
    assert [p.rsplit(".", 1)[1] for p in paths] == ["png", "pdf"]
    for p in paths:
        with open(p, "rb") as fh:
            head = fh.read(8)
        assert head.startswith(b"\x89PNG") or head.startswith(b"%PDF")


# ---------------------------------------------------------------------------------------------------
# App. A.5 baselines against the published formulas (written out here in numpy, one replica at a time)
# ---------------------------------------------------------------------------------------------------
def np_traj(step, x0, K, npgrad, **state):
    xs, x = [], x0.copy()
    for k in range(K):
        x = step(x, npgrad(x, k), state)
        xs.append(x.copy())
    return np.array(xs)


def run_batched(init, step, x0, K, grad, *args, **init_kw):
    st, xs = init(x0, **init_kw), []
    for k in range(K):
        st = step(st, grad(st.x, k), *args)
        xs.append(st.x)
    return torch.stack(xs)


def per_replica(npgrad, r):
    return lambda x, k: npgrad(x, k)[r]


def test_classical_momentum_formula_and_torch():
    K, lr, beta = 120, 0.2, 0.9
    grad, x0, npgrad = quad(K=K)

    def cm(x, g, s):  # [ZJDC] A.5: v_{k+1} = β v_k + ∇f(x_k); x_{k+1} = x_k − η v_{k+1}
        s["v"] = beta * s.get("v", 0.0) + g
        return x - lr * s["v"]

    ours = run_batched(bl.cm_init, bl.cm_step, x0, K, grad, lr, beta)
    for r in range(x0.shape[0]):
        ref = np_traj(cm, x0[r].numpy(), K, per_replica(npgrad, r))
        assert np.abs(ours[:, r].numpy() - ref).max() <= TOL
    p = torch.nn.Parameter(x0.clone())
    opt = torch.optim.SGD([p], lr=lr, momentum=beta)
    for k in range(K):
        p.grad = grad(p.detach(), k)
        opt.step()
    assert float((p.detach() - ours[-1]).abs().max()) <= TOL


def test_qhm_formula_and_special_cases():
    K, lr, beta, nu = 120, 0.5, 0.9, 0.7
    grad, x0, npgrad = quad(K=K)

    def qhm(x, g, s):  # Ma & Yarats: g_buf = β g_buf + (1−β) g; x -= lr[(1−ν) g + ν g_buf]
        s["b"] = beta * s.get("b", 0.0) + (1 - beta) * g
        return x - lr * ((1 - nu) * g + nu * s["b"])

    ours = run_batched(bl.qhm_init, bl.qhm_step, x0, K, grad, lr, beta, nu)
    for r in range(x0.shape[0]):
        assert np.abs(ours[:, r].numpy() - np_traj(qhm, x0[r].numpy(), K, per_replica(npgrad, r))).max() <= TOL
    nu1 = run_batched(bl.qhm_init, bl.qhm_step, x0, K, grad, lr, beta, 1.0)
    cm = run_batched(bl.cm_init, bl.cm_step, x0, K, grad, lr * (1 - beta), beta)
    assert float((nu1 - cm).abs().max()) <= TOL
    nu0 = run_batched(bl.qhm_init, bl.qhm_step, x0, K, grad, lr, beta, 0.0)
    sgd = run_batched(bl.cm_init, bl.cm_step, x0, K, grad, lr, 0.0)
    assert float((nu0 - sgd).abs().max()) <= TOL
    assert float((ours - cm).abs().max()) > 1e-3


def test_aggmo_formula_and_single_beta():
    K, lr = 120, 0.2
    betas = bl.aggmo_betas(3, a=0.1)
    assert betas == [0.0, 0.9, 1 - 0.1 ** 2]
    grad, x0, npgrad = quad(K=K)

    def aggmo(x, g, s):  # Lucas et al.: v_i = β_i v_i − g; x += (lr/K) Σ v_i
        s["v"] = [b * v - g for b, v in zip(betas, s.get("v", [0.0] * len(betas)))]
        return x + lr / len(betas) * sum(s["v"])

    ours = run_batched(lambda x: bl.aggmo_init(x, 3), bl.aggmo_step, x0, K, grad, lr, betas)
    for r in range(x0.shape[0]):
        assert np.abs(ours[:, r].numpy() - np_traj(aggmo, x0[r].numpy(), K, per_replica(npgrad, r))).max() <= TOL
    one = run_batched(lambda x: bl.aggmo_init(x, 1), bl.aggmo_step, x0, K, grad, lr, [0.9])
    cm = run_batched(bl.cm_init, bl.cm_step, x0, K, grad, lr, 0.9)
    assert float((one - cm).abs().max()) <= TOL


def test_per_replica_hyperparameters():
    grad, x0, _ = quad(R=3, K=50)
    lrs = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    both = run_batched(bl.cm_init, bl.cm_step, x0, 50, grad, lrs, 0.9)
    for r in range(3):
        alone = run_batched(bl.cm_init, bl.cm_step, x0, 50, grad, float(lrs[r]), 0.9)
        assert float((both[:, r] - alone[:, r]).abs().max()) <= TOL


@pytest.mark.parametrize("call,name", [
    (lambda s, g: bl.cm_step(s, g, 0.0, 0.9), "lr"), (lambda s, g: bl.cm_step(s, g, 0.1, 1.0), "beta"),
    (lambda s, g: bl.qhm_step(bl.qhm_init(s.x), g, 0.1, 0.9, float("nan")), "nu"),
    (lambda s, g: bl.aggmo_step(bl.aggmo_init(s.x, 2), g, 0.1, [0.5]), "betas"),
    (lambda s, g: bl.aggmo_init(s.x, 0), "K")])
def test_baselines_validation(call, name):
    s = bl.cm_init(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call(s, torch.ones(2, 3))


# ---------------------------------------------------------------------------------------------------
# Cutkosky & Mehta: problem constants, Theorems 1 and 3, Lemma 2, Algorithm 2
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rr():
    return nz.RobustRegression.random(N=200, n=10, seed=0)


def test_phi_derivative_sups():
    r = np.linspace(-20, 20, 2_000_001)
    assert abs(np.abs(2 * r / (2 + r * r)).max() - nz.PHI1_SUP) < 1e-9
    assert abs(np.abs((4 - 2 * r * r) / (2 + r * r) ** 2).max() - nz.PHI2_SUP) < 1e-9
    assert abs(np.abs(4 * r * (r * r - 6) / (2 + r * r) ** 3).max() - nz.PHI3_SUP) < 1e-9


def test_robust_regression_gradient_hessian_and_constants(rr):
    X = torch.randn(4, rr.n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    Xg = X.clone().requires_grad_(True)
    rr.f_value(Xg).sum().backward()
    assert torch.allclose(rr.f_grad(X), Xg.grad, rtol=1e-12, atol=1e-14)
    H = torch.autograd.functional.hessian(lambda x: rr.f_value(x[None])[0], X[0])
    assert torch.allclose(rr.hessian(X[0]), H, rtol=1e-10, atol=1e-13)
    gen = torch.Generator().manual_seed(2)
    worst_L = worst_rho = 0.0
    w_true = torch.linalg.lstsq(rr.A, rr.b[:, None]).solution[:, 0]
    for i in range(60):
        x = w_true + torch.randn(rr.n, dtype=torch.float64, generator=gen) * (0.1 * (i % 10 + 1))
        y = x + torch.randn(rr.n, dtype=torch.float64, generator=gen) * 0.05
        Hx, Hy = rr.hessian(x), rr.hessian(y)
        worst_L = max(worst_L, float(torch.linalg.matrix_norm(Hx, 2)))
        worst_rho = max(worst_rho, float(torch.linalg.matrix_norm(Hx - Hy, 2) / torch.linalg.vector_norm(x - y)))
    assert worst_L <= rr.L and worst_rho <= rr.rho
    assert worst_L > 0.3 * rr.L  # the bounds are not absurdly loose either
    assert float(torch.linalg.vector_norm(rr.f_grad(X), dim=-1).max()) <= rr.grad_sup


def test_noise_models_have_the_declared_sigma(rr):
    seeds = torch.arange(4000)
    g = rr.noise(seeds, 3, 0.7, "gaussian")
    assert abs(float((g ** 2).sum(-1).mean()) - 0.49) < 0.03
    s = rr.noise(seeds[:10], 3, 0.7, "sphere")
    assert torch.allclose(torch.linalg.vector_norm(s, dim=-1), torch.full((10,), 0.7, dtype=torch.float64))
    assert torch.equal(rr.noise(seeds[5:6], 3, 0.7), g[5:6])  # batch invariance


@pytest.mark.parametrize("method,sigma", [("nsgdm", 0.1), ("nsgdm", 1.0), ("nigt", 0.1), ("nigt", 1.0)])
def test_thm1_thm3_bounds_hold_in_mean_and_lemma2(rr, method, sigma):
    T = 100
    out = nz.run_normalized(rr, range(20), T, sigma, method)
    emp = float(out["grad_norm"].mean())  # mean over t = 1..T and over 20 seeds
    R = out["R"]
    bound = nz.thm1_bound(R, rr.L, sigma, T) if method == "nsgdm" else nz.thm3_bound(R, rr.L, rr.rho, sigma, T)
    assert emp <= bound
    assert emp > bound / 100  # negative control: the bound divided by 100 is violated
    assert float(out["slack"].min()) >= -1e-12  # Lemma 2 at every step and replica


@pytest.mark.parametrize("method", ["nsgdm", "nigt"])
def test_lemma2_holds_for_arbitrary_parameters(rr, method):
    out = nz.run_normalized(rr, range(8), 60, 2.0, method, eta=0.8, alpha=0.3)
    assert float(out["slack"].min()) >= -1e-12
    # the certificate is not trivially loose: ε̂ matters (without its term the inequality fails somewhere)
    lhs = out["F_next"] - out["F"]
    rhs_no_noise = -0.8 / 3 * out["grad_norm"] + rr.L * 0.8 ** 2 / 2
    assert float((rhs_no_noise - lhs).min()) < 0


def test_nsgdm_and_nigt_match_the_written_out_algorithms():
    """Eqs. (2)-(3) with m_1 = g_1, and Algorithm 1 (x_1 = w_1, x_t = w_t + β/(1-β)(w_t - w_{t-1})), in numpy."""
    K, eta, beta = 80, 0.05, 0.8
    grad, x0, npgrad = quad(K=K)
    st_n, st_i = nz.nsgdm_init(x0), nz.nigt_init(x0)
    ws_n, ws_i = [], []
    for k in range(K):
        st_n = nz.nsgdm_step(st_n, grad(st_n.w, k), eta, beta)
        st_i = nz.nigt_step(st_i, grad(nz.nigt_query(st_i, beta), k), eta, beta)
        ws_n.append(st_n.w)
        ws_i.append(st_i.w)
    for r in range(x0.shape[0]):
        w, m = x0[r].numpy().copy(), None
        w_prev, w2, m2 = w.copy(), w.copy(), None
        for k in range(K):
            g = npgrad(w, k)[r]
            m = g if k == 0 else beta * m + (1 - beta) * g
            w = w - eta * m / np.linalg.norm(m)
            assert np.abs(ws_n[k][r].numpy() - w).max() <= TOL
            x = w2 if k == 0 else w2 + beta / (1 - beta) * (w2 - w_prev)
            g2 = npgrad(x, k)[r]
            m2 = g2 if k == 0 else beta * m2 + (1 - beta) * g2
            w_prev, w2 = w2, w2 - eta * m2 / np.linalg.norm(m2)
            assert np.abs(ws_i[k][r].numpy() - w2).max() <= TOL


def test_constants_are_tight_in_one_dimension():
    """N = n = 1, a = 1, b = 0: F = φ, so L = sup|φ''| = |F''(0)| and ρ = sup|φ'''| are attained."""
    p = nz.RobustRegression(np.ones((1, 1)), np.zeros(1))
    assert p.L == pytest.approx(1.0, rel=1e-14) and p.rho == pytest.approx(nz.PHI3_SUP, rel=1e-14)
    assert float(p.hessian(torch.zeros(1, dtype=torch.float64))[0, 0]) == pytest.approx(p.L, rel=1e-14)
    r, h = nz._R3, 1e-5
    x, y = torch.tensor([r - h], dtype=torch.float64), torch.tensor([r + h], dtype=torch.float64)
    ratio = abs(float(p.hessian(x)[0, 0] - p.hessian(y)[0, 0])) / (2 * h)
    assert 0.9999 * p.rho < ratio <= p.rho


def test_nigt_without_noise_alpha1_is_normalized_gd(rr):
    """With α = 1 (β = 0): x_t = w_t and m_t = g_t, so NIGT and NSGD-M are both normalized GD."""
    a = nz.run_normalized(rr, range(2), 30, 0.0, "nigt", eta=0.05, alpha=1.0)
    b = nz.run_normalized(rr, range(2), 30, 0.0, "nsgdm", eta=0.05, alpha=1.0)
    assert torch.equal(a["F"], b["F"])
    assert float(a["F"][-1, 0]) < float(a["F"][0, 0]) - 0.1


def test_theorem_parameters():
    a, e = nz.thm1_params(2.0, 0.5, 0.0, 100)
    assert a == 1.0 and abs(e - math.sqrt(2.0 / (100 * 0.5))) < 1e-15
    a, e = nz.thm1_params(2.0, 0.5, 10.0, 100)
    assert abs(a - 0.1 / 10) < 1e-15 and abs(e - math.sqrt(2.0 * a / 50)) < 1e-15
    a, e = nz.thm3_params(1.0, 1.0, 1.0, 1.0, 2 ** 7)
    assert abs(a - 2 ** -4) < 1e-15 and abs(e - min(2 ** -5, 2 ** -3.5)) < 1e-15
    assert nz.thm1_bound(1.0, 1.0, 0.0, 100) == pytest.approx(2.9)
    # corrected constants (THEORY §9 #14): 29 + 21 sqrt(σ) + 8 σ² at R = L = T = 1, σ = 4
    assert nz.thm1_bound(1.0, 1.0, 4.0, 1) == pytest.approx(29 + 21 * 2 + 8 * 16, rel=1e-14)
    # Theorem 3 at R = ρ = L = T = 1, σ = 2^7: 5 + 27 σ^{4/7} + 8 σ^{13/7}
    assert nz.thm3_bound(1.0, 1.0, 1.0, 2.0 ** 7, 1) == pytest.approx(5 + 27 * 2 ** 4 + 8 * 2 ** 13, rel=1e-14)
    with pytest.raises(ValueError, match="^rho"):
        nz.thm3_params(1.0, 1.0, 0.0, 1.0, 10)
    with pytest.raises(ValueError, match="^T"):
        nz.thm1_bound(1.0, 1.0, 1.0, 0)


def test_adaptive_algorithm2_matches_written_out():
    """Algorithm 2 of [CM] in numpy (G_0 = D, η_0 = C/D^{2/7}) on the quadratic oracle with two noise draws."""
    K, C, gb = 60, 1.3, 4.0
    grad, x0, npgrad = quad(K=2 * K)
    st = nz.adaptive_init(x0, gb, C)
    ws = []
    for t in range(K):
        x = nz.adaptive_query(st)
        st = nz.adaptive_step(st, grad(x, 2 * t), grad(x, 2 * t + 1))
        ws.append(st.w)
    D = C ** (-14 / 3)
    for r in range(x0.shape[0]):
        w = x0[r].numpy().copy()
        w_prev, m, G_prev, G, eta_prev = w.copy(), np.zeros_like(w), D, 3 * gb ** 2 + D, C / D ** (2 / 7)
        for t in range(1, K + 1):
            eta = C / (G ** 2 * (t + 1) ** 3) ** (1 / 7)
            alpha = 1 / (t * eta_prev ** 2 * G_prev)
            beta = 1 - alpha
            x = w + beta / (1 - beta) * (w - w_prev)
            g, g2 = npgrad(x, 2 * t - 2)[r], npgrad(x, 2 * t - 1)[r]
            m = beta * m + (1 - beta) * g
            G_prev, G = G, G + np.sum((g - g2) ** 2) + gb ** 2 * ((t + 1) ** 0.25 - t ** 0.25)
            w_prev, w = w, w - eta * m / np.linalg.norm(m)
            eta_prev = eta
            assert np.abs(ws[t - 1][r].numpy() - w).max() <= TOL


def test_adaptive_algorithm2(rr):
    seeds = torch.arange(6)
    sigma = 0.5
    g_bound = rr.grad_sup + sigma  # sphere noise: ||∇f|| <= sup||∇F|| + σ a.s.
    for C in (0.5, 1.0, 3.0):
        st = nz.adaptive_init(rr.x0[None].repeat(6, 1), g_bound, C)
        D = C ** (-14 / 3)
        assert torch.allclose(nz.adaptive_coefficients(st)[1], torch.ones(6, dtype=torch.float64), rtol=1e-12)
        alt = nz.adaptive_init(rr.x0[None].repeat(6, 1), g_bound, C, G0=3 * g_bound ** 2 + D)
        assert torch.allclose(nz.adaptive_coefficients(alt)[1],
                              torch.full((6,), D / (3 * g_bound ** 2 + D), dtype=torch.float64), rtol=1e-10)
        gn0 = float(torch.linalg.vector_norm(rr.f_grad(st.w), dim=-1).mean())
        alphas, gns = [], []
        for t in range(300):
            x = nz.adaptive_query(st)
            alphas.append(nz.adaptive_coefficients(st)[1])
            g1 = rr.stochastic_grad(x, seeds, t, sigma, "sphere")
            g2 = rr.stochastic_grad(x, seeds, t, sigma, "sphere", stream=2)
            st = nz.adaptive_step(st, g1, g2)
            gns.append(torch.linalg.vector_norm(rr.f_grad(st.w), dim=-1))
        alphas = torch.stack(alphas)
        assert float(alphas.max()) <= 1.0 + 1e-12 and float(alphas.min()) > 0
        assert float(torch.stack(gns[-50:]).mean()) < 0.6 * gn0  # it makes progress
