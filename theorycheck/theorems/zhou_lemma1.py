"""Zhou et al., Lemma 1 (THEORY §4.1) as a pathwise certificate: the one-step inequality of scheme (2) checked at
every step of every replica (:class:`theorycheck.theory.lemma1.Lemma1Certificate`). Used as a theorem of its own
(``theorem = "lemma1"``) or next to another theorem with ``check.lemma1 = true``."""
from __future__ import annotations

import numpy as np

from ..theory.lemma1 import Lemma1Certificate
from .base import PathwiseTheorem


class _Lemma1Monitor(Lemma1Certificate):
    column = "lemma1_min_rel_slack"

    def columns(self, table, n_seeds):
        return {self.column: np.tile(self.min_rel_slack.cpu().numpy(), len(table) // n_seeds)}


class ZhouLemma1(PathwiseTheorem):
    name = "lemma1"
    reference = "Zhou et al., Amortized Nesterov's momentum, Lemma 1 (THEORY §4.1)"
    summary = "one-step inequality of scheme (2), pathwise (min relative slack >= -1e-9)"
    algorithms = ("am1", "am2", "acsa")
    options = None
    statistic = "lemma1_min_rel_slack"
    statistic_label = "Lemma 1 min relative slack (pathwise)"
    bound_form = "lemma1"

    def monitor(self, spec, problem):
        return _Lemma1Monitor(problem)

    def assumptions(self, ctx):
        c = ctx.problem.constants
        if c.L > 0:
            worst = max(ctx.schedule.alpha(t) * (1 - ctx.schedule.beta(t)) for t in range(ctx.spec.K))
            if not worst * c.L < 1:
                return [f"step condition alpha(1-beta) < 1/L fails: max alpha(1-beta)*L = {worst * c.L:.3g}"]
        return []


THEOREM = ZhouLemma1()
