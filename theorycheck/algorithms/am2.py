"""AM2-SGD: Algorithm 3 (general prox) and Algorithm 4 (momentum form) (THEORY §3.5–3.6).

The index j_k ~ U[m] is drawn from the counter-based RNG (stream ``rng.STREAM_INDEX``), so both forms see the
same j sequence for the same seeds. The table φ has shape (R, m, n)."""
from __future__ import annotations

import torch

from .. import rng
from .base import Algorithm, check_m, require_constant, require_euclidean_unconstrained


def _index(seeds, k, m):
    return rng.integers(seeds, k, rng.STREAM_INDEX, m)[:, 0]


def _rows(phi, j):
    return phi[torch.arange(phi.shape[0], device=phi.device), j]


class AM2(Algorithm):
    """Algorithm 3: x_k = (1−β_k) z_k + β_k φ_{j_k}; z_{k+1} = Prox_{α_k h}(z_k, α_k g_k);
    φ_{j_k} ← (1−β_k) z_{k+1} + β_k φ_{j_k}. Option II: φ̄ = mean_j φ_j; Option I: the next query point."""

    name = "am2"
    options = ("I", "II")

    def __init__(self, setup, schedule, m: int):
        super().__init__(setup, schedule)
        self.m = check_m(m)

    def init(self, x0, seeds):
        return {"z": x0.clone(), "phi": x0[:, None, :].repeat(1, self.m, 1), "seeds": seeds}

    def scheme2(self, state, k):
        j = _index(state["seeds"], k, self.m)
        return state["z"], _rows(state["phi"], j), self.schedule.alpha(k), self.schedule.beta(k)

    def query(self, state, k):
        j = _index(state["seeds"], k, self.m)
        b = self.schedule.beta(k)
        return (1 - b) * state["z"] + b * _rows(state["phi"], j)

    def step(self, state, g, k):
        j = _index(state["seeds"], k, self.m)
        a, b = self.schedule.alpha(k), self.schedule.beta(k)
        z = self.setup.prox(state["z"], a * g, a)
        phi = state["phi"].clone()
        r = torch.arange(phi.shape[0], device=phi.device)
        phi[r, j] = (1 - b) * z + b * phi[r, j]
        return {**state, "z": z, "phi": phi}

    def output(self, state, option, k):
        return state["phi"].mean(1) if self.check_option(option) == "II" else self.query(state, k)


class AM2Momentum(Algorithm):
    """Algorithm 4 (constant η, β): φ_{j_k} ← x_k − η g_k; draw j_{k+1};
    x_{k+1} = φ_{j_k}^{new} + β(φ_{j_{k+1}} − φ_{j_k}^{old}); Option II keeps φ̄ incrementally."""

    name = "am2_momentum"
    options = ("I", "II")

    def __init__(self, setup, schedule, m: int):
        super().__init__(setup, schedule)
        require_euclidean_unconstrained(setup, "AM2-SGD Algorithm 4")
        require_constant(schedule, "AM2-SGD Algorithm 4")
        self.m = check_m(m)

    def init(self, x0, seeds):
        return {"x": x0.clone(), "phi": x0[:, None, :].repeat(1, self.m, 1), "phibar": x0.clone(), "seeds": seeds}

    def query(self, state, k):
        return state["x"]

    def step(self, state, g, k):
        eta, beta = self.schedule.eta(0), self.schedule.beta(0)
        seeds, phi = state["seeds"], state["phi"].clone()
        r = torch.arange(phi.shape[0], device=phi.device)
        j = _index(seeds, k, self.m)
        old = phi[r, j]
        new = state["x"] - eta * g
        phi[r, j] = new
        j1 = _index(seeds, k + 1, self.m)
        x = new + beta * (phi[r, j1] - old)
        phibar = state["phibar"] + (new - old) / self.m
        return {**state, "x": x, "phi": phi, "phibar": phibar}

    def output(self, state, option, k):
        return state["phibar"] if self.check_option(option) == "II" else state["x"]
