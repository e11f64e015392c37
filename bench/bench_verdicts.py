"""Added wall time of issue 10's statistics (exact betting limits, tail diagnostic, provenance fingerprint) on the
default suite, measured in one process as a ratio:

    added = t(verdicts, new) - t(verdicts, asymptotic only, no diagnostic, no provenance)
    ratio = added / t(full `theorycheck check`, fresh results folder)

Usage: python bench/bench_verdicts.py [OUT]   (runs the default suite once, ~2-10 min depending on the machine)."""
import sys
import tempfile
import time
from pathlib import Path

import torch

from theorycheck import check, provenance, stats
from theorycheck.theorems import _cm, base
from theorycheck.cli import default_suite
from theorycheck.experiment import run_or_load
from theorycheck.spec import load_spec

torch.set_num_threads(1)
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
specs = [load_spec(p) for p in default_suite()]

t0 = time.perf_counter()
tables = [(s, c, run_or_load(s, c, out, progress=False)) for s in specs for c in s.configs()]
rows = [r for s, c, t in tables for r in check.evaluate(s, c, t)]
check.finalize(rows)
t_full = time.perf_counter() - t0


def verdicts():
    t0 = time.perf_counter()
    for s, c, t in tables:
        provenance.results_fingerprint(s, c, s.n_seeds, "float64", "cpu")  # what run_or_load checks
    rows = [r for s, c, t in tables for r in check.evaluate(s, c, t)]
    check.finalize(rows)
    return time.perf_counter() - t0


t_new = min(verdicts() for _ in range(3))
# the pre-issue-10 path: no certified range (error or gradient-norm), no diagnostic, spec-only fingerprint. The
# theorems look these up as module globals at call time, so patching the modules' names takes effect.
base.error_range = lambda problem: None
_cm.grad_norm_range = lambda problem: None
stats.tail_diagnostic = lambda x, deterministic=False: {"heavy_tail": False}
provenance.results_fingerprint = lambda spec, cfg, n, d, dev, problem=None: spec.fingerprint(cfg, n, d, dev)
t_old = min(verdicts() for _ in range(3))
print(f"full check (fresh): {t_full:.1f} s; verdict stage new {t_new:.2f} s, old {t_old:.2f} s; "
      f"added {t_new - t_old:.2f} s = {100 * (t_new - t_old) / t_full:.1f} % of the full check")
