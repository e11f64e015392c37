"""Issue 13, item 6: overflow/underflow-safe norms (theorycheck.numerics) and their use in the ℓ2-ball prox,
``contains``, Euclidean norms, ``row_normalize`` / ``normalize_rows`` and the sphere-noise scaling, at both ends
of float32 and float64."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from theorycheck.data import normalize_rows
from theorycheck.geometry import Euclidean, euclidean
from theorycheck.methods._common import row_normalize
from theorycheck.numerics import l2_norm, l2_normalize
from theorycheck.oracles import SphereNoise

# (dtype, huge scale, tiny scale): (3, 4) * scale overflows / underflows when squared
ENDS = [(torch.float32, 1e19, 1e-30), (torch.float64, 1e200, 1e-300), (torch.float32, 1e37, 1e-40),
        (torch.float64, 1e307, 1e-310)]


@pytest.mark.parametrize("dtype,big,small", ENDS)
def test_plain_norm_fails_at_the_ends(dtype, big, small):
    """The negative control: the naive formula is wrong here, so the tests below can fail."""
    x = torch.tensor([[3 * big, 4 * big], [3 * small, 4 * small]], dtype=dtype)
    naive = torch.linalg.vector_norm(x, dim=-1)
    assert not torch.isfinite(naive[0]) or naive[1] == 0 or abs(float(naive[1]) / (5 * small) - 1) > 1e-3


@pytest.mark.parametrize("dtype,big,small", ENDS)
def test_l2_norm_and_normalize_both_ends(dtype, big, small):
    x = torch.tensor([[3 * big, 4 * big], [3 * small, 4 * small], [0.0, 0.0], [3.0, -4.0]], dtype=dtype)
    rel = 1e-6 if dtype == torch.float32 else 1e-14
    if small < torch.finfo(dtype).tiny:
        rel = 1e-3  # subnormal inputs carry fewer bits
    n = l2_norm(x)
    assert torch.allclose(n, torch.tensor([5 * big, 5 * small, 0.0, 5.0], dtype=dtype), rtol=rel, atol=0)
    u = l2_normalize(x)
    want = torch.tensor([[0.6, 0.8], [0.6, 0.8], [0, 0], [0.6, -0.8]], dtype=dtype)
    assert torch.allclose(u, want, rtol=rel, atol=0)
    assert torch.allclose(row_normalize(x), want, rtol=rel, atol=0)
    xn = x.numpy()
    assert np.allclose(l2_norm(xn), n.numpy(), rtol=rel, atol=0)
    assert np.allclose(l2_normalize(xn), want.numpy(), rtol=rel, atol=0)
    assert torch.allclose(Euclidean().norm(x), n, rtol=rel, atol=0)


def test_normalize_overflowing_norm_and_special_values():
    x = torch.full((1, 4), torch.finfo(torch.float32).max / 1.5)  # ||x|| = 4/3 max > float32 max
    assert torch.isinf(l2_norm(x)).all()
    assert torch.allclose(l2_normalize(x), torch.full((1, 4), 0.5), rtol=1e-6)
    assert torch.allclose(row_normalize(x), torch.full((1, 4), 0.5), rtol=1e-6)
    assert torch.isinf(l2_norm(torch.tensor([float("inf"), 1.0])))
    assert torch.isnan(l2_norm(torch.tensor([float("nan"), 1.0])))
    z = torch.tensor([3e200 + 4e200j], dtype=torch.complex128)
    assert float(l2_norm(z)) == pytest.approx(5e200, rel=1e-14)


def test_bit_identical_to_torch_and_numpy_in_normal_range():
    g = torch.Generator().manual_seed(0)
    for dt in (torch.float32, torch.float64):
        x = torch.randn(64, 33, generator=g, dtype=dt) * torch.logspace(-5, 5, 64, dtype=dt)[:, None]
        assert torch.equal(l2_norm(x), torch.linalg.vector_norm(x, dim=-1))
        assert torch.equal(l2_norm(x, dim=0, keepdim=True), torch.linalg.vector_norm(x, dim=0, keepdim=True))
        nrm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        assert torch.equal(row_normalize(x), x / nrm)
        xn = x.numpy()
        assert np.array_equal(l2_norm(xn, dim=1), np.linalg.norm(xn, axis=1))


@pytest.mark.parametrize("dtype,big", [(torch.float32, 1e19), (torch.float64, 1e200), (torch.float32, 1e37),
                                       (torch.float64, 1e300)])
def test_l2_ball_prox_huge(dtype, big):
    s = euclidean("l2ball", radius=1.0)
    v = torch.tensor([[3 * big, 4 * big], [0.3, 0.4]], dtype=dtype)
    p = s.prox(v, torch.zeros_like(v), 1.0)
    assert torch.allclose(p, torch.tensor([[0.6, 0.8], [0.3, 0.4]], dtype=dtype), rtol=1e-6, atol=0)
    assert s.contains(p).all() and not s.contains(v)[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("radius,scale", [(1e-31, 1e-30), (1e-300, 1e-299), (1e-36, 1e-35)])
def test_l2_ball_tiny_radius(dtype, radius, scale):
    if radius < torch.finfo(dtype).tiny * 100:
        pytest.skip("radius below the dtype's normal range")
    s = euclidean("l2ball", radius=radius)
    v = torch.tensor([[3 * scale, 4 * scale], [0.3 * radius, 0.4 * radius]], dtype=dtype)
    assert not s.contains(v)[0] and s.contains(v)[1]
    p = s.prox(v, torch.zeros_like(v), 1.0)
    assert float(l2_norm(p[0])) == pytest.approx(radius, rel=1e-5)
    assert torch.allclose(p[0], torch.tensor([0.6 * radius, 0.8 * radius], dtype=dtype), rtol=1e-5, atol=0)
    assert torch.equal(p[1], v[1])
    assert s.contains(p).all()


def test_ball_diameter_huge():
    s = euclidean("l2ball", radius=1.0)
    assert s.diameter(torch.tensor([3e200, 4e200], dtype=torch.float64)) == pytest.approx(5e200 + 1, rel=1e-14)


@pytest.mark.parametrize("scale", [1e160, 1e-160, 1e300, 1e-310])
def test_normalize_rows_float64_ends(scale):
    A = sp.csr_matrix(np.array([[3 * scale, 4 * scale, 0], [0, 0, 0], [1.0, 0, 0]]))
    B = normalize_rows(A).toarray()
    rel = 1e-6 if scale < 1e-300 else 1e-15
    assert np.allclose(B, [[0.6, 0.8, 0], [0, 0, 0], [1, 0, 0]], rtol=rel, atol=0)


def test_normalize_rows_bit_identical_in_normal_range():
    rs = np.random.default_rng(0)
    A = sp.random(50, 20, density=0.3, random_state=1, format="csr") * 7.0
    A.data += rs.standard_normal(A.nnz)
    B = normalize_rows(A)
    nrm = np.sqrt(np.asarray(A.multiply(A).sum(1)).ravel())
    ref = A.multiply(1.0 / np.where(nrm > 0, nrm, 1)[:, None]).tocsr()
    assert np.array_equal(B.toarray(), ref.toarray())


def test_sphere_noise_norm_is_sigma():
    n = SphereNoise(1e-30)
    z = n.sample(torch.tensor([1, 2]), 0, 5, torch.float64)
    assert torch.allclose(l2_norm(z), torch.full((2,), 1e-30, dtype=torch.float64), rtol=1e-14, atol=0)
