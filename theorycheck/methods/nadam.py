"""NAdam, Dozat 2016, Algorithm 8 with the μ_t schedule (THEORY §8), batched on (R, n) tensors.

For t = 1, 2, ... with m_0 = n_0 = 0 and μ_t = μ (1 - ½ · 0.96^(t ψ)) (Dozat: μ = 0.99, ψ = 1/250)::

    ĝ_t = g_t / (1 - Π_{i<=t} μ_i)
    m_t = μ m_{t-1} + (1 - μ) g_t ;        m̂_t = m_t / (1 - Π_{i<=t+1} μ_i)
    n_t = ν n_{t-1} + (1 - ν) g_t² ;       n̂_t = n_t / (1 - ν^t)
    m̄_t = (1 - μ_t) ĝ_t + μ_{t+1} m̂_t
    θ_t = θ_{t-1} - η m̄_t / (sqrt(n̂_t) + ε)        eps_inside=False (Dozat's eq. (3), torch.optim.NAdam)
    θ_t = θ_{t-1} - η m̄_t / sqrt(n̂_t + ε)          eps_inside=True  (Algorithm 8 as printed)

With μ = β1, ν = β2, ψ = momentum_decay, η = lr and no weight decay, eps_inside=False is
``torch.optim.NAdam`` (checked to 1e-12 in float64; torch keeps Π μ_i in a scalar of the default dtype, so with
the float32 default the two differ by ~1e-10 even for float64 parameters). The printed placement replaces
sqrt(n̂) + ε by sqrt(n̂ + ε) ≈ sqrt(n̂) + ε/(2 sqrt(n̂)): a different, state-dependent ε (larger where n̂ < 1/4,
about sqrt(ε) as n̂ -> 0). On the test quadratic (300 steps, η = 1e-2) the trajectories differ from torch's by
1.1e-8, 1.1e-6 and 1.1e-3 (max abs) for ε = 1e-8, 1e-6 and 1e-3.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._common import check_real


class NAdamState(NamedTuple):
    x: torch.Tensor  # (R, n) θ
    m: torch.Tensor  # first moment
    n: torch.Tensor  # second moment
    mu_prod: float  # Π_{i<=t} μ_i (float64 on the host)
    t: int  # steps done


def mu_schedule(t: int, mu: float, psi: float = 0.004) -> float:
    """μ_t = μ (1 - ½ · 0.96^(t ψ))."""
    return mu * (1.0 - 0.5 * 0.96 ** (t * psi))


def nadam_init(x0: torch.Tensor) -> NAdamState:
    return NAdamState(x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0), 1.0, 0)


def nadam_step(state: NAdamState, g: torch.Tensor, t: int, lr: float, mu: float = 0.99, nu: float = 0.999,
               eps: float = 1e-8, psi: float = 0.004, eps_inside: bool = False) -> NAdamState:
    """One step of Algorithm 8 at iteration t (must be state.t + 1; t starts at 1).

    Complex iterates are treated as pairs of reals, as ``torch.optim.NAdam`` does: the step runs on
    ``torch.view_as_real`` of x, g and the moments (so n holds Re(g)² and Im(g)² separately, not g²). x and g
    must be both complex or both real (ValueError otherwise)."""
    if state.x.is_complex() or g.is_complex():
        if not (state.x.is_complex() and g.is_complex() and state.m.is_complex() and state.n.is_complex()):
            raise ValueError("nadam_step: x, g and the moments must be all complex or all real, got "
                             f"x {state.x.dtype}, g {g.dtype}")
        vr = torch.view_as_real
        out = nadam_step(NAdamState(vr(state.x), vr(state.m), vr(state.n), state.mu_prod, state.t), vr(g), t, lr,
                         mu, nu, eps, psi, eps_inside)
        vc = torch.view_as_complex
        return NAdamState(vc(out.x.contiguous()), vc(out.m.contiguous()), vc(out.n.contiguous()), out.mu_prod,
                          out.t)
    if t != state.t + 1:
        raise ValueError(f"t must be the next iteration number {state.t + 1} (t starts at 1), got {t!r}")
    check_real("lr", lr, lo=0, lo_open=True)
    check_real("mu", mu, 0.0, 1.0, hi_open=True)
    check_real("nu", nu, 0.0, 1.0, hi_open=True)
    check_real("eps", eps, lo=0)
    check_real("psi", psi, lo=0)
    mu_t, mu_next = mu_schedule(t, mu, psi), mu_schedule(t + 1, mu, psi)
    prod_t = state.mu_prod * mu_t
    prod_next = prod_t * mu_next
    m = mu * state.m + (1 - mu) * g
    n = nu * state.n + (1 - nu) * g * g
    g_hat = g / (1 - prod_t)
    m_hat = m / (1 - prod_next)
    n_hat = n / (1 - nu ** t)
    m_bar = (1 - mu_t) * g_hat + mu_next * m_hat
    denom = torch.sqrt(n_hat + eps) if eps_inside else torch.sqrt(n_hat) + eps
    return NAdamState(state.x - lr * m_bar / denom, m, n, prod_t, t)
