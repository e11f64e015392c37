"""Regression baselines: store a run's per-seed errors, and later test a re-run against them, paired by seed.

``theorycheck check --save-baseline DIR`` writes ``DIR/baseline.json`` (format, theorycheck version, and per
spec the hash of its content, seeds, dtype, device and configurations) and ``DIR/errors/<spec>/<config>.parquet``
(columns option, seed, checkpoint, error; Parquet, so a reload is bit-exact). Format 2; a format-1 baseline (errors
as CSV, theorycheck before Parquet) is refused with a message to re-create it.

``theorycheck check --baseline DIR`` first refuses (``BaselineError``, exit 2, nothing run) a baseline made by
another theorycheck version, for other specs (content hash), another seed set, dtype or device. It then re-runs
and, for every (spec, configuration, option, checkpoint k > 0), tests

    H0: E[e_new − (1 + tol) e_base] <= 0    against    H1: E[e_new − (1 + tol) e_base] > 0,

i.e. "the mean error is worse than the baseline's by more than the relative tolerance tol" (default 0.01), on the
paired differences d_i = e_new(seed i) − (1 + tol) e_base(seed i). Pairing by seed is valid because a replica's
noise depends only on (seed, step) (``theorycheck.rng``), so the same seed draws the same noise in both runs and
the pairing removes most of the noise from the comparison. The one-sided p-value is
``stats.mean_pvalues(d, 0)[1]`` (Hall's skewness-corrected t, the lower-limit side of docs/statistics.md).
A new run that diverged where the baseline did not has p = 0; pairs where both diverged are dropped. All tests of
the invocation are one family, Holm-corrected at ``alpha``; a test with adjusted p <= alpha is a ``regression``
and the command exits 4 (unless a bound is violated: exit 1 takes precedence).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .spec import SpecError
from .table import atomic_write_text, read_table, write_parquet

FORMAT = 2  # 2: errors as Parquet (1: CSV)
EXIT_REGRESSION = 4
COLUMNS = ["spec", "theorem", "option", "m", "sigma", "K", "checkpoint", "n_pairs", "baseline_mean", "mean",
           "change", "tolerance", "p_value", "p_holm", "regression"]


class BaselineError(SpecError):
    """The baseline cannot be compared with this invocation (exit code 2; the message says why)."""


def _version() -> str:
    from . import __version__

    return __version__


def spec_hash(spec) -> str:
    """Hash of what determines a spec's errors apart from the seeds (its theorem, problem, noise, algorithm,
    schedule and run tables, without run.seeds / run.seed0, which are compared separately)."""
    run = {k: v for k, v in spec.run.items() if k not in ("seeds", "seed0", "dtype")}
    d = {"theorem": spec.theorem, "problem": spec.problem, "noise": spec.noise, "algorithm": spec.algorithm,
         "schedule": spec.schedule, "run": run}
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_settings(spec, n_seeds=None, dtype=None, device="cpu") -> dict:
    """The seeds, dtype and device a check of ``spec`` will use (the same resolution as experiment.run_config)."""
    n = n_seeds or spec.n_seeds
    s0 = spec.run.get("seed0", 0)
    return {"seeds": [s0, s0 + n], "dtype": dtype or spec.run.get("dtype", "float64"), "device": str(device)}


def _errors_path(d: Path, spec_name: str, cfg_key: str) -> Path:
    return d / "errors" / spec_name / f"{cfg_key}.parquet"


def save(directory, runs, *, n_seeds=None, dtype=None, device="cpu") -> Path:
    """Store ``runs`` = [(spec, cfg, raw table)] in ``directory``; returns the path of baseline.json."""
    d = Path(directory)
    meta = {"format": FORMAT, "theorycheck_version": _version(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "specs": {}}
    for spec, cfg, t in runs:
        s = meta["specs"].setdefault(spec.name, {"spec_hash": spec_hash(spec), "path": str(spec.path),
                                                 **run_settings(spec, n_seeds, dtype, device), "configs": []})
        s["configs"].append(cfg.key)
        write_parquet(t[["option", "seed", "checkpoint", "error"]], _errors_path(d, spec.name, cfg.key))
    path = d / "baseline.json"
    atomic_write_text(path, json.dumps(meta, indent=1))
    return path


def load_meta(directory) -> dict:
    path = Path(directory) / "baseline.json"
    if not path.is_file():
        raise BaselineError(f"--baseline {directory}: no baseline.json there (make one with "
                            f"'theorycheck check SPEC ... --save-baseline {directory}')")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise BaselineError(f"--baseline {directory}: baseline.json is not valid JSON: {e}") from None
    if meta.get("format") != FORMAT:
        raise BaselineError(f"--baseline {directory}: baseline format {meta.get('format')!r}, expected {FORMAT} "
                            "(made by another theorycheck); re-create it with --save-baseline")
    return meta


def validate(directory, specs, *, n_seeds=None, dtype=None, device="cpu") -> dict:
    """Refuse (``BaselineError``) a baseline that was not made by this version for these specs, seeds, dtype and
    device; returns its metadata. Called before anything runs."""
    meta = load_meta(directory)
    if meta.get("theorycheck_version") != _version():
        raise BaselineError(f"--baseline {directory}: made by theorycheck {meta.get('theorycheck_version')}, this is "
                            f"{_version()}; re-create it with --save-baseline")
    for spec in specs:
        b = meta["specs"].get(spec.name)
        if b is None:
            raise BaselineError(f"--baseline {directory}: has no spec {spec.name!r} (it holds "
                                f"{sorted(meta['specs'])})")
        if b["spec_hash"] != spec_hash(spec):
            raise BaselineError(f"--baseline {directory}: spec {spec.name!r} differs from the one the baseline was "
                                f"made with ({b.get('path')}): problem, noise, algorithm, schedule, run or theorem "
                                "changed")
        want = run_settings(spec, n_seeds, dtype, device)
        show = {"seeds": lambda v: f"seeds {v[0]}..{v[1] - 1} ({v[1] - v[0]} seeds)"}
        for k in ("seeds", "dtype", "device"):
            if b[k] != want[k]:
                f = show.get(k, lambda v, k=k: f"{k} {v}")
                raise BaselineError(f"--baseline {directory}: spec {spec.name!r} was run with {f(b[k])}, this "
                                    f"invocation uses {f(want[k])}: pass the same --seeds/--dtype/--device")
        keys = [c.key for c in spec.configs()]
        if sorted(b["configs"]) != sorted(keys):
            raise BaselineError(f"--baseline {directory}: spec {spec.name!r} configurations {b['configs']} != {keys}")
    return meta


def _by_seed(t, option):
    """{checkpoint: {seed: error}} for one option of a raw table."""
    out = {}
    mask = np.asarray(t["option"]) == option
    for c, s, e in zip(np.asarray(t["checkpoint"])[mask], np.asarray(t["seed"])[mask], np.asarray(t["error"])[mask]):
        out.setdefault(int(c), {})[int(s)] = float(e)
    return out


def paired_test(new, base, tolerance: float) -> tuple[float, int]:
    """(one-sided p-value of H0: E[new − (1+tol) base] <= 0, number of pairs used); arrays are paired by seed."""
    from . import stats

    new, base = np.asarray(new, float), np.asarray(base, float)
    if np.any(~np.isfinite(new) & np.isfinite(base)):
        return 0.0, int(new.size)  # diverged now, not before: a regression beyond any tolerance
    keep = np.isfinite(new) & np.isfinite(base)
    d = new[keep] - (1.0 + tolerance) * base[keep]
    if d.size < 2:
        return 1.0, int(d.size)
    return float(stats.mean_pvalues(d, 0.0)[1]), int(d.size)


def compare(directory, runs, *, tolerance: float = 0.01, alpha: float = 0.05) -> pd.DataFrame:
    """Regression table (a DataFrame) for ``runs`` = [(spec, cfg, raw table)] against the baseline in ``directory`` (validated
    beforehand with :func:`validate`). Columns: ``COLUMNS``; ``change`` = mean / baseline_mean − 1;
    ``regression`` is "regression" or "ok"."""
    from . import stats

    if not (0 <= tolerance < 1) or math.isnan(tolerance):
        raise ValueError(f"--baseline-tolerance must be in [0, 1) (relative), got {tolerance!r}")
    d = Path(directory)
    rows = []
    for spec, cfg, t in runs:
        base = read_table(_errors_path(d, spec.name, cfg.key))
        for option in dict.fromkeys(np.asarray(t["option"]).tolist()):
            nb, bb = _by_seed(t, option), _by_seed(base, option)
            for k in sorted(nb):
                if k == 0 or k not in bb:
                    continue
                seeds = sorted(set(nb[k]) & set(bb[k]))
                e_new = np.array([nb[k][s] for s in seeds])
                e_base = np.array([bb[k][s] for s in seeds])
                p, n = paired_test(e_new, e_base, tolerance)
                mb, mn = float(np.mean(e_base)), float(np.mean(e_new))
                rows.append({"spec": spec.name, "theorem": spec.theorem, "option": option, "m": cfg.m,
                             "sigma": cfg.sigma, "K": spec.K, "checkpoint": k, "n_pairs": n, "baseline_mean": mb,
                             "mean": mn, "change": mn / mb - 1 if mb > 0 else math.nan, "tolerance": tolerance,
                             "p_value": p})
    adj = stats.holm([r["p_value"] for r in rows]) if rows else []
    for r, a in zip(rows, adj):
        r["p_holm"] = float(a)
        r["regression"] = "regression" if a <= alpha else "ok"
    return pd.DataFrame(rows, columns=COLUMNS)


def n_regressions(table) -> int:
    return int(sum(1 for v in np.asarray(table["regression"]) if v == "regression")) if len(table) else 0


def format_regressions(table, alpha: float = 0.05) -> str:
    """Text table of the regressions found (all compared rows when none is), then a summary line."""
    from .testing import _fmt, records

    rows = records(table)
    reg = [r for r in rows if r["regression"] == "regression"]
    head = (f"{'spec':<24} {'opt':<4} {'m':>4} {'sigma':>7} {'k':>6} {'baseline':>10} {'now':>10} {'change':>8} "
            f"{'p (Holm)':>9}  result")
    lines = ["regressions against the baseline" if reg else "baseline comparison: no regression", head,
             "-" * len(head)]
    for r in reg:
        lines.append(f"{str(r['spec'])[:24]:<24} {r['option']:<4} {_fmt(r['m']):>4} {_fmt(r['sigma']):>7} "
                     f"{_fmt(r['checkpoint']):>6} {_fmt(r['baseline_mean']):>10} {_fmt(r['mean']):>10} "
                     f"{100 * float(r['change']):>+7.2f}% {_fmt(r['p_holm']):>9}  {r['regression']}")
    tol = float(rows[0]["tolerance"]) if rows else 0.01
    lines.append(f"{len(reg)} of {len(rows)} (configuration, option, checkpoint) comparisons worse than the baseline "
                 f"by more than {100 * tol:g} % (paired by seed, one-sided, Holm at {alpha:g})")
    if not reg:
        del lines[1:3]
    return "\n".join(lines)
