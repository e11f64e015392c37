"""Exact equivalences of THEORY §3 on one shared noise sequence (float64, max abs difference <= 1e-10).

The oracle's noise is a pure function of (seed, k), so two algorithms whose gradient points coincide receive
identical noise: comparing their whole query trajectories is a test of the equivalence, not of luck.
"""
import math

import pytest
import torch

from theorycheck import algorithms as A
from theorycheck.geometry import entropic, euclidean
from theorycheck.oracles import Oracle, SphereNoise
from theorycheck.problems.quadratic import Quadratic
from theorycheck.rng import as_seeds
from theorycheck.schedules import Constant, Theorem1

TOL = 1e-10
SEEDS = as_seeds(range(4))


def quad(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    Q = U @ torch.diag(torch.linspace(0.05, 1.0, n, dtype=torch.float64)) @ U.T
    return Quadratic((Q + Q.T) / 2, torch.randn(n, generator=g, dtype=torch.float64))


class SimplexQuadratic:
    """f(x) = ½‖Bx − c‖² on the simplex (entropic tests only need value/grad)."""

    def __init__(self, n=6):
        g = torch.Generator().manual_seed(3)
        self.B = torch.randn(n, n, generator=g, dtype=torch.float64)
        self.c = torch.randn(n, generator=g, dtype=torch.float64)
        self.setup = entropic()
        self.x0 = torch.full((n,), 1.0 / n, dtype=torch.float64)

    def grad(self, X):
        return (X @ self.B.T - self.c) @ self.B


def trajectory(problem, alg, K, sigma=0.3, seeds=SEEDS, options=("I", "II")):
    """Query points x_k for k < K and the outputs after K steps."""
    oracle = Oracle(problem, SphereNoise(sigma)) if isinstance(problem, Quadratic) else None
    x0 = problem.x0[None].repeat(len(seeds), 1)
    state, xs = alg.init(x0, seeds), []
    for k in range(K):
        x = alg.query(state, k)
        xs.append(x)
        g = oracle(x, seeds, k) if oracle else problem.grad(x) + 0.1 * torch.sin(7.0 * k + x.sum(-1, keepdim=True))
        state = alg.step(state, g, k)
    return torch.stack(xs), {o: alg.output(state, o, K) for o in options if o in alg.options}


def maxdiff(a, b):
    return float((a - b).abs().max())


@pytest.mark.parametrize("m", [1, 3, 7, 84])
def test_alg1_equals_alg2(m):
    p, K, alpha, beta = quad(), 84, 2.0, 0.9
    xs1, out1 = trajectory(p, A.AM1(p.setup, Constant(beta, alpha=alpha), m), K)
    xs2, out2 = trajectory(p, A.AM1Momentum(p.setup, Constant(beta, eta=alpha * (1 - beta)), m), K)
    assert maxdiff(xs1, xs2) <= TOL
    assert maxdiff(out1["II"], out2["II"]) <= TOL
    assert maxdiff(out1["I"], out2["I"]) <= TOL


def test_alg1_vs_alg2_detects_a_wrong_step():
    """Negative control: with η ≠ α(1−β) the trajectories differ far above the tolerance."""
    p, K = quad(), 21
    xs1, _ = trajectory(p, A.AM1(p.setup, Constant(0.9, alpha=2.0), 7), K)
    xs2, _ = trajectory(p, A.AM1Momentum(p.setup, Constant(0.9, eta=0.2 * 1.01), 7), K)
    assert maxdiff(xs1, xs2) > 1e-4


@pytest.mark.parametrize("m", [1, 5, 12])
def test_alg5_equals_alg2(m):
    p, K, sched = quad(), 60, Constant(0.9, eta=0.3)
    xs2, out2 = trajectory(p, A.AM1Momentum(p.setup, sched, m), K)
    xs5, out5 = trajectory(p, A.AM1Efficient(p.setup, sched, m), K)
    assert maxdiff(xs2, xs5) <= TOL
    for o in ("I", "II"):
        assert maxdiff(out2[o], out5[o]) <= TOL


@pytest.mark.parametrize("m", [1, 5, 10])
def test_alg3_equals_alg4(m):
    p, K, alpha, beta = quad(), 80, 3.0, 0.8
    xs3, out3 = trajectory(p, A.AM2(p.setup, Constant(beta, alpha=alpha), m), K)
    xs4, out4 = trajectory(p, A.AM2Momentum(p.setup, Constant(beta, eta=alpha * (1 - beta)), m), K)
    assert maxdiff(xs3, xs4) <= TOL
    for o in ("I", "II"):
        assert maxdiff(out3[o], out4[o]) <= TOL


def test_m1_bridge_to_nesterov_and_torch_optim():
    """m = 1: Alg 1 ≡ AC-SA ≡ M-SGD (4) ≡ PyTorch form (6) ≡ torch.optim.SGD(nesterov=True);
    Option I = M-SGD's x_K, Option II = OM-SGD's y_K; AM2 with m = 1 likewise."""
    p, K, alpha, beta = quad(), 50, 2.5, 0.9
    eta = alpha * (1 - beta)
    xs1, out1 = trajectory(p, A.AM1(p.setup, Constant(beta, alpha=alpha), 1), K)
    xsa, outa = trajectory(p, A.ACSA(p.setup, Constant(beta, alpha=alpha)), K)
    xsn, outn = trajectory(p, A.Nesterov(p.setup, Constant(beta, eta=eta)), K)
    xsp, outp = trajectory(p, A.NesterovPyTorch(p.setup, Constant(beta, eta=eta)), K)
    xs2, out2 = trajectory(p, A.AM2Momentum(p.setup, Constant(beta, eta=eta), 1), K)
    for xs in (xsa, xsn, xsp, xs2):
        assert maxdiff(xs1, xs) <= TOL
    assert maxdiff(out1["I"], outn["I"]) <= TOL and maxdiff(out1["I"], outp["I"]) <= TOL
    assert maxdiff(out1["II"], outn["II"]) <= TOL and maxdiff(out1["II"], outa["II"]) <= TOL
    assert maxdiff(out2["I"], outn["I"]) <= TOL and maxdiff(out2["II"], outn["II"]) <= TOL

    # torch.optim.SGD on the same oracle: the parameter is the (R, n) batch itself.
    oracle = Oracle(p, SphereNoise(0.3))
    x = torch.nn.Parameter(p.x0[None].repeat(len(SEEDS), 1).clone())
    opt = torch.optim.SGD([x], lr=eta, momentum=beta, nesterov=True, dampening=0.0)
    for k in range(K):
        assert maxdiff(x.detach(), xs1[k]) <= TOL
        x.grad = oracle(x.detach(), SEEDS, k)
        opt.step()
    assert maxdiff(x.detach(), out1["I"]) <= TOL


@pytest.mark.parametrize("kind", ["none", "l1", "box"])
def test_m_equals_K_is_mirror_descent_sa(kind):
    """m = K with β₀ = 0 (Theorem 1's schedule): Alg 1 ≡ MD-SA with constant step α₀ and averaged output."""
    p, K = quad(), 40
    setup = euclidean(kind, **({"lam": 0.05} if kind == "l1" else {"lower": -0.3, "upper": 0.4} if kind == "box"
                               else {}))
    th = Theorem1(L=1.0, V=3.0, sigma=0.3, M=0.0, m=K, K=K)
    assert th.beta(0) == 0.0
    p.setup = setup
    _, out1 = trajectory(p, A.AM1(setup, th, K), K)
    _, outm = trajectory(p, A.MirrorDescentSA(setup, Constant(0.0, alpha=th.alpha(0))), K,
                         options=("average",))
    assert maxdiff(out1["II"], outm["average"]) <= TOL


@pytest.mark.parametrize("m", [1, 4])
def test_time_varying_momentum_form_equals_alg1_under_theorem1(m):
    p, K = quad(), 48
    th = Theorem1(L=1.0, V=3.0, sigma=0.3, M=0.0, m=m, K=K)
    xs1, out1 = trajectory(p, A.AM1(p.setup, th, m), K)
    xs2, out2 = trajectory(p, A.AM1Momentum(p.setup, th, m), K)
    assert maxdiff(xs1, xs2) <= TOL
    assert maxdiff(out1["II"], out2["II"]) <= TOL and maxdiff(out1["I"], out2["I"]) <= TOL


def test_entropic_alg1_m1_equals_entropic_acsa():
    p, K = SimplexQuadratic(), 60
    th = Theorem1(L=4.0, V=math.log(6), sigma=0.1, M=0.0, m=1, K=K)
    xs1, out1 = trajectory(p, A.AM1(p.setup, th, 1), K)
    xsa, outa = trajectory(p, A.ACSA(p.setup, th), K)
    assert maxdiff(xs1, xsa) <= TOL and maxdiff(out1["II"], outa["II"]) <= TOL
    assert torch.allclose(out1["II"].sum(-1), torch.ones(len(SEEDS), dtype=torch.float64))
