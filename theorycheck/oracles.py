"""Stochastic first-order oracles: g = ∇f(x) + noise, or a minibatch gradient of a finite sum.

Every noise model reports the σ it satisfies in assumption (c) (THEORY §1.3) *in the dual norm of the setup in
use*, and whether the light-tail condition E exp(‖δ‖²_*/σ²) ≤ e holds with that σ. Draws are counter-based
(theorycheck.rng): the noise of replica r at step k depends only on (seed_r, k), never on the batch.
"""
from __future__ import annotations

import math

import torch

from . import rng
from .numerics import l2_norm


def _check_sigma(sigma) -> float:
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


class Noise:
    """Additive zero-mean noise. ``sample(seeds, k, n, dtype)`` returns (R, n)."""

    name = "noise"
    light_tail = True

    def __init__(self, sigma: float):
        self.sigma = _check_sigma(sigma)

    def sample(self, seeds, k, n, dtype):  # pragma: no cover - abstract
        raise NotImplementedError

    def sigma_dual(self, setup) -> float:
        """σ valid in the dual norm of `setup` (ℓ∞ ≤ ℓ2, so an ℓ2 σ is valid for the entropic setup)."""
        return self.sigma

    def describe(self) -> dict:
        return {"noise": self.name, "sigma": self.sigma, "light_tail": self.light_tail}


class NoNoise(Noise):
    name = "none"

    def __init__(self, sigma: float = 0.0):
        super().__init__(0.0)

    def sample(self, seeds, k, n, dtype):
        return None


class SphereNoise(Noise):
    """Uniform on the ℓ2 sphere of radius σ (the paper's A.8 oracle): ‖δ‖₂ = σ exactly, so (c) and the light
    tail hold with equality."""

    name = "sphere"

    def sample(self, seeds, k, n, dtype):
        z = rng.normal(seeds, k, rng.STREAM_NOISE, n)
        z = z * (self.sigma / l2_norm(z, dim=-1, keepdim=True))
        return z.to(dtype)


class GaussianNoise(Noise):
    """N(0, σ²/n I): E‖δ‖₂² = σ². The light tail fails with this σ for every finite n
    (E exp(χ²_n/n) = (1 − 2/n)^(−n/2) > e); ``light_tail_sigma`` is the smallest σ' for which it holds."""

    name = "gaussian"
    light_tail = False

    def sample(self, seeds, k, n, dtype):
        return (rng.normal(seeds, k, rng.STREAM_NOISE, n) * (self.sigma / math.sqrt(n))).to(dtype)

    def light_tail_sigma(self, n: int) -> float:
        if n <= 2 or self.sigma == 0:
            return math.inf if self.sigma else 0.0
        # E exp(c χ²_n) = (1 − 2c)^(−n/2) with c = σ²/(n σ'²); solve (1 − 2c)^(−n/2) = e.
        c = (1.0 - math.exp(-2.0 / n)) / 2.0
        return self.sigma / math.sqrt(n * c)


class StudentTNoise(Noise):
    """i.i.d. Student-t coordinates (df degrees of freedom, integer ≥ 3) scaled so that E‖δ‖₂² = σ².
    Heavy-tailed on purpose: no exponential moment, so the light-tail assumption of Theorem 1(b) fails."""

    name = "student_t"
    light_tail = False

    def __init__(self, sigma: float, df: int = 3):
        super().__init__(sigma)
        if not (isinstance(df, int) and df >= 3):
            raise ValueError(f"df must be an integer >= 3 (finite variance), got {df!r}")
        self.df = df

    def sample(self, seeds, k, n, dtype):
        z = rng.normal(seeds, k, rng.STREAM_NOISE, n)
        chi2 = sum(rng.normal(seeds, k, rng.STREAM_NOISE_AUX + 8 * (i + 1), n) ** 2 for i in range(self.df))
        t = z / torch.sqrt(chi2 / self.df)
        scale = self.sigma / math.sqrt(n * self.df / (self.df - 2))
        return (t * scale).to(dtype)

    def describe(self) -> dict:
        return {**super().describe(), "df": self.df}


class SpikeNoise(Noise):
    """Rare large kicks: with probability p, δ = (σ/√p) u with u uniform on the ℓ2 unit sphere, else δ = 0.
    E‖δ‖₂² = σ², but E exp(‖δ‖²/σ²) = 1 − p + p e^{1/p} ≫ e for small p: heavy-tailed in the sense of the
    light-tail assumption, and used as its negative control."""

    name = "spike"
    light_tail = False

    def __init__(self, sigma: float, p: float = 0.01):
        super().__init__(sigma)
        if not (isinstance(p, (int, float)) and 0 < p <= 1):
            raise ValueError(f"p (spike probability) must be in (0, 1], got {p!r}")
        self.p = float(p)

    def sample(self, seeds, k, n, dtype):
        z = rng.normal(seeds, k, rng.STREAM_NOISE, n)
        z = z / l2_norm(z, dim=-1, keepdim=True)
        hit = rng.uniform(seeds, k, rng.STREAM_NOISE_AUX, 1) < self.p
        return (z * hit * (self.sigma / math.sqrt(self.p))).to(dtype)

    def describe(self) -> dict:
        return {**super().describe(), "p": self.p}


NOISES = {"none": NoNoise, "spike": SpikeNoise, "sphere": SphereNoise, "gaussian": GaussianNoise, "student_t": StudentTNoise}


class Oracle:
    """g(x) = ∇f(x) + δ for additive noise, or a minibatch gradient (``batch`` rows drawn uniformly with
    replacement) when ``batch`` is given."""

    def __init__(self, problem, noise: Noise | None = None, batch: int | None = None):
        self.problem = problem
        self.noise = noise or NoNoise()
        self.batch = batch
        if batch is not None:
            if not (isinstance(batch, int) and batch >= 1):
                raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
            if getattr(problem, "n_rows", None) is None:
                raise ValueError(f"problem {problem.name!r} is not a finite sum: the minibatch oracle needs one")
            if self.noise.sigma:
                raise ValueError("choose either additive noise or a minibatch oracle, not both")

    @property
    def sigma(self) -> float:
        """σ in the dual norm of the problem's setup (for the minibatch oracle, as declared by the problem)."""
        if self.batch is not None:
            return float(self.problem.minibatch_sigma(self.batch))
        return self.noise.sigma_dual(self.problem.setup)

    @property
    def light_tail(self) -> bool:
        if self.batch is not None:
            return False  # bounded per sample but not declared; treat as not certified
        return bool(self.noise.light_tail or self.noise.sigma == 0)

    def __call__(self, X: torch.Tensor, seeds: torch.Tensor, k: int) -> torch.Tensor:
        if self.batch is not None:
            idx = rng.integers(seeds, k, rng.STREAM_MINIBATCH, self.problem.n_rows, self.batch)
            return self.problem.f_grad_rows(X, idx)
        g = self.problem.grad(X)
        d = self.noise.sample(seeds, k, X.shape[-1], X.dtype)
        return g if d is None else g + d

    def describe(self) -> dict:
        d = self.noise.describe() if self.batch is None else {"noise": "minibatch", "batch": self.batch}
        return {**d, "sigma": self.sigma, "light_tail": self.light_tail}
