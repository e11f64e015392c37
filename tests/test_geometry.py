"""Prox / mirror-map properties (THEORY §1.2, §2)."""
import math

import pytest
import torch

from theorycheck.geometry import Entropic, entropic, euclidean, soft_threshold

g = torch.Generator().manual_seed(0)


def rand(*shape, scale=1.0):
    return scale * torch.randn(*shape, generator=g, dtype=torch.float64)


def test_l1_prox_optimality_and_moreau():
    v, t = rand(50, 9), 0.4
    u = soft_threshold(v, t)
    nz = u != 0
    # 0 ∈ u − v + t ∂|u|: equality on the support, |v| <= t off it
    assert torch.allclose((u - v + t * torch.sign(u))[nz], torch.zeros((), dtype=torch.float64), atol=1e-14)
    assert (v[~nz].abs() <= t + 1e-14).all()
    # Moreau: prox_{t|.|_1}(v) + prox_{(t|.|_1)^*}(v) = v, the conjugate's prox is the projection on the l_inf ball
    assert torch.allclose(u + v.clamp(-t, t), v, atol=1e-15)


def test_setup_prox_matches_formulas():
    z, G, a = rand(20, 5), rand(20, 5), 0.7
    v = z - G
    assert torch.equal(euclidean().prox(z, G, a), v)
    assert torch.allclose(euclidean("l1", lam=0.3).prox(z, G, a), soft_threshold(v, 0.3 * a))
    box = euclidean("box", lower=-0.2, upper=0.5)
    assert torch.equal(box.prox(z, G, a), v.clamp(-0.2, 0.5))
    both = euclidean("box_l1", lam=0.3, lower=-0.2, upper=0.5)
    assert torch.allclose(both.prox(z, G, a), soft_threshold(v, 0.21).clamp(-0.2, 0.5))
    ball = euclidean("l2ball", radius=0.8)
    u = ball.prox(z, G, a)
    assert (torch.linalg.vector_norm(u, dim=-1) <= 0.8 + 1e-12).all()
    inside = torch.linalg.vector_norm(v, dim=-1) <= 0.8
    assert torch.allclose(u[inside], v[inside])
    # projection optimality on the ball: <v − u, w − u> <= 0 for w in the ball
    w = ball.prox(rand(20, 5, scale=3), torch.zeros(20, 5, dtype=torch.float64), a)
    assert (((v - u) * (w - u)).sum(-1) <= 1e-12).all()


def test_box_l1_prox_is_the_argmin():
    """Brute-force the separable 1-D problems on a grid."""
    z, G, a, lam, lo, hi = rand(3, 4), rand(3, 4), 0.5, 0.6, -0.3, 0.4
    u = euclidean("box_l1", lam=lam, lower=lo, upper=hi).prox(z, G, a)
    grid = torch.linspace(lo, hi, 200001, dtype=torch.float64)
    obj = 0.5 * (grid[None, None] - (z - G)[..., None]) ** 2 + a * lam * grid.abs()[None, None]
    best = grid[obj.argmin(-1)]
    assert torch.allclose(u, best, atol=1e-5)


def test_entropic_prox_optimality_and_interior():
    n = 7
    z = torch.softmax(rand(30, n), -1)
    G = rand(30, n, scale=3.0)
    u = entropic().prox(z, G, 1.0)
    # optimality on the simplex: log(u/z) + G is constant across coordinates
    r = torch.log(u) - torch.log(z) + G
    assert torch.allclose(r, r.mean(-1, keepdim=True), atol=1e-10)
    assert torch.allclose(u.sum(-1), torch.ones(30, dtype=torch.float64))
    # huge steps: no NaN, strictly inside
    for scale in (1e3, 1e8, 1e300):
        u = entropic().prox(z, rand(30, n, scale=scale), 1.0)
        assert torch.isfinite(u).all() and (u > 0).all()
        assert torch.allclose(u.sum(-1), torch.ones(30, dtype=torch.float64))


def test_entropic_linear_h_shifts_the_gradient():
    n, a = 5, 0.3
    c = rand(n)
    z, G = torch.softmax(rand(4, n), -1), rand(4, n)
    assert torch.allclose(entropic("linear", c=c).prox(z, G, a), entropic().prox(z, G + a * c, a))


def test_pinsker_kl_dominates_half_l1_squared():
    u, z = torch.softmax(rand(1000, 6, scale=2), -1), torch.softmax(rand(1000, 6, scale=2), -1)
    kl = Entropic().bregman(u, z)
    assert (kl >= 0.5 * (u - z).abs().sum(-1) ** 2 - 1e-15).all()
    assert Entropic().bregman(u, u).abs().max() < 1e-15


def test_bad_setups_are_rejected():
    with pytest.raises(ValueError, match="kind"):
        euclidean("simplex")
    with pytest.raises(ValueError, match="radius"):
        euclidean("l2ball", radius=-1.0)
    with pytest.raises(ValueError, match="lower < upper"):
        euclidean("box", lower=1.0, upper=0.0)
    with pytest.raises(ValueError, match="lam"):
        euclidean("l1", lam=-0.1)


def test_diameters():
    x = torch.tensor([0.1, -0.2, 0.0], dtype=torch.float64)
    assert entropic().diameter() == 2.0
    assert math.isclose(euclidean("l2ball", radius=1.0).diameter(x), float(x.norm()) + 1.0)
    assert math.isinf(euclidean().diameter(x))
