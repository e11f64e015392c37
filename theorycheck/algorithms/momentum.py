"""The momentum methods of theorycheck.methods in the algorithm protocol of base.py, so they run through run.py
(batched seeds, checkpoints, divergence flags, devices, resumable raw results).

Each class wraps the pure step functions of :mod:`theorycheck.methods` (their states are NamedTuples; here the
state dict holds the NamedTuple under ``"s"`` plus the seeds, and the iterate under ``"w"``/``"x"`` for
monitors). Hyper-parameters come from the schedule (η or α, β) and from ``algorithm.params`` of a spec:

=========  ==========================================================  ======================================
name       update                                                      schedule / params
=========  ==========================================================  ======================================
nsgdm      normalized SGD + momentum (Cutkosky–Mehta eqs. (2)–(3))      η = schedule.eta, β = schedule.beta
nigt       NIGT (Cutkosky–Mehta Algorithm 1)                            η = schedule.eta, β = schedule.beta
cm         classical momentum v ← βv + g; x ← x − lr v                  lr = schedule.alpha, β
qhm        QHM (Ma & Yarats 2019)                                       lr = schedule.alpha, β; params.nu
aggmo      AggMo (Lucas et al. 2019)                                    lr = schedule.alpha; params.betas
nadam      NAdam (Dozat 2016, Algorithm 8)                              lr = schedule.alpha, μ = β; params nu,
                                                                        eps, psi
spa        stochastic primal averaging (Defazio; THEORY §7)             η = schedule.eta; params.c in (0, 1]
=========  ==========================================================  ======================================

Output option: ``w_t`` (nsgdm, nigt: the point w_t, not NIGT's extrapolated gradient point) or ``x`` (the
iterate the method reports).
"""
from __future__ import annotations

from ..methods import baselines_a5 as a5
from ..methods import nadam as _nadam
from ..methods import normalized as nz
from ..methods import spa as _spa
from .base import Algorithm


class NormalizedSGDM(Algorithm):
    """Normalized SGD with momentum: m_t = β m_{t−1} + (1−β) g_t (m_1 = g_1); w_{t+1} = w_t − η m_t/||m_t||."""

    name = "nsgdm"
    options = ("w_t",)
    default_option = "w_t"

    def init(self, x0, seeds):
        return {"w": x0.clone(), "m": x0.new_zeros(x0.shape), "seeds": seeds}

    def query(self, state, k):
        return state["w"]

    def step(self, state, g, k):
        s = nz.nsgdm_step(nz.NSGDMState(state["w"], state["m"], k), g, self.schedule.eta(k), self.schedule.beta(k))
        return {**state, "w": s.w, "m": s.m}

    def output(self, state, option, k):
        self.check_option(option)
        return state["w"]


class NIGT(Algorithm):
    """NIGT: x_t = w_t + β/(1−β)(w_t − w_{t−1}) (x_1 = w_1); m_t = β m_{t−1} + (1−β) ∇f(x_t, ξ_t);
    w_{t+1} = w_t − η m_t/||m_t||."""

    name = "nigt"
    options = ("w_t",)
    default_option = "w_t"

    def init(self, x0, seeds):
        return {"w": x0.clone(), "w_prev": x0.clone(), "m": x0.new_zeros(x0.shape), "seeds": seeds}

    def _s(self, state, k):
        return nz.NIGTState(state["w"], state["w_prev"], state["m"], k)

    def query(self, state, k):
        return nz.nigt_query(self._s(state, k), self.schedule.beta(k))

    def step(self, state, g, k):
        s = nz.nigt_step(self._s(state, k), g, self.schedule.eta(k), self.schedule.beta(k))
        return {**state, "w": s.w, "w_prev": s.w_prev, "m": s.m}

    def output(self, state, option, k):
        self.check_option(option)
        return state["w"]


class _XAlgorithm(Algorithm):
    options = ("x",)
    default_option = "x"

    def query(self, state, k):
        return state["x"]

    def output(self, state, option, k):
        self.check_option(option)
        return state["x"]


class ClassicalMomentum(_XAlgorithm):
    """Classical momentum (heavy ball, torch.optim.SGD(momentum=β)): v ← βv + g; x ← x − lr v (lr = α)."""

    name = "cm"

    def init(self, x0, seeds):
        return {"x": x0.clone(), "v": x0.new_zeros(x0.shape), "seeds": seeds}

    def step(self, state, g, k):
        s = a5.cm_step(a5.CMState(state["x"], state["v"]), g, self.schedule.alpha(k), self.schedule.beta(k))
        return {**state, "x": s.x, "v": s.v}


class QHM(_XAlgorithm):
    """QHM: b ← βb + (1−β)g; x ← x − lr((1−ν)g + νb) (lr = α; ν from params, default 0.7)."""

    name = "qhm"

    def __init__(self, setup, schedule, nu: float = 0.7):
        super().__init__(setup, schedule)
        self.nu = float(nu)

    def init(self, x0, seeds):
        return {"x": x0.clone(), "buf": x0.new_zeros(x0.shape), "seeds": seeds}

    def step(self, state, g, k):
        s = a5.qhm_step(a5.QHMState(state["x"], state["buf"]), g, self.schedule.alpha(k), self.schedule.beta(k),
                        self.nu)
        return {**state, "x": s.x, "buf": s.buf}


class AggMo(_XAlgorithm):
    """AggMo: v_i ← β_i v_i − g; x ← x + (lr/K) Σ_i v_i (lr = α; params.betas, default aggmo_betas(2, 0.1))."""

    name = "aggmo"

    def __init__(self, setup, schedule, betas=None):
        super().__init__(setup, schedule)
        self.betas = list(betas) if betas is not None else a5.aggmo_betas(2, 0.1)

    def init(self, x0, seeds):
        s = a5.aggmo_init(x0, len(self.betas))
        return {"x": s.x, "v": s.v, "seeds": seeds}

    def step(self, state, g, k):
        s = a5.aggmo_step(a5.AggMoState(state["x"], state["v"]), g, self.schedule.alpha(k), self.betas)
        return {**state, "x": s.x, "v": s.v}


class NAdam(_XAlgorithm):
    """NAdam (Dozat 2016, Algorithm 8) at iteration t = k + 1: lr = α, μ = β; params nu, eps, psi."""

    name = "nadam"

    def __init__(self, setup, schedule, nu: float = 0.999, eps: float = 1e-8, psi: float = 0.004):
        super().__init__(setup, schedule)
        self.nu, self.eps, self.psi = float(nu), float(eps), float(psi)

    def init(self, x0, seeds):
        s = _nadam.nadam_init(x0)
        return {"x": s.x, "m": s.m, "n": s.n, "mu_prod": s.mu_prod, "seeds": seeds}

    def step(self, state, g, k):
        s = _nadam.NAdamState(state["x"], state["m"], state["n"], state["mu_prod"], k)
        s = _nadam.nadam_step(s, g, k + 1, self.schedule.alpha(k), self.schedule.beta(k), self.nu, self.eps,
                              self.psi)
        return {**state, "x": s.x, "m": s.m, "n": s.n, "mu_prod": s.mu_prod}


class SPA(_XAlgorithm):
    """Stochastic primal averaging: z ← z − η g; x ← (1−c)x + cz (η = schedule.eta; 0 < params.c <= 1)."""

    name = "spa"

    def __init__(self, setup, schedule, c: float = 0.1):
        super().__init__(setup, schedule)
        self.c = float(c)

    def init(self, x0, seeds):
        return {"x": x0.clone(), "z": x0.clone(), "seeds": seeds}

    def step(self, state, g, k):
        s = _spa.spa_step(_spa.SPAState(state["x"], state["z"]), g, self.schedule.eta(k), self.c)
        return {**state, "x": s.x, "z": s.z}
