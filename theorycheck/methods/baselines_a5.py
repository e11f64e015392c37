"""The momentum baselines of [ZJDC] App. A.5, batched on (R, n) tensors.

Classical momentum (CM-SGD, heavy ball in PyTorch's convention; ``torch.optim.SGD(momentum=β)``)::

    v <- β v + g ;  x <- x - lr * v                                   (v_0 = 0)

QHM (Ma & Yarats 2019; quasi-hyperbolic momentum, the EMA buffer form)::

    b <- β b + (1 - β) g ;  x <- x - lr * ((1 - ν) g + ν b)           (b_0 = 0)

ν = 0 is SGD; ν = 1 is CM with learning rate lr(1 - β) (because b = (1 - β) v). Recommended (App. A.5):
lr = 1.0, β = 0.999, ν = 0.7.

AggMo (Lucas et al. 2019; K velocities, note the sign convention v <- β v - g)::

    v_i <- β_i v_i - g   (i = 1..K) ;  x <- x + (lr / K) Σ_i v_i       (v_i,0 = 0)

With K = 1 this is CM (v_AggMo = -v_CM). The recommended "exponential" betas are β_i = 1 - a^(i-1), i = 1..K
(:func:`aggmo_betas`; App. A.5 used a = 0.1 and K = 2).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from ._common import check_real, col


class CMState(NamedTuple):
    x: torch.Tensor  # (R, n) iterate (the gradient point)
    v: torch.Tensor  # (R, n) momentum buffer


def cm_init(x0: torch.Tensor) -> CMState:
    return CMState(x0.clone(), torch.zeros_like(x0))


def cm_step(state: CMState, g: torch.Tensor, lr, beta) -> CMState:
    """v <- β v + g ; x <- x - lr v."""
    check_real("lr", lr, lo=0, lo_open=True)
    check_real("beta", beta, 0.0, 1.0, hi_open=True)
    v = col(beta, g) * state.v + g
    return CMState(state.x - col(lr, g) * v, v)


class QHMState(NamedTuple):
    x: torch.Tensor
    buf: torch.Tensor  # EMA of gradients


def qhm_init(x0: torch.Tensor) -> QHMState:
    return QHMState(x0.clone(), torch.zeros_like(x0))


def qhm_step(state: QHMState, g: torch.Tensor, lr, beta, nu) -> QHMState:
    """b <- β b + (1-β) g ; x <- x - lr ((1-ν) g + ν b)."""
    check_real("lr", lr, lo=0, lo_open=True)
    check_real("beta", beta, 0.0, 1.0, hi_open=True)
    check_real("nu", nu)
    b, nu_ = col(beta, g), col(nu, g)
    buf = b * state.buf + (1 - b) * g
    return QHMState(state.x - col(lr, g) * ((1 - nu_) * g + nu_ * buf), buf)


class AggMoState(NamedTuple):
    x: torch.Tensor
    v: torch.Tensor  # (K, R, n) velocities


def aggmo_init(x0: torch.Tensor, K: int) -> AggMoState:
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K (number of velocities) must be an integer >= 1, got {K!r}")
    return AggMoState(x0.clone(), torch.zeros((K,) + tuple(x0.shape), dtype=x0.dtype, device=x0.device))


def aggmo_step(state: AggMoState, g: torch.Tensor, lr, betas: Sequence[float]) -> AggMoState:
    """v_i <- β_i v_i - g ; x <- x + (lr/K) Σ_i v_i."""
    K = state.v.shape[0]
    if len(betas) != K:
        raise ValueError(f"betas must have one entry per velocity (K={K}), got {len(betas)}")
    check_real("lr", lr, lo=0, lo_open=True)
    for b in betas:
        check_real("betas[i]", b, 0.0, 1.0, hi_open=True)
    bt = torch.tensor([float(b) for b in betas], dtype=g.dtype, device=g.device).reshape(K, *([1] * g.dim()))
    v = bt * state.v - g
    return AggMoState(state.x + (col(lr, g) / K) * v.sum(0), v)


def aggmo_betas(K: int, a: float = 0.1) -> list[float]:
    """Exponential AggMo betas β_i = 1 - a^(i-1), i = 1..K (β_1 = 0: one velocity is plain SGD)."""
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K!r}")
    check_real("a", a, 0.0, 1.0, lo_open=True, hi_open=True)
    return [1.0 - a ** i for i in range(K)]
