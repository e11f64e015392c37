"""Plain-text rendering of verdict tables (figures live in theorycheck.figures).

The report has three parts: the table (by default one line per test at the last checkpoint k = K of each
configuration), every test whose verdict is not ``holds`` — at any checkpoint — with its reason, and a legend of
the columns. Nothing that decides the exit code is left to the CSV only.
"""
from __future__ import annotations

import math

LEGEND = """legend:
  spec       spec name; opt: the algorithm's output option (I: the iterate x; II: the average x̃ (AM1) or φ̄ (AM2))
  m          amortization length; sigma: the noise level the oracle satisfies, E‖g − ∇f‖*² <= σ² (dual norm; for a
             minibatch oracle the σ of batch size B); batch: minibatch size B (0: additive noise, shown if any B > 0)
  K          iterations of the run (the table shows checkpoint k = K; every checkpoint is in verdicts.csv)
  statistic  mean: the mean error F(output) − F_ref over seeds; P(error>...): fraction of seeds above the threshold
  value, CI  the statistic and its Holm-adjusted one-sided lower and upper confidence limits
  bound      the theorem's bound on the statistic (K0(m), bound (3), or the allowed probability for Theorem 1(b))
  ratio      bound / value: the tightness (1 = tight; below 1: the estimate exceeds the bound)
  form       theorem: the bound as printed (needs a minimiser and the true V); comparator: the bound for the η run,
             minimised over the problem's comparator points; lemma1: the pathwise Lemma 1 certificate
  verdict    holds: upper limit < bound; violated: lower limit > bound; inconclusive: neither;
             assumptions-failed: not tested (the theorem's assumptions fail; reason given)"""


def _fmt(v, spec=".3g"):
    if isinstance(v, str):
        return v
    try:
        return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def _batch(r) -> int:
    try:
        b = r.get("batch", 0)
        return 0 if b is None or (isinstance(b, float) and math.isnan(b)) or b == "" else int(b)
    except (TypeError, ValueError):
        return 0


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def reason(r) -> str:
    """Why a test's verdict is not ``holds``, in one line (from the verdict row's columns)."""
    v = r["verdict"]
    lo, hi, b = _num(r.get("ci_low")), _num(r.get("ci_high")), _num(r.get("bound"))
    nd = _num(r.get("n_diverged"))
    nd, n = (int(nd) if math.isfinite(nd) else 0), r.get("n_seeds")
    if v == "assumptions-failed":
        return f"not tested: {r['assumptions']}"
    if v == "violated":
        why = f"lower limit {_fmt(lo)} > bound {_fmt(b)}"
        if nd:
            why += f" ({nd} of {n} seeds diverged)"
    elif v == "inconclusive":
        why = f"interval [{_fmt(lo)}, {_fmt(hi)}] contains the bound {_fmt(b)}"
        sn = _num(r.get("seeds_needed"))
        why += f"; about {int(sn)} seeds would settle it" if math.isfinite(sn) else "; more seeds would not settle it"
    elif v == "vacuous":
        thr = _num(r.get("threshold"))
        ref = thr if math.isfinite(thr) else b
        why = (f"holds (upper limit {_fmt(hi)} < bound {_fmt(b)}), but the {'threshold' if math.isfinite(thr) else 'bound'} "
               f"{_fmt(ref)} >= vacuity level {_fmt(_num(r.get('vacuity_level')))}: met by the method that never moves")
    else:
        why = f"verdict {v!r}"
    if r.get("assumptions", "ok") not in ("ok", "", None) and v != "assumptions-failed":
        why += f"; tested although assumptions fail (check.force): {r['assumptions']}"
    return why


def _cfg_key(r) -> tuple:
    return tuple(str(r.get(c)) for c in ("spec", "theorem", "algorithm", "option", "m", "sigma", "batch", "K"))


def format_verdicts(t, alpha: float = 0.05, final_only: bool = True) -> str:
    """The table (by default only the last checkpoint of each configuration), every verdict other than ``holds``
    with its reason (all checkpoints), a summary line and the legend."""
    if not len(t):
        return "no theorem checks: no verdict (specs with theorem = 'none' produce results only)"
    all_rows = t.to_dict("records")
    last = {}  # configuration -> its last checkpoint (K unless run.checkpoints leaves K out)
    for r in all_rows:
        last[_cfg_key(r)] = max(last.get(_cfg_key(r), -1), int(r["checkpoint"]))
    rows = [r for r in all_rows if int(r["checkpoint"]) == last[_cfg_key(r)]] if final_only else all_rows
    short = sorted({(str(r["spec"]), int(r["K"])) for r in all_rows if last[_cfg_key(r)] < int(r["K"])})
    show_b = any(_batch(r) for r in all_rows)
    bcol = f" {'batch':>5}" if show_b else ""
    ow = max([4] + [len(str(r["option"])) for r in rows])  # option names of plug-ins may be longer
    head = f"{'spec':<24} {'opt':<{ow}} {'m':>4} {'sigma':>7}{bcol} {'k':>6} {'statistic':<32} {'value':>9} " \
           f"{'CI':>21} {'bound':>9} {'ratio':>7} {'form':<10} verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        bval = f" {_batch(r):>5}" if show_b else ""
        lines.append(f"{str(r['spec'])[:24]:<24} {r['option']:<{ow}} {int(r['m']):>4} {_fmt(r['sigma']):>7}{bval} "
                     f"{int(r['checkpoint']):>6} {str(r['statistic'])[:32]:<32} {_fmt(r['value']):>9} {ci:>21} "
                     f"{_fmt(r['bound']):>9} {_fmt(r['ratio']):>7} {str(r['bound_form']):<10} {r['verdict']}")
    bad = [r for r in all_rows if r["verdict"] != "holds"]
    if short:
        lines.append("note: the output after K steps is not tested in " + ", ".join(f"{n} (K = {k})" for n, k in short)
                     + ": run.checkpoints does not contain K, so the table shows the last checkpoint instead")
    if final_only and len(rows) < len(all_rows):
        n_mid_bad = sum(1 for r in bad if int(r["checkpoint"]) != last[_cfg_key(r)])
        lines.append(f"(last checkpoint only; {len(all_rows) - len(rows)} tests at earlier checkpoints are in "
                     f"verdicts.csv" + (f"; the {n_mid_bad} of them not holding are listed below)" if n_mid_bad
                                        else "; all of them hold)"))
    if bad:
        lines += ["", f"not holding ({len(bad)} of {len(all_rows)} tests), with reasons:"]
        for r in bad:
            where = f"{r['spec']} opt {r['option']} m={int(r['m'])} sigma={_fmt(r['sigma'])}" + \
                    (f" batch={_batch(r)}" if show_b else "") + f" k={int(r['checkpoint'])}/{int(r['K'])}"
            lines.append(f"  {where} {r['statistic']} [{r['bound_form']}]: {r['verdict']}: {reason(r)}")
    verdicts = [r["verdict"] for r in all_rows]
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
    if "method" in t.columns:
        lines.append(method_summary(t))
    lines += ["", LEGEND]
    return "\n".join(lines)


def method_summary(t) -> str:
    """"by method: exact-bounded 4 (4 holds), asymptotic 10 (8 holds, 2 inconclusive), ..." over all rows."""
    by = {}
    for r in t.to_dict("records"):
        m = r["method"] if isinstance(r["method"], str) and r["method"] else "asymptotic"
        by.setdefault(m, []).append(r["verdict"])
    parts = []
    for m in ("exact-bounded", "exact-binomial", "asymptotic", "pathwise", *sorted(set(by) - {
            "exact-bounded", "exact-binomial", "asymptotic", "pathwise"})):
        if m in by:
            c = {v: by[m].count(v) for v in dict.fromkeys(by[m])}
            parts.append(f"{m} {len(by[m])} ({', '.join(f'{n} {v}' for v, n in c.items())})")
    return "by method: " + "; ".join(parts)

