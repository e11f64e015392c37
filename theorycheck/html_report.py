"""``theorycheck report RESULTS_DIR --html FILE``: one self-contained HTML page of a results folder.

The page needs no network: CSS and JavaScript are inline and figures are inline base64 PNGs. It shows

* the verdict table(s) — every ``verdicts*.csv`` of the folder (``theorycheck check``, the pytest plugin's
  ``verdicts_<spec>.csv``, ``check-cm``) — sortable by clicking a column header, rows coloured by verdict, with
  the ``method`` and provenance columns when the table has them;
* per spec with raw results (``raw/<spec>/<config>.parquet``), a convergence figure: mean error over seeds against
  the iteration count, log-log, one line per (σ, m, option), with the bounds of the verdict rows as dashed lines
  (comparator form) and markers (the theorem's bound as printed);
* the regression table (``regressions.csv``) when the folder holds a baseline comparison.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import math
from pathlib import Path

import numpy as np

from .table import atomic_write_text, read_table
from .testing import _fmt, records

__all__ = ["build_html", "write_html", "ReportError"]

FIRST = ["spec", "theorem", "algorithm", "option", "m", "sigma", "K", "checkpoint", "n_seeds", "statistic", "value",
         "ci_low", "ci_high", "bound", "ratio", "bound_form", "verdict", "seeds_needed", "method", "provenance"]
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#eee;cursor:pointer;position:sticky;top:0}th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
td.s{text-align:left}.wrap{overflow-x:auto;max-height:70vh}
tr.holds td{background:#e6f4ea}tr.violated td{background:#fce8e6}tr.inconclusive td{background:#fef7e0}
tr.assumptions-failed td,tr.vacuous td{background:#eceff1}tr.regression td{background:#fce8e6}
.summary span{display:inline-block;margin-right:1em;padding:2px 8px;border-radius:3px}
.summary .holds{background:#e6f4ea}.summary .violated{background:#fce8e6}.summary .inconclusive{background:#fef7e0}
figure{display:inline-block;margin:.5em}figcaption{font-size:12px;color:#555}
.meta{color:#666;font-size:12px}
"""
JS = """
function sortTable(th){
  var table=th.closest('table'), body=table.tBodies[0], idx=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=!th.classList.contains('asc');
  Array.prototype.forEach.call(th.parentNode.children,function(h){h.classList.remove('asc','desc');});
  th.classList.add(asc?'asc':'desc');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=a.cells[idx].getAttribute('data-v'), y=b.cells[idx].getAttribute('data-v');
    var fx=parseFloat(x), fy=parseFloat(y), c;
    if(!isNaN(fx)&&!isNaN(fy)){c=fx-fy;}else{c=x<y?-1:(x>y?1:0);}
    return asc?c:-c;
  });
  rows.forEach(function(r){body.appendChild(r);});
}
document.addEventListener('DOMContentLoaded',function(){
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable th'),function(th){
    th.addEventListener('click',function(){sortTable(th);});
  });
  document.body.setAttribute('data-ready','1');
});
"""


class ReportError(ValueError):
    """The results folder holds nothing to report (the message names what is missing)."""


def _sort_value(v) -> str:
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        f = float(v)
        return "inf" if f == math.inf else "-inf" if f == -math.inf else "" if math.isnan(f) else repr(f)
    return str(v)


def _table_html(rows: list[dict], css_class_of, caption: str) -> str:
    cols = list(dict.fromkeys([c for c in FIRST if any(c in r for r in rows)] + [c for r in rows for c in r]))
    out = [f'<div class="wrap"><table class="sortable" data-caption="{html.escape(caption)}"><thead><tr>']
    out += [f"<th>{html.escape(c)}</th>" for c in cols]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append(f'<tr class="{html.escape(css_class_of(r))}">')
        for c in cols:
            v = r.get(c, "")
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            out.append(f'<td class="{"n" if num else "s"}" data-v="{html.escape(_sort_value(v))}">'
                       f"{html.escape(_fmt(v) if num else str(v))}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _verdict_class(r) -> str:
    v = str(r.get("verdict", ""))
    return "vacuous" if "vacuous" in str(r.get("bound_form", "")) else v


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def convergence_figure(spec_name: str, raw_dir: Path, vrows: list[dict]) -> str | None:
    """Base64 PNG: mean error against k for every configuration of one spec, with its verdict rows' bounds."""
    files = sorted(raw_dir.glob("*.parquet"))
    if not files:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    i = 0
    for f in files:
        t = read_table(f)
        if "error" not in t.columns or not len(t):
            continue
        for option in dict.fromkeys(t["option"].tolist()):
            sub = t[t["option"] == option]
            ks = sorted(set(int(k) for k in sub["checkpoint"]))
            err = np.asarray(sub["error"], float)
            cp = np.asarray(sub["checkpoint"]).astype(int)
            mean = np.array([np.mean(err[cp == k]) for k in ks])
            keep = np.array([k > 0 for k in ks]) & np.isfinite(mean) & (mean > 0)
            if not keep.any():
                continue
            c = colors[i % len(colors)]
            i += 1
            sigma, m = float(sub["sigma"].iloc[0]), int(sub["m"].iloc[0])
            ax.plot(np.array(ks)[keep], mean[keep], "-o", ms=3, color=c, label=f"σ={sigma:g}, m={m}, {option}")
            mine = [r for r in vrows if str(r.get("option")) == str(option) and
                    math.isclose(float(r.get("sigma", math.nan)), sigma) and int(float(r.get("m", -1))) == m and
                    str(r.get("statistic")) == "mean"]
            comp = sorted((int(float(r["checkpoint"])), float(r["bound"])) for r in mine
                          if r.get("bound_form") == "comparator" and math.isfinite(float(r["bound"])))
            if comp:
                ax.plot([k for k, _ in comp], [b for _, b in comp], "--", color=c, lw=1)
            for r in mine:
                if r.get("bound_form") == "theorem" and math.isfinite(float(r["bound"])):
                    ax.plot([int(float(r["checkpoint"]))], [float(r["bound"])], "v", color=c, ms=7)
    if i == 0:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iterations k")
    ax.set_ylabel("mean error F(output) − F_ref")
    ax.set_title(f"{spec_name}: mean error (solid), comparator bound (dashed), theorem bound (▼)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=.3)
    s = _png(fig)
    plt.close(fig)
    return s


def build_html(results_dir) -> str:
    """The HTML text of the report of ``results_dir``; raises :class:`ReportError` when it has no verdicts."""
    from . import __version__

    d = Path(results_dir)
    vfiles = sorted(d.glob("verdicts*.csv"))
    if not d.is_dir() or not vfiles:
        raise ReportError(f"{d}: no verdicts*.csv there (write one with 'theorycheck check SPEC --out {d}')")
    body = [f"<h1>theorycheck report: {html.escape(str(d))}</h1>",
            f'<p class="meta">theorycheck {html.escape(__version__)}, generated '
            f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}; sources: "
            f"{', '.join(html.escape(f.name) for f in vfiles)}</p>"]
    all_rows = []
    for f in vfiles:
        rows = records(read_table(f))
        all_rows += rows
        counts = {}
        for r in rows:
            counts[_verdict_class(r)] = counts.get(_verdict_class(r), 0) + 1
        body.append(f"<h2>Verdicts: {html.escape(f.name)} ({len(rows)} rows)</h2>")
        body.append('<p class="summary">' + "".join(f'<span class="{html.escape(k)}">{html.escape(k)}: {n}</span>'
                                                    for k, n in counts.items()) + "</p>")
        body.append(_table_html(rows, _verdict_class, f.name))
    reg = d / "regressions.csv"
    if reg.is_file():
        rrows = records(read_table(reg))
        n = sum(1 for r in rrows if r.get("regression") == "regression")
        body.append(f"<h2>Baseline comparison: {n} regression(s) in {len(rrows)} comparisons</h2>")
        body.append("<p>Paired by seed; one-sided test of 'mean error worse than the baseline by more than the "
                    "tolerance'; Holm across the invocation.</p>")
        body.append(_table_html(rrows, lambda r: str(r.get("regression")), "regressions.csv"))
    figs = []
    for spec in dict.fromkeys(str(r.get("spec")) for r in all_rows):
        raw = d / "raw" / spec
        if raw.is_dir():
            png = convergence_figure(spec, raw, [r for r in all_rows if str(r.get("spec")) == spec])
            if png:
                figs.append(f'<figure><img alt="convergence of {html.escape(spec)}" '
                            f'src="data:image/png;base64,{png}"><figcaption>{html.escape(spec)}</figcaption></figure>')
    if figs:
        body.append("<h2>Convergence</h2>" + "".join(figs))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<link rel=\"icon\" href=\"data:,\"><title>theorycheck report</title>"
            f"<style>{CSS}</style><script>{JS}</script></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_html(results_dir, path) -> Path:
    """Write :func:`build_html` atomically to ``path``."""
    atomic_write_text(path, build_html(results_dir))
    return Path(path)
