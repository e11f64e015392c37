"""Algorithm protocol: pure functions on a batched state (replicas first).

    state = alg.init(x0, seeds)          # x0: (R, n); seeds: (R,) int64
    x     = alg.query(state, k)          # where the oracle is called at iteration k
    state = alg.step(state, g, k)        # consume g = oracle(x) at iteration k
    out   = alg.output(state, option, k) # what is reported after k steps (Option I / II / ...)

Scheme-(2) algorithms (THEORY §3.1) also expose ``scheme2(state, k) -> (z, y, alpha, beta)``, the quantities
of Lemma 1 before step k, so the pathwise certificate can be evaluated for any of them.
"""
from __future__ import annotations

import torch


def check_m(m) -> int:
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    return m


def require_euclidean_unconstrained(setup, who: str):
    if setup.mirror.name != "euclidean" or setup.kind != "none":
        raise ValueError(f"{who} is the momentum form: it needs the Euclidean setup with h = 0, got {setup.name!r}; "
                         "use the general proximal form instead")


def require_constant(schedule, who: str):
    if not schedule.constant:
        raise ValueError(f"{who} needs a constant (eta, beta) schedule, got {type(schedule).__name__}")


class Algorithm:
    name = "algorithm"
    options: tuple = ("II",)
    default_option = "II"
    stride = 1  # outputs are defined at iterations that are multiples of this (AM1: m)
    needs_divisible_K = False

    def __init__(self, setup, schedule):
        self.setup = setup
        self.schedule = schedule

    def check_run(self, x0: torch.Tensor, seeds: torch.Tensor, K: int):
        if x0.ndim != 2:
            raise ValueError(f"x0 must have shape (R, n), got {tuple(x0.shape)}")
        if seeds.shape != (x0.shape[0],):
            raise ValueError(f"seeds must have shape ({x0.shape[0]},) to match x0, got {tuple(seeds.shape)}")
        if seeds.device != x0.device:
            raise ValueError(f"seeds are on {seeds.device} but x0 is on {x0.device}: put them on one device")
        if not (isinstance(K, int) and K >= 1):
            raise ValueError(f"K must be an integer >= 1, got {K!r}")
        if self.needs_divisible_K and K % self.stride:
            raise ValueError(f"K must be divisible by m={self.stride} for {self.name}, got K={K}")

    def check_option(self, option: str) -> str:
        if option not in self.options:
            raise ValueError(f"option must be one of {self.options} for {self.name}, got {option!r}")
        return option

    def describe(self) -> dict:
        return {"algorithm": self.name, "m": getattr(self, "m", 1), **self.schedule.describe()}

    # protocol ------------------------------------------------------------------------------------
    def init(self, x0, seeds):
        raise NotImplementedError

    def query(self, state, k):
        raise NotImplementedError

    def step(self, state, g, k):
        raise NotImplementedError

    def output(self, state, option, k):
        raise NotImplementedError
