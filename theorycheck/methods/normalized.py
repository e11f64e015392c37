"""Normalized SGD with momentum, NIGT and the adaptive Algorithm 2 of Cutkosky & Mehta 2020 (THEORY §6).

All norms are ℓ2, rows are replicas. ``normalize(m) = m / ||m||`` with 0/0 := 0.

Normalized SGD with momentum, eqs. (2)–(3), with m_1 = g_1 as in Theorem 1::

    m_t = β m_{t-1} + (1 - β) ∇f(w_t, ξ_t)   (t >= 2; m_1 = ∇f(w_1, ξ_1)) ;  w_{t+1} = w_t - η m_t/||m_t||

NIGT (Algorithm 1; x_1 = w_1, the gradient is taken at x_t)::

    x_t = w_t + β/(1-β) (w_t - w_{t-1}) ;  m_t = β m_{t-1} + (1-β) ∇f(x_t, ξ_t) ;  w_{t+1} = w_t - η m_t/||m_t||

Theorem 1 (A1–A3, R >= F(w_1)): α = min{sqrt(RL)/(σ sqrt T), 1}, η = sqrt(Rα/(TL)), β = 1 - α and
    (1/T) Σ_t E||∇F(w_t)|| <= 29 sqrt(RL)/sqrt(T) + 21 sqrt(σ)(RL)^{1/4}/T^{1/4} + 8 σ²/sqrt(RLT)
(the OCR's "21 σ" and "8σ" corrected to sqrt(σ) and σ², THEORY §9 #14).
Theorem 3 (A1–A4): η = min{R^{5/7}/(T^{5/7} ρ^{1/7} σ^{4/7}), sqrt(R/(TL))},
α = min{R^{4/7}ρ^{2/7}/(T^{4/7}σ^{6/7}), 1}:
    (1/T) Σ_t E||∇F(w_t)|| <= 5 sqrt(RL)/sqrt(T) + 27 R^{2/7}ρ^{1/7}σ^{4/7}/T^{2/7} + 8 σ^{13/7}/(R^{4/7}ρ^{2/7}T^{3/7})
(intermediate bound (4) uses 1 - (1-α)^T, THEORY §9 #15). The average runs over the T points w_1..w_T at which
gradients were queried (w_{T+1} is not counted).
Lemma 2 (any direction ĝ_t, ε̂_t = ĝ_t - ∇F(w_t)): F(w_{t+1}) - F(w_t) <= -η/3 ||∇F(w_t)|| + 8η/3 ||ε̂_t|| + Lη²/2,
checked pathwise by :func:`lemma2_sides` (for both methods ĝ_t = m_t).

Algorithm 2 (adaptive; two independent gradients per point, ||∇f|| <= g a.s.): the constant C "depends only on g"
and its printed value ("C = 26g76/7") is **not recoverable** from the OCR, so C is a required parameter. D = C^(-14/3),
η_0 = C/D^(2/7) (as printed), and G_0 := D by default (the reading that makes α_1 = 1, i.e. m_1 = ∇f(x_1, ξ_1), as
in Theorems 1 and 3; then α_t = t^(-1/7)/(C² G_{t-1}^{3/7}) <= 1). ``G0=3g²+D`` gives the other reading
(α_1 = D/(3g²+D)). Per step t = 1..T::

    η_t = C / (G_t² (t+1)³)^{1/7} ;  α_t = 1/(t η_{t-1}² G_{t-1}) ;  β_t = 1 - α_t
    x_t = w_t + β_t/(1-β_t) (w_t - w_{t-1}) ;  m_t = β_t m_{t-1} + α_t ∇f(x_t, ξ_t)
    G_{t+1} = G_t + ||∇f(x_t, ξ_t) - ∇f(x_t, ξ'_t)||² + g² ((t+1)^{1/4} - t^{1/4}) ;  w_{t+1} = w_t - η_t m_t/||m_t||
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from .. import rng
from ..geometry import euclidean
from ..problems.base import Constants, Problem
from ._common import check_real, col, row_normalize


# ---------------------------------------------------------------------------------------------------
# normalized SGD with momentum (eqs. 2-3) and NIGT (Algorithm 1)
# ---------------------------------------------------------------------------------------------------
class NSGDMState(NamedTuple):
    w: torch.Tensor  # (R, n) w_t
    m: torch.Tensor  # (R, n) m_{t-1}
    t: int  # steps done (the next step is t + 1)


def nsgdm_init(w1: torch.Tensor) -> NSGDMState:
    return NSGDMState(w1.clone(), torch.zeros_like(w1), 0)


def _momentum(state_m, g, beta, t):
    if t == 0:
        return g.clone()  # m_1 = ∇f(w_1, ξ_1)
    b = col(beta, g)
    return b * state_m + (1 - b) * g


def nsgdm_step(state: NSGDMState, g: torch.Tensor, eta, beta) -> NSGDMState:
    """g = ∇f(w_t, ξ_t). Returns the state holding w_{t+1} and m_t."""
    check_real("eta", eta, lo=0, lo_open=True)
    check_real("beta", beta, 0.0, 1.0, hi_open=True)
    m = _momentum(state.m, g, beta, state.t)
    return NSGDMState(state.w - col(eta, g) * row_normalize(m), m, state.t + 1)


class NIGTState(NamedTuple):
    w: torch.Tensor  # w_t
    w_prev: torch.Tensor  # w_{t-1} (w_0 := w_1)
    m: torch.Tensor  # m_{t-1}
    t: int


def nigt_init(w1: torch.Tensor) -> NIGTState:
    return NIGTState(w1.clone(), w1.clone(), torch.zeros_like(w1), 0)


def nigt_query(state: NIGTState, beta) -> torch.Tensor:
    """The gradient point x_t = w_t + β/(1-β) (w_t - w_{t-1}) (x_1 = w_1)."""
    check_real("beta", beta, 0.0, 1.0, hi_open=True)
    if state.t == 0:
        return state.w.clone()
    b = col(beta, state.w)
    return state.w + (b / (1 - b)) * (state.w - state.w_prev)


def nigt_step(state: NIGTState, g: torch.Tensor, eta, beta) -> NIGTState:
    """g = ∇f(x_t, ξ_t) with x_t = nigt_query(state, beta)."""
    check_real("eta", eta, lo=0, lo_open=True)
    check_real("beta", beta, 0.0, 1.0, hi_open=True)
    m = _momentum(state.m, g, beta, state.t)
    return NIGTState(state.w - col(eta, g) * row_normalize(m), state.w, m, state.t + 1)


# ---------------------------------------------------------------------------------------------------
# Theorem 1 / Theorem 3 parameters and bounds, Lemma 2
# ---------------------------------------------------------------------------------------------------
def _check_consts(R, L, sigma, T, rho=None):
    check_real("R", R, lo=0, lo_open=True)
    check_real("L", L, lo=0, lo_open=True)
    check_real("sigma", sigma, lo=0)
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    if rho is not None:
        check_real("rho", rho, lo=0, lo_open=True)


def thm1_params(R: float, L: float, sigma: float, T: int):
    """Theorem 1: (α, η) with α = min{sqrt(RL)/(σ sqrt T), 1}, η = sqrt(Rα/(TL)); β = 1 - α."""
    _check_consts(R, L, sigma, T)
    alpha = 1.0 if sigma == 0 else min(math.sqrt(R * L) / (sigma * math.sqrt(T)), 1.0)
    return alpha, math.sqrt(R * alpha / (T * L))


def thm1_bound(R: float, L: float, sigma: float, T: int) -> float:
    """29 sqrt(RL/T) + 21 sqrt(σ) (RL)^{1/4} / T^{1/4} + 8 σ² / sqrt(RLT)."""
    _check_consts(R, L, sigma, T)
    RL = R * L
    return 29 * math.sqrt(RL / T) + 21 * math.sqrt(sigma) * RL ** 0.25 / T ** 0.25 + 8 * sigma ** 2 / math.sqrt(RL * T)


def thm3_params(R: float, L: float, rho: float, sigma: float, T: int):
    """Theorem 3: (α, η); β = 1 - α. With σ = 0: α = 1 and η = sqrt(R/(TL))."""
    _check_consts(R, L, sigma, T, rho)
    if sigma == 0:
        return 1.0, math.sqrt(R / (T * L))
    eta = min(R ** (5 / 7) / (T ** (5 / 7) * rho ** (1 / 7) * sigma ** (4 / 7)), math.sqrt(R / (T * L)))
    alpha = min(R ** (4 / 7) * rho ** (2 / 7) / (T ** (4 / 7) * sigma ** (6 / 7)), 1.0)
    return alpha, eta


def thm3_bound(R: float, L: float, rho: float, sigma: float, T: int) -> float:
    """5 sqrt(RL/T) + 27 R^{2/7} ρ^{1/7} σ^{4/7} / T^{2/7} + 8 σ^{13/7} / (R^{4/7} ρ^{2/7} T^{3/7})."""
    _check_consts(R, L, sigma, T, rho)
    return (5 * math.sqrt(R * L / T) + 27 * R ** (2 / 7) * rho ** (1 / 7) * sigma ** (4 / 7) / T ** (2 / 7)
            + 8 * sigma ** (13 / 7) / (R ** (4 / 7) * rho ** (2 / 7) * T ** (3 / 7)))


def lemma2_sides(F_w, F_next, grad_norm, eps_hat_norm, eta, L):
    """Lemma 2 at one step: (lhs, rhs) = (F(w_{t+1}) - F(w_t), -η/3 ||∇F(w_t)|| + 8η/3 ||ε̂_t|| + Lη²/2).
    Works on floats or (R,) tensors; the lemma says lhs <= rhs pathwise."""
    lhs = F_next - F_w
    rhs = -eta / 3 * grad_norm + 8 * eta / 3 * eps_hat_norm + L * eta ** 2 / 2
    return lhs, rhs


# ---------------------------------------------------------------------------------------------------
# Algorithm 2 (adaptive)
# ---------------------------------------------------------------------------------------------------
class AdaptiveState(NamedTuple):
    w: torch.Tensor  # w_t
    w_prev: torch.Tensor  # w_{t-1}
    m: torch.Tensor  # m_{t-1}
    G: torch.Tensor  # (R,) G_t
    G_prev: torch.Tensor  # (R,) G_{t-1}
    eta_prev: torch.Tensor  # (R,) η_{t-1}
    t: int  # the next step's index (starts at 1)
    C: float
    g_bound: float


def adaptive_init(w1: torch.Tensor, g_bound: float, C: float, G0: float | None = None) -> AdaptiveState:
    """w_0 = w_1, m_0 = 0, D = C^(-14/3), G_1 = 3g² + D, η_0 = C/D^(2/7), G_0 = D unless given."""
    check_real("g_bound", g_bound, lo=0, lo_open=True)
    check_real("C", C, lo=0, lo_open=True)
    D = C ** (-14 / 3)
    G0 = D if G0 is None else G0
    check_real("G0", G0, lo=0, lo_open=True)
    R = w1.shape[0]

    def full(v):
        return torch.full((R,), float(v), dtype=w1.dtype, device=w1.device)

    return AdaptiveState(w1.clone(), w1.clone(), torch.zeros_like(w1), full(3 * g_bound ** 2 + D), full(G0),
                         full(C / D ** (2 / 7)), 1, float(C), float(g_bound))


def adaptive_coefficients(state: AdaptiveState):
    """(η_t, α_t), each (R,)."""
    t = state.t
    eta = state.C / (state.G ** 2 * (t + 1) ** 3) ** (1 / 7)
    alpha = 1.0 / (t * state.eta_prev ** 2 * state.G_prev)
    return eta, alpha


def adaptive_query(state: AdaptiveState) -> torch.Tensor:
    """x_t = w_t + (1-α_t)/α_t (w_t - w_{t-1})."""
    _, alpha = adaptive_coefficients(state)
    a = alpha[:, None]
    return state.w + ((1 - a) / a) * (state.w - state.w_prev)


def adaptive_step(state: AdaptiveState, g: torch.Tensor, g2: torch.Tensor) -> AdaptiveState:
    """g, g2: two independent stochastic gradients at x_t = adaptive_query(state)."""
    t = state.t
    eta, alpha = adaptive_coefficients(state)
    a = alpha[:, None]
    m = (1 - a) * state.m + a * g
    G_next = state.G + ((g - g2) ** 2).sum(-1) + state.g_bound ** 2 * ((t + 1) ** 0.25 - t ** 0.25)
    w_next = state.w - eta[:, None] * row_normalize(m)
    return AdaptiveState(w_next, state.w, m, G_next, state.G, eta, t + 1, state.C, state.g_bound)


# ---------------------------------------------------------------------------------------------------
# a smooth non-convex test problem with known L, ρ and σ
# ---------------------------------------------------------------------------------------------------
PHI1_SUP = 1 / math.sqrt(2)  # sup |φ'|, at r = sqrt(2)
PHI2_SUP = 1.0  # sup |φ''|, at r = 0
_R3 = math.sqrt(6 - 4 * math.sqrt(2))
PHI3_SUP = 4 * _R3 * (6 - _R3 ** 2) / (2 + _R3 ** 2) ** 3  # sup |φ'''| ≈ 1.0306, at r² = 6 - 4 sqrt(2)


class RobustRegression(Problem):
    r"""F(w) = (1/N) Σ_i φ(a_iᵀw - b_i) with the Cauchy-type loss φ(r) = log(1 + r²/2) (F >= 0, non-convex).

    Derivatives: φ'(r) = 2r/(2+r²), φ''(r) = (4-2r²)/(2+r²)², φ'''(r) = 4r(r²-6)/(2+r²)³, so
    sup|φ'| = 1/sqrt 2 (r = sqrt 2), sup|φ''| = 1 (r = 0) and sup|φ'''| = φ'''-extremum at r² = 6 - 4 sqrt 2
    (≈ 1.0306; the roots of r⁴ - 12r² + 4 = 0).

    * L: ∇²F(w) = (1/N) Σ φ''(r_i) a_i a_iᵀ and each a_i a_iᵀ ⪰ 0, so -s AᵀA/N ⪯ ∇²F ⪯ s AᵀA/N with
      s = sup|φ''|: **L = sup|φ''| λ_max(AᵀA)/N**.
    * ρ: ∇²F(w) - ∇²F(v) = (1/N) Σ c_i a_i a_iᵀ with |c_i| = |φ''(r_i(w)) - φ''(r_i(v))| <= sup|φ'''| ||a_i|| ||w-v||.
      The same sandwich gives sup|φ'''| max_i||a_i|| λ_max(AᵀA)/N, the triangle inequality gives
      sup|φ'''| (1/N) Σ ||a_i||³: **ρ = sup|φ'''| min{max_i||a_i|| λ_max(AᵀA)/N, mean_i ||a_i||³}**.
    * sup_w ||∇F(w)|| <= sup|φ'| mean_i ||a_i|| (used for the a.s. bound g of Algorithm 2 with sphere noise).

    Oracle (:meth:`stochastic_grad`): ∇F(x) + θ with θ = σ ξ/sqrt(n), ξ ~ N(0, I) ("gaussian", E||θ||² = σ²),
    or θ uniform on the sphere of radius σ ("sphere", ||θ|| = σ a.s.), from the counter-based RNG, so a replica's
    noise is a function of (seed, step, stream) only.
    """

    def __init__(self, A, b, x0=None, name="robust_regression", device=None):
        super().__init__()
        A = torch.as_tensor(A if torch.is_tensor(A) else np.asarray(A), dtype=torch.float64, device=device)
        b = torch.as_tensor(b if torch.is_tensor(b) else np.asarray(b), dtype=torch.float64, device=device).reshape(-1)
        if A.dim() != 2 or A.shape[0] != b.shape[0]:
            raise ValueError(f"A must be (N, n) with N = len(b), got A {tuple(A.shape)} and b {tuple(b.shape)}")
        self.name, self.A, self.b = name, A, b
        N, n = A.shape
        self.setup = euclidean()
        self.x0 = torch.zeros(n, dtype=torch.float64, device=device) if x0 is None else \
            torch.as_tensor(x0, dtype=torch.float64, device=device).clone()
        if self.x0.shape != (n,):
            raise ValueError(f"x0 must have shape ({n},), got {tuple(self.x0.shape)}")
        lam = float(torch.linalg.eigvalsh(A.T @ A / N)[-1])
        norms = torch.linalg.vector_norm(A, dim=1)
        self.rho = PHI3_SUP * min(float(norms.max()) * lam, float((norms ** 3).mean()))
        self.grad_sup = PHI1_SUP * float(norms.mean())
        self.constants = Constants(L=PHI2_SUP * lam, M=0.0, F_ref=math.nan,
                                   F_ref_method="unknown; only F >= 0 (A2) is used", attained=False,
                                   notes={"rho": self.rho, "grad_sup": self.grad_sup})

    @classmethod
    def random(cls, N=200, n=10, outlier_frac=0.1, w_scale=1.0, seed=0, device=None):
        """Gaussian rows scaled to unit norm, b = A w_true + 0.1 N(0, 1) with w_true ~ w_scale N(0, I), and a
        fraction of gross outliers (+10 N(0, 1)); x0 = 0."""
        rs = np.random.default_rng(seed)
        A = rs.standard_normal((N, n))
        A /= np.linalg.norm(A, axis=1, keepdims=True)
        w_true = rs.standard_normal(n) * w_scale
        b = A @ w_true + 0.1 * rs.standard_normal(N)
        out = rs.random(N) < outlier_frac
        b[out] += 10.0 * rs.standard_normal(int(out.sum()))
        return cls(A, b, device=device)

    @property
    def L(self) -> float:
        return self.constants.L

    def _r(self, X):
        return X @ self.A.T.to(X.dtype) - self.b.to(X.dtype)

    def f_value(self, X):
        r = self._r(X)
        return torch.log1p(0.5 * r * r).mean(-1)

    def f_grad(self, X):
        r = self._r(X)
        return (2 * r / (2 + r * r)) @ self.A.to(X.dtype) / self.A.shape[0]

    def hessian(self, x):
        """∇²F(x) for one point x (n,) (for checking L and ρ)."""
        r = self.A @ x - self.b
        w = (4 - 2 * r * r) / (2 + r * r) ** 2
        return (self.A.T * w) @ self.A / self.A.shape[0]

    def noise(self, seeds, step, sigma, kind="gaussian", stream=rng.STREAM_NOISE):
        """(R, n) noise θ with E||θ||² = σ² (gaussian) or ||θ|| = σ (sphere)."""
        z = rng.normal(rng.as_seeds(seeds, self.A.device), step, stream, self.n)
        if kind == "gaussian":
            return z * (sigma / math.sqrt(self.n))
        if kind == "sphere":
            return sigma * row_normalize(z)
        raise ValueError(f"kind must be 'gaussian' or 'sphere', got {kind!r}")

    def stochastic_grad(self, X, seeds, step, sigma, kind="gaussian", stream=rng.STREAM_NOISE):
        return self.f_grad(X) + self.noise(seeds, step, sigma, kind, stream)


class _Lemma2Recorder:
    """run.py monitor recording, before each step t, ||∇F(w_t)||, F(w_t), F(w_{t+1}), ||m_t − ∇F(w_t)|| and the
    Lemma 2 slack (w_{t+1} and m_t from the algorithm's pure step function)."""

    def __init__(self, problem, eta, L):
        self.problem, self.eta, self.L = problem, eta, L
        self.rec = {k: [] for k in ("grad_norm", "F", "F_next", "eps_hat", "slack")}

    def __call__(self, algorithm, state, x, g, k):
        p = self.problem
        w = state["w"]
        nxt = algorithm.step(state, g, k)
        gF = p.f_grad(w)
        Fw, Fn = p.f_value(w), p.f_value(nxt["w"])
        gn = torch.linalg.vector_norm(gF, dim=-1)
        en = torch.linalg.vector_norm(nxt["m"] - gF, dim=-1)
        lhs, rhs = lemma2_sides(Fw, Fn, gn, en, self.eta, self.L)
        for key, v in (("grad_norm", gn), ("F", Fw), ("F_next", Fn), ("eps_hat", en), ("slack", rhs - lhs)):
            self.rec[key].append(v)


def run_normalized(problem: RobustRegression, seeds, T: int, sigma: float, method: str = "nsgdm", eta=None,
                   alpha=None, noise: str = "gaussian"):
    """Run normalized SGD-M ("nsgdm", Thm 1 parameters by default) or NIGT ("nigt", Thm 3 parameters) for T
    steps from problem.x0 on R = len(seeds) replicas, through the common engine (:func:`theorycheck.run.run` with
    the algorithms :class:`theorycheck.algorithms.momentum.NormalizedSGDM` / ``NIGT`` and the oracle
    ∇F + θ of :mod:`theorycheck.oracles`). Returns a dict of (T, R) float64 tensors: ``grad_norm`` ||∇F(w_t)||,
    ``F`` F(w_t), ``F_next`` F(w_{t+1}), ``eps_hat`` ||m_t - ∇F(w_t)||, plus ``eta``, ``alpha``, ``R`` (= F(w_1))
    and the per-step Lemma 2 ``slack`` = rhs - lhs."""
    from ..algorithms.momentum import NIGT, NormalizedSGDM
    from ..oracles import GaussianNoise, Oracle, SphereNoise
    from ..run import run
    from ..theorems._cm import FixedStep

    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    Rv = float(problem.value(problem.x0[None])[0])
    L = problem.L
    if method == "nsgdm":
        a0, e0 = thm1_params(Rv, L, sigma, T)
    elif method == "nigt":
        a0, e0 = thm3_params(Rv, L, problem.rho, sigma, T)
    else:
        raise ValueError(f"method must be 'nsgdm' or 'nigt', got {method!r}")
    if noise not in ("gaussian", "sphere"):
        raise ValueError(f"kind must be 'gaussian' or 'sphere', got {noise!r}")
    eta = e0 if eta is None else eta
    alpha = a0 if alpha is None else alpha
    check_real("eta", eta, lo=0, lo_open=True)
    check_real("alpha", alpha, 0.0, 1.0, lo_open=True)
    alg = (NormalizedSGDM if method == "nsgdm" else NIGT)(problem.setup, FixedStep(eta, 1.0 - alpha, method))
    oracle = Oracle(problem, (GaussianNoise if noise == "gaussian" else SphereNoise)(sigma))
    rec = _Lemma2Recorder(problem, eta, L)
    run(problem, oracle, alg, T, seeds, options=("w_t",), checkpoints=[T], monitor=rec, progress=False)
    out = {k: torch.stack(v) for k, v in rec.rec.items()}
    out.update(eta=eta, alpha=alpha, R=Rv)
    return out
