"""AM1-SGD: Algorithm 1 (general prox), Algorithm 2 (momentum form), Algorithm 5 (efficient), and the
time-varying-β momentum form (THEORY §3.2–3.4). Option I reports the point where the next gradient would be
taken, (1 − β)z_K + β x̃_S; Option II reports x̃_S."""
from __future__ import annotations

from .base import Algorithm, check_m, require_constant, require_euclidean_unconstrained


class AM1(Algorithm):
    """Algorithm 1: x_k = (1−β_s) z_k + β_s x̃_s; z_{k+1} = Prox_{α_s h}(z_k, α_s g_k);
    x̃_{s+1} = ((1−β_s)/m) Σ_j z_{sm+j} + β_s x̃_s."""

    name = "am1"
    options = ("I", "II")
    needs_divisible_K = True

    def __init__(self, setup, schedule, m: int):
        super().__init__(setup, schedule)
        self.m = self.stride = check_m(m)

    def init(self, x0, seeds):
        return {"z": x0.clone(), "xt": x0.clone(), "acc": x0.new_zeros(x0.shape), "seeds": seeds}

    def scheme2(self, state, k):
        s = k // self.m
        return state["z"], state["xt"], self.schedule.alpha(s), self.schedule.beta(s)

    def query(self, state, k):
        b = self.schedule.beta(k // self.m)
        return (1 - b) * state["z"] + b * state["xt"]

    def step(self, state, g, k):
        s = k // self.m
        a, b = self.schedule.alpha(s), self.schedule.beta(s)
        z = self.setup.prox(state["z"], a * g, a)
        acc = state["acc"] + z
        xt = state["xt"]
        if (k + 1) % self.m == 0:
            xt = ((1 - b) / self.m) * acc + b * xt
            acc = acc.new_zeros(acc.shape)
        return {**state, "z": z, "xt": xt, "acc": acc}

    def output(self, state, option, k):
        return state["xt"] if self.check_option(option) == "II" else self.query(state, k)


class AM1Momentum(Algorithm):
    """Algorithm 2 generalised to time-varying (α_s, β_s) (THEORY §3.3). Inside epoch s:
    x ← x − η_s g with η_s = α_s(1−β_s); x̃⁺ ← x̃⁺ + x/m. At the epoch's end:
    x ← (1−β_{s+1})/(1−β_s) (x − β_s x̃_s) + β_{s+1} x̃_{s+1}. With constant β this is Algorithm 2's
    x ← x + β(x̃⁺ − x̃), which is what runs (bit-for-bit as printed) when the schedule is constant."""

    name = "am1_momentum"
    options = ("I", "II")
    needs_divisible_K = True

    def __init__(self, setup, schedule, m: int):
        super().__init__(setup, schedule)
        require_euclidean_unconstrained(setup, "AM1-SGD Algorithm 2")
        self.m = self.stride = check_m(m)

    def init(self, x0, seeds):
        return {"x": x0.clone(), "xt": x0.clone(), "xtp": x0.new_zeros(x0.shape), "seeds": seeds}

    def query(self, state, k):
        return state["x"]

    def step(self, state, g, k):
        s = k // self.m
        x = state["x"] - self.schedule.eta(s) * g
        xtp = state["xtp"] + x / self.m
        xt = state["xt"]
        if (k + 1) % self.m == 0:
            if self.schedule.constant:
                x = x + self.schedule.beta(s) * (xtp - xt)
            else:
                b0, b1 = self.schedule.beta(s), self.schedule.beta(s + 1)
                x = ((1 - b1) / (1 - b0)) * (x - b0 * xt) + b1 * xtp
            xt, xtp = xtp, xtp.new_zeros(xtp.shape)
        return {**state, "x": x, "xt": xt, "xtp": xtp}

    def output(self, state, option, k):
        return state["xt"] if self.check_option(option) == "II" else state["x"]


class AM1Efficient(Algorithm):
    """Algorithm 5 (constant η, β): keeps o⁺ = m(x̃⁺ − x̃). x ← x − ηg; o⁺ ← o⁺ + x; at the epoch's end
    x ← x + (β/m) o⁺; x̃ ← x̃ + o⁺/m; o⁺ ← −m x̃."""

    name = "am1_efficient"
    options = ("I", "II")
    needs_divisible_K = True

    def __init__(self, setup, schedule, m: int):
        super().__init__(setup, schedule)
        require_euclidean_unconstrained(setup, "AM1-SGD Algorithm 5")
        require_constant(schedule, "AM1-SGD Algorithm 5")
        self.m = self.stride = check_m(m)

    def init(self, x0, seeds):
        return {"x": x0.clone(), "xt": x0.clone(), "o": -self.m * x0, "seeds": seeds}

    def query(self, state, k):
        return state["x"]

    def step(self, state, g, k):
        eta, beta = self.schedule.eta(0), self.schedule.beta(0)
        x = state["x"] - eta * g
        o = state["o"] + x
        xt = state["xt"]
        if (k + 1) % self.m == 0:
            x = x + (beta / self.m) * o
            xt = xt + o / self.m
            o = -self.m * xt
        return {**state, "x": x, "xt": xt, "o": o}

    def output(self, state, option, k):
        return state["xt"] if self.check_option(option) == "II" else state["x"]
