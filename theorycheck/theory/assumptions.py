"""Assumption checks run before a theorem check. The checks themselves live with each theorem
(``Theorem.assumptions`` in theorycheck/theorems/); this function is the old entry point, kept for callers."""
from __future__ import annotations


def check_assumptions(spec, problem, oracle, schedule, alg) -> list[str]:
    """Human-readable failures of the spec's theorem's assumptions ([] = the theorem applies; also for 'none')."""
    from .. import theorems
    from ..theorems.base import Context

    th = theorems.get(spec.theorem)
    return [] if th is None else th.assumptions(Context(spec, None, problem, oracle, schedule, alg))
