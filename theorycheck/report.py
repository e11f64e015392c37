"""Plain-text rendering of verdict tables (figures live in theorycheck.figures)."""
from __future__ import annotations

import math


def _fmt(v, spec=".3g"):
    if isinstance(v, str):
        return v
    try:
        return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def format_verdicts(t, alpha: float = 0.05, final_only: bool = True) -> str:
    """One line per test (by default only the last checkpoint of each configuration), then a summary."""
    if not len(t):
        return "no theorem checks (specs with theorem = 'none' produce results only)"
    rows = list(t.rows())
    if final_only:
        rows = [r for r in rows if int(r["checkpoint"]) == int(r["K"])]
    head = f"{'spec':<24} {'opt':<4} {'m':>4} {'sigma':>7} {'K':>6} {'statistic':<32} {'value':>9} " \
           f"{'CI':>21} {'bound':>9} {'ratio':>7} {'form':<10} verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        lines.append(f"{str(r['spec'])[:24]:<24} {r['option']:<4} {int(r['m']):>4} {_fmt(r['sigma']):>7} "
                     f"{int(r['K']):>6} {str(r['statistic'])[:32]:<32} {_fmt(r['value']):>9} {ci:>21} "
                     f"{_fmt(r['bound']):>9} {_fmt(r['ratio']):>7} {str(r['bound_form']):<10} {r['verdict']}")
        if r["assumptions"] != "ok":
            lines.append(f"{'':<28}assumptions: {r['assumptions']}")
    verdicts = [r["verdict"] for r in t.rows()]
    counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    lines.append("")
    lines.append(f"{len(verdicts)} tests over all checkpoints ({', '.join(f'{n} {v}' for v, n in counts.items())}); "
                 f"family-wise error rate {alpha:g}, Holm correction; intervals are simultaneous "
                 f"one-sided limits for the mean error (see docs/statistics.md)")
    n_vac = counts.get("vacuous", 0)
    if n_vac:
        lines.append(f"{n_vac} vacuous: the bound is at or above what the method that never moves achieves "
                     f"(F(x0) - F_ref, or ||grad F(x0)||), so these say nothing about the method; counted apart from "
                     f"{counts.get('holds', 0)} holds")
    return "\n".join(lines)
