"""SGD+M (heavy ball) ⇔ stochastic primal averaging (SPA), Defazio 2020 (THEORY §7).

SGD+M, form (1) (PyTorch's heavy ball; the same update as :func:`baselines_a5.cm_step`)::

    m_{k+1} = β_k m_k + g_k ;  x_{k+1} = x_k - α_k m_{k+1}                  (m_0 = 0)

SPA::

    z_{k+1} = z_k - η_k g_k ;  x_{k+1} = (1 - c_{k+1}) x_k + c_{k+1} z_{k+1}   (z_0 = x_0)

Schedules are 1-D float64 numpy arrays of length K indexed by the step k that uses them: ``eta[k] = η_k``,
``c[k] = c_{k+1}`` (the averaging weight applied at step k), ``alpha[k] = α_k``, ``beta[k] = β_k``.

Theorem 1 (forward map): the x-sequences coincide for the same x_0 and gradients iff
``α_k = η_k c_{k+1}`` and ``β_k = η_{k-1}(1 - c_k)/η_k`` (k >= 1; β_0 is irrelevant because m_0 = 0).
Converse, with a free η_0 > 0: ``η_k = (η_{k-1} - α_{k-1})/β_k``, ``c_{k+1} = α_k/η_k``.
Constant parameters: η = α/(1-β), c = 1-β (App. G: SGD+M (0.1, 0.9) is SPA (1.0, 0.1)).

Fig. 1 (c)/(e): a sudden 10× drop of η at step k0 makes β_{k0} = 10(1 - c) for one step. A gradual change —
η divided and c multiplied by factor^(1/N) per step over N steps, c capped at 1 — keeps every
β_k <= factor^(1/N) (1 - c) (:func:`gradual_spa_schedule`; :func:`min_gradual_steps` gives the smallest N with
β_k < 1, a criterion chosen here: Defazio's inequality (6) is not legible in the OCR, THEORY §9 #18).
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np
import torch

from ._common import check_real, col
from .baselines_a5 import CMState, cm_init

SGDMState = CMState
sgdm_init = cm_init


def sgdm_step(state: SGDMState, g: torch.Tensor, alpha, beta) -> SGDMState:
    """Heavy ball: m <- β m + g ; x <- x - α m (β may be >= 1 here: mapped SPA schedules spike)."""
    check_real("alpha", alpha, lo=0, lo_open=True)
    check_real("beta", beta, lo=0)
    m = col(beta, g) * state.v + g
    return SGDMState(state.x - col(alpha, g) * m, m)


class SPAState(NamedTuple):
    x: torch.Tensor  # (R, n) the averaged iterate (gradient point)
    z: torch.Tensor  # (R, n) the SGD sequence


def spa_init(x0: torch.Tensor) -> SPAState:
    return SPAState(x0.clone(), x0.clone())


def spa_step(state: SPAState, g: torch.Tensor, eta, c_next) -> SPAState:
    """z <- z - η g ; x <- (1 - c) x + c z with c = c_{k+1} in (0, 1]."""
    check_real("eta", eta, lo=0, lo_open=True)
    check_real("c", c_next, 0.0, 1.0, lo_open=True)
    z = state.z - col(eta, g) * g
    c = col(c_next, g)
    return SPAState((1 - c) * state.x + c * z, z)


# ---------------------------------------------------------------------------------------------------
# parameter maps
# ---------------------------------------------------------------------------------------------------
def _arr(name, v):
    a = np.asarray(v, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers, got shape {a.shape}")
    return a


def spa_to_sgdm(eta, c, beta0: float = 0.0):
    """Forward map (Theorem 1): (η_k, c_{k+1}) -> (α_k, β_k); β_0 := beta0 (irrelevant, m_0 = 0)."""
    eta, c = _arr("eta", eta), _arr("c", c)
    if eta.shape != c.shape:
        raise ValueError(f"eta and c must have the same length, got {eta.size} and {c.size}")
    if np.any(eta <= 0):
        raise ValueError("eta must be > 0 at every step")
    if np.any((c <= 0) | (c > 1)):
        raise ValueError("c must be in (0, 1] at every step")
    alpha = eta * c
    beta = np.empty_like(eta)
    beta[0] = beta0
    beta[1:] = eta[:-1] * (1.0 - c[:-1]) / eta[1:]
    return alpha, beta


def sgdm_to_spa(alpha, beta, eta0: float):
    """Converse map: (α_k, β_k) and a free η_0 > 0 -> (η_k, c_{k+1}); needs β_k != 0 for k >= 1 and yields
    a valid SPA schedule only if every η_k > 0 and c_{k+1} in (0, 1] (ValueError otherwise)."""
    alpha, beta = _arr("alpha", alpha), _arr("beta", beta)
    if alpha.shape != beta.shape:
        raise ValueError(f"alpha and beta must have the same length, got {alpha.size} and {beta.size}")
    check_real("eta0", eta0, lo=0, lo_open=True)
    if np.any(beta[1:] == 0):
        raise ValueError("beta_k must be != 0 for k >= 1 (the converse map divides by it)")
    eta = np.empty_like(alpha)
    eta[0] = eta0
    for k in range(1, alpha.size):
        eta[k] = (eta[k - 1] - alpha[k - 1]) / beta[k]
    c = alpha / eta
    if np.any(eta <= 0) or np.any((c <= 0) | (c > 1)):
        raise ValueError("this (alpha, beta, eta0) has no SPA form with eta > 0 and c in (0, 1]; "
                         "try a larger eta0")
    return eta, c


# ---------------------------------------------------------------------------------------------------
# schedules
# ---------------------------------------------------------------------------------------------------
def stagewise(K: int, k0: int, v0: float, factor: float) -> np.ndarray:
    """v0 for k < k0 and v0 * factor for k >= k0 (length K)."""
    _check_K(K, k0)
    v = np.full(K, float(v0))
    v[k0:] *= factor
    return v


def gradual(K: int, k0: int, v0: float, factor: float, steps: int, cap: float = math.inf) -> np.ndarray:
    """Geometric change from v0 to v0 * factor: multiplied by factor^(1/steps) at each of the steps
    k0, ..., k0+steps-1, then constant; values capped at ``cap``."""
    _check_K(K, k0)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    e = np.clip(np.arange(K) - k0 + 1, 0, steps)
    return np.minimum(float(v0) * float(factor) ** (e / steps), cap)


def sudden_spa_schedule(K, k0, eta0=1.0, c0=0.1, eta_factor=0.1, c_factor=1.0):
    """SPA stage-wise change at step k0: η -> η·eta_factor, c -> min(c·c_factor, 1). Returns (eta, c)."""
    return stagewise(K, k0, eta0, eta_factor), np.minimum(stagewise(K, k0, c0, c_factor), 1.0)


def gradual_spa_schedule(K, k0, eta0=1.0, c0=0.1, eta_factor=0.1, c_factor=10.0, steps=30):
    """The same change spread geometrically over ``steps`` steps (c capped at 1). Returns (eta, c)."""
    return gradual(K, k0, eta0, eta_factor, steps), gradual(K, k0, c0, c_factor, steps, cap=1.0)


def sudden_drop_mapping(K=100, k0=20, eta0=1.0, c=0.1, factor=10.0):
    """(α_k, β_k) of the SPA schedule whose η drops ``factor``× at k0 (c constant): β_{k0} = factor(1 - c)."""
    return spa_to_sgdm(*sudden_spa_schedule(K, k0, eta0, c, 1.0 / factor, 1.0))


def min_gradual_steps(factor: float, c0: float) -> int:
    """Smallest N with factor^(1/N) (1 - c0) < 1, i.e. every mapped β_k < 1 under :func:`gradual_spa_schedule`
    (the first step has the largest β since c only grows)."""
    check_real("factor", factor, lo=1, lo_open=True)
    check_real("c0", c0, 0.0, 1.0, lo_open=True)
    if c0 == 1.0:
        return 1
    N = max(1, math.floor(math.log(factor) / -math.log(1 - c0)))
    while factor ** (1 / N) * (1 - c0) >= 1:
        N += 1
    return N


def _check_K(K, k0):
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K!r}")
    if isinstance(k0, bool) or not isinstance(k0, int) or not 0 <= k0 <= K:
        raise ValueError(f"k0 must be an integer in [0, K={K}], got {k0!r}")


def defazio_cases(K: int = 100, k0: int = 20, eta0: float = 1.0, c0: float = 0.1, factor: float = 10.0,
                  steps: int = 30) -> dict:
    """The four SPA schedules of Fig. 1 (c)–(f), each mapped to SGD+M: name -> dict(eta, c, alpha, beta)."""
    cases = {
        "sudden eta drop": sudden_spa_schedule(K, k0, eta0, c0, 1 / factor, 1.0),
        "sudden c increase": sudden_spa_schedule(K, k0, eta0, c0, 1.0, factor),
        "both sudden": sudden_spa_schedule(K, k0, eta0, c0, 1 / factor, factor),
        "both gradual": gradual_spa_schedule(K, k0, eta0, c0, 1 / factor, factor, steps),
    }
    out = {}
    for name, (eta, c) in cases.items():
        alpha, beta = spa_to_sgdm(eta, c, beta0=1.0 - c[0])  # β_0 shown at its constant-schedule value
        out[name] = dict(eta=eta, c=c, alpha=alpha, beta=beta)
    return out


def figure_defazio(out_dir, K: int = 100, k0: int = 20, steps: int = 30) -> list:
    """Fig. 1 (c)–(f) analogue: α_k and β_k of SGD+M for four SPA schedules (η0 = 1, c0 = 0.1, 10× changes
    at step k0). Writes defazio_spa_to_sgdm.{png,pdf} into out_dir; returns the two paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    cases = defazio_cases(K, k0, steps=steps)
    fig = Figure(figsize=(3.2 * len(cases), 5.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(cases), sharex=True)
    k = np.arange(K)
    for j, (name, d) in enumerate(cases.items()):
        for i, key in enumerate(("alpha", "beta")):
            ax = axes[i, j]
            ax.plot(k, d[key], lw=1.6, color="C0" if key == "alpha" else "C3")
            ax.axvline(k0, color="0.6", lw=0.8, ls="--")
            if key == "alpha":
                ax.set_ylim(0, 1.15 * float(d[key].max()))
            else:
                ax.axhline(1.0, color="0.3", lw=0.6, ls=":")
                ax.set_xlabel("step k")
            ax.set_title(f"{name.replace('eta', 'η')}: {'α_k' if key == 'alpha' else 'β_k'}", fontsize=9)
            ax.grid(alpha=0.3)
    fig.suptitle("SPA schedules (η, c) mapped to SGD+M (α, β)  [Defazio 2020, Thm 1]", fontsize=10)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"defazio_spa_to_sgdm.{ext}") for ext in ("png", "pdf")]
    for p in paths:
        fig.savefig(p, dpi=130)
    return paths
