"""Cutkosky & Mehta 2020, Lemma 2 as a pathwise certificate: for any direction m_t and ε̂_t = m_t − ∇F(w_t),
F(w_{t+1}) − F(w_t) ≤ −η/3 ||∇F(w_t)|| + 8η/3 ||ε̂_t|| + Lη²/2 at every step (THEORY §6), for
w_{t+1} = w_t − η m_t/||m_t||. Checked on every replica of a normalized-method run (nsgdm, nigt)."""
from __future__ import annotations

import numpy as np
import torch

from ..methods.normalized import lemma2_sides
from .base import PathwiseTheorem


class Lemma2Monitor:
    """Before step t: runs the (pure) step to get w_{t+1} and m_t, then records the relative slack."""

    column = "lemma2_min_rel_slack"

    def __init__(self, problem):
        self.problem, self.min_rel = problem, None

    def __call__(self, algorithm, state, x, g, k):
        p = self.problem
        nxt = algorithm.step(state, g, k)
        w, w1 = state["w"], nxt["w"]
        gF = p.f_grad(w)
        gn = torch.linalg.vector_norm(gF, dim=-1)
        en = torch.linalg.vector_norm(nxt["m"] - gF, dim=-1)
        lhs, rhs = lemma2_sides(p.f_value(w), p.f_value(w1), gn, en, algorithm.schedule.eta(k), p.constants.L)
        rel = (rhs - lhs) / (lhs.abs() + rhs.abs()).clamp(min=1e-300)
        self.min_rel = rel if self.min_rel is None else torch.minimum(self.min_rel, rel)

    def columns(self, table, n_seeds):
        return {self.column: np.tile(self.min_rel.cpu().numpy(), len(table) // n_seeds)}


class CMLemma2(PathwiseTheorem):
    name = "cm_lemma2"
    reference = "Cutkosky & Mehta 2020, Momentum improves normalized SGD, Lemma 2 (THEORY §6)"
    summary = "F(w_{t+1}) − F(w_t) ≤ −η/3||∇F(w_t)|| + 8η/3||ε̂_t|| + Lη²/2, pathwise"
    algorithms = ("nsgdm", "nigt")
    options = ("w_t",)
    statistic = "lemma2_min_rel_slack"
    statistic_label = "Lemma 2 min relative slack (pathwise)"
    bound_form = "lemma2"

    def monitor(self, spec, problem):
        return Lemma2Monitor(problem)


THEOREM = CMLemma2()
