"""Noise models: exact σ in the dual norm, light-tail flags, determinism per replica."""
import math

import numpy as np
import pytest
import torch

from theorycheck import rng
from theorycheck.geometry import entropic
from theorycheck.oracles import GaussianNoise, Oracle, SphereNoise, StudentTNoise
from theorycheck.problems.quadratic import Quadratic

SEEDS = rng.as_seeds(range(4000))


def test_uniform_bits_are_uniform_and_independent_of_batch():
    u = rng.uniform(SEEDS, 5, 1, 3)
    assert 0 < float(u.min()) and float(u.max()) < 1
    assert abs(float(u.mean()) - 0.5) < 0.01
    # replica 17 alone draws exactly what it draws inside the batch
    assert torch.equal(rng.uniform(SEEDS[17:18], 5, 1, 3), u[17:18])
    # different steps / streams are different draws
    assert not torch.equal(rng.uniform(SEEDS, 6, 1, 3), u)
    assert not torch.equal(rng.uniform(SEEDS, 5, 2, 3), u)
    z = rng.normal(SEEDS, 0, 1, 8).numpy().ravel()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.03


def test_integers_cover_range_uniformly():
    j = rng.integers(SEEDS, 3, rng.STREAM_INDEX, 5)[:, 0].numpy()
    counts = np.bincount(j, minlength=5)
    assert j.min() == 0 and j.max() == 4
    assert (abs(counts / len(j) - 0.2) < 0.03).all()


def test_sphere_noise_has_norm_sigma():
    d = SphereNoise(0.7).sample(SEEDS, 3, 10, torch.float64)
    assert torch.allclose(torch.linalg.vector_norm(d, dim=-1), torch.full((len(SEEDS),), 0.7, dtype=torch.float64))
    assert float(d.mean(0).abs().max()) < 0.03


@pytest.mark.parametrize("noise", [GaussianNoise(0.5), StudentTNoise(0.5, df=5)])
def test_second_moment_is_sigma_squared(noise):
    d = noise.sample(SEEDS, 0, 10, torch.float64)
    msq = float((d ** 2).sum(-1).mean())
    assert abs(msq / 0.25 - 1) < 0.1
    assert not noise.light_tail


def test_gaussian_light_tail_sigma_satisfies_the_condition():
    n, s = 10, 0.5
    noise = GaussianNoise(s)
    s2 = noise.light_tail_sigma(n)
    assert s2 > s
    # E exp(‖δ‖²/σ'²) = (1 − 2 s²/(n σ'²))^(−n/2) = e exactly at σ'
    c = s ** 2 / (n * s2 ** 2)
    assert math.isclose((1 - 2 * c) ** (-n / 2), math.e, rel_tol=1e-12)


def test_sigma_is_reported_in_the_setups_dual_norm():
    assert SphereNoise(0.3).sigma_dual(entropic()) == 0.3  # ℓ∞ ≤ ℓ2: valid


def test_oracle_is_unbiased_and_deterministic():
    p = Quadratic(torch.eye(3, dtype=torch.float64), torch.ones(3))
    o = Oracle(p, SphereNoise(1.0))
    X = torch.zeros(len(SEEDS), 3, dtype=torch.float64)
    g1, g2 = o(X, SEEDS, 2), o(X, SEEDS, 2)
    assert torch.equal(g1, g2)
    assert torch.allclose(g1.mean(0), p.grad(X[:1])[0], atol=0.05)


def test_bad_noise_parameters():
    with pytest.raises(ValueError, match="sigma"):
        SphereNoise(-1.0)
    with pytest.raises(ValueError, match="df"):
        StudentTNoise(1.0, df=2)
    p = Quadratic(torch.eye(2, dtype=torch.float64), torch.ones(2))
    with pytest.raises(ValueError, match="finite sum"):
        Oracle(p, batch=4)
