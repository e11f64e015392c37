"""SGD with Polyak–Ruppert averaging in theorycheck's algorithm protocol (theorycheck/algorithms/base.py).

    x_{k+1} = x_k − η_k g_k ,   g_k = oracle(x_k)
    option "average": x̄_k = (1/k) Σ_{j=0..k−1} x_j   (the average of the query points; x̄_0 = x_0)
    option "last":    x_k

η_k = schedule.eta(k) (a spec's constant schedule with alpha = η and beta = 0). Polyak & Juditsky 1992,
Ruppert 1988.
"""
from __future__ import annotations

from theorycheck.algorithms.base import Algorithm


class AveragedSGD(Algorithm):
    """SGD with Polyak-Ruppert averaging of the query points."""

    name = "sgd_pr"
    options = ("average", "last")
    default_option = "average"

    def init(self, x0, seeds):
        return {"x": x0.clone(), "sum": x0.new_zeros(x0.shape), "seeds": seeds}

    def query(self, state, k):
        return state["x"]

    def step(self, state, g, k):
        return {**state, "x": state["x"] - self.schedule.eta(k) * g, "sum": state["sum"] + state["x"]}

    def output(self, state, option, k):
        if self.check_option(option) == "last" or k == 0:
            return state["x"]
        return state["sum"] / k
