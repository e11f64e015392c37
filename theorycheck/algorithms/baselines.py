"""Baselines of the paper (THEORY §3.1, §3.7, §3.8): AC-SA, M-SGD / OM-SGD (scheme (4)), the PyTorch form (6),
and mirror-descent SA (plain SGD in the Euclidean setup) with last or averaged output."""
from __future__ import annotations

from .base import Algorithm, require_constant, require_euclidean_unconstrained


class ACSA(Algorithm):
    """AC-SA (Lan 2012): x_k = (1−β_k) z_k + β_k y_k; z_{k+1} = Prox_{α_k h}(z_k, α_k g_k);
    y_{k+1} = (1−β_k) z_{k+1} + β_k y_k. Option II: y_K; Option I: the next query point."""

    name = "acsa"
    options = ("I", "II")

    def init(self, x0, seeds):
        return {"z": x0.clone(), "y": x0.clone(), "seeds": seeds}

    def scheme2(self, state, k):
        return state["z"], state["y"], self.schedule.alpha(k), self.schedule.beta(k)

    def query(self, state, k):
        b = self.schedule.beta(k)
        return (1 - b) * state["z"] + b * state["y"]

    def step(self, state, g, k):
        a, b = self.schedule.alpha(k), self.schedule.beta(k)
        z = self.setup.prox(state["z"], a * g, a)
        return {**state, "z": z, "y": (1 - b) * z + b * state["y"]}

    def output(self, state, option, k):
        return state["y"] if self.check_option(option) == "II" else self.query(state, k)


class Nesterov(Algorithm):
    """Scheme (4): y_{k+1} = x_k − η g_k, x_{k+1} = y_{k+1} + β(y_{k+1} − y_k), y_0 = x_0.
    Option I (M-SGD, PyTorch/TF) reports x_K; Option II (OM-SGD) reports y_K."""

    name = "msgd"
    options = ("I", "II")
    default_option = "I"

    def __init__(self, setup, schedule):
        super().__init__(setup, schedule)
        require_euclidean_unconstrained(setup, "M-SGD")
        require_constant(schedule, "M-SGD")

    def init(self, x0, seeds):
        return {"x": x0.clone(), "y": x0.clone(), "seeds": seeds}

    def query(self, state, k):
        return state["x"]

    def step(self, state, g, k):
        eta, beta = self.schedule.eta(0), self.schedule.beta(0)
        y = state["x"] - eta * g
        return {**state, "x": y + beta * (y - state["y"]), "y": y}

    def output(self, state, option, k):
        return state["x"] if self.check_option(option) == "I" else state["y"]


class NesterovPyTorch(Algorithm):
    """Form (6), i.e. torch.optim.SGD(lr=η, momentum=β, nesterov=True): v ← βv + g; x ← x − η(βv + g)."""

    name = "msgd_pytorch"
    options = ("I",)
    default_option = "I"

    def __init__(self, setup, schedule):
        super().__init__(setup, schedule)
        require_euclidean_unconstrained(setup, "M-SGD (PyTorch form)")
        require_constant(schedule, "M-SGD (PyTorch form)")

    def init(self, x0, seeds):
        return {"x": x0.clone(), "v": x0.new_zeros(x0.shape), "seeds": seeds}

    def query(self, state, k):
        return state["x"]

    def step(self, state, g, k):
        eta, beta = self.schedule.eta(0), self.schedule.beta(0)
        v = beta * state["v"] + g
        return {**state, "x": state["x"] - eta * (beta * v + g), "v": v}

    def output(self, state, option, k):
        self.check_option(option)
        return state["x"]


class MirrorDescentSA(Algorithm):
    """Mirror-descent SA (Nemirovski et al. 2009): z_{k+1} = Prox_{α_k h}(z_k, α_k g(z_k)), β ignored.
    Option 'last' reports z_K (plain SGD in the Euclidean setup), 'average' reports (1/K) Σ_{k=1..K} z_k, and
    'query_average' the average of the points where gradients were taken, (1/K) Σ_{k=0..K-1} z_k (the average
    that Nemirovski et al. 2009 bound, theorem 'mdsa')."""

    name = "mdsa"
    options = ("last", "average", "query_average")
    default_option = "average"

    def init(self, x0, seeds):
        return {"z": x0.clone(), "sum": x0.new_zeros(x0.shape), "qsum": x0.new_zeros(x0.shape), "seeds": seeds}

    def query(self, state, k):
        return state["z"]

    def step(self, state, g, k):
        a = self.schedule.alpha(k)
        z = self.setup.prox(state["z"], a * g, a)
        return {**state, "z": z, "sum": state["sum"] + z, "qsum": state["qsum"] + state["z"]}

    def output(self, state, option, k):
        option = self.check_option(option)
        if option == "last" or k == 0:
            return state["z"]
        return (state["sum"] if option == "average" else state["qsum"]) / k
