"""Build problem, oracle, schedule and algorithm from a spec's configuration and run it (raw results only).

Raw results of each configuration are saved as ``DIR/raw/<spec>/<config>.parquet`` (a pandas DataFrame written by
pyarrow: exact floats, dtypes kept) with a fingerprint of everything that determines them in
``DIR/raw/<spec>/<config>.json``; a re-run reuses a file whose fingerprint matches (interrupted checks resume).
Raw results saved as ``<config>.csv`` by an older theorycheck (before raw results were Parquet) are never read: such
a configuration counts as not yet run (stale), is run again and saved as Parquet, and the old CSV file is removed.
"""
from __future__ import annotations

import functools
import inspect
import json
import math
from pathlib import Path

from . import algorithms, theorems
from .oracles import Oracle
from .plugins import PluginError
from .registries import MINIBATCH, NOISES, PROBLEMS
from .run import default_checkpoints, resolve_device, resolve_dtype, run
from .schedules import Constant, Theorem1, Theorem2
from .spec import Config, Spec, SpecError
import pandas as pd

from .table import atomic_write_text, read_table, write_parquet
from .theorems.base import MultiMonitor


@functools.lru_cache(maxsize=32)
def _build_problem(family: str, params_json: str, L, file, device: str):
    params = json.loads(params_json)
    extra = {k: v for k, v in (("L", L), ("file", file)) if v is not None}
    return PROBLEMS.get(family)(device=device, **params, **extra)


def _allowed_params(family: str) -> str:
    """'; allowed: [...]' — the keyword parameters a problem factory accepts (for the error message)."""
    try:
        f = PROBLEMS.get(family)
        sig = inspect.signature(f.target() if hasattr(f, "target") else f)
    except (PluginError, TypeError, ValueError):
        return ""
    names = [n for n, q in sig.parameters.items() if n not in ("device", "L", "file")
             and q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]
    return f"; allowed: {names}" if names else ""


def build_problem(spec: Spec, device="cpu"):
    p = spec.problem
    try:
        return _build_problem(p["family"], json.dumps(p.get("params", {}), sort_keys=True), p.get("L"),
                              p.get("file"), str(resolve_device(device)))
    except TypeError as e:  # unknown constructor argument
        raise SpecError(f"{spec.path}: [problem.params] {e}{_allowed_params(p['family'])}") from None
    except PluginError as e:
        raise SpecError(f"{spec.path}: [problem.family] {e}") from None


def schedule_V(spec: Spec, problem) -> float:
    V = spec.schedule.get("V", "true")
    if V != "true":
        return float(V)
    if problem.x_star is None:
        raise SpecError(f"{spec.path}: [schedule.V] 'true' needs a minimiser, and {problem.name} has none "
                        "(its infimum is not attained): give V as a number")
    return problem.V0()


def build_oracle(spec: Spec, cfg: Config, problem) -> Oracle:
    nz = spec.noise
    if nz["model"] == MINIBATCH:
        return Oracle(problem, batch=cfg.batch)
    kw = {k: nz[k] for k in ("df", "p") if k in nz}
    try:
        return Oracle(problem, NOISES.get(nz["model"])(cfg.sigma, **kw, **nz.get("params", {})))
    except (PluginError, TypeError) as e:
        raise SpecError(f"{spec.path}: [noise.model] {e}") from None


def build_schedule(spec: Spec, cfg: Config, problem, oracle):
    """The schedule of spec.schedule.kind: 'constant', 'theorem1', 'theorem2' (THEORY §4.2, §4.4) or a kind a
    theorem defines (``Theorem.schedule_kinds``, e.g. 'cm_thm1', 'mdsa')."""
    c, sc, K = problem.constants, spec.schedule, spec.K
    if sc["kind"] == "constant":
        return Constant(sc.get("beta", 0.0), alpha=sc.get("alpha"), eta=sc.get("eta"))
    if sc["kind"] in ("theorem1", "theorem2"):
        cls = Theorem1 if sc["kind"] == "theorem1" else Theorem2
        return cls(c.L, schedule_V(spec, problem), oracle.sigma, c.M, cfg.m, K, lam=sc.get("lam"),
                   force=spec.check.get("force", False))
    kinds = theorems.schedule_kinds()
    if sc["kind"] not in kinds:
        raise SpecError(f"{spec.path}: [schedule.kind] unknown kind {sc['kind']!r}")
    return kinds[sc["kind"]](spec, cfg, problem, oracle)


def build(spec: Spec, cfg: Config, device="cpu"):
    """(problem, oracle, schedule, algorithm) for one configuration."""
    problem = build_problem(spec, device)
    oracle = build_oracle(spec, cfg, problem)
    schedule = build_schedule(spec, cfg, problem, oracle)
    name = spec.algorithm["name"]
    m = cfg.m if algorithms.needs_m(name) else None
    alg = algorithms.make(name, problem.setup, schedule, m, **spec.algorithm.get("params", {}))
    return problem, oracle, schedule, alg


def monitors(spec: Spec, problem):
    """The run monitors the spec's theorem (and, with check.lemma1, the Lemma 1 certificate) need, as one."""
    out = []
    th = theorems.get(spec.theorem)
    if th is not None and th.monitor(spec, problem) is not None:
        out.append(th.monitor(spec, problem))
    if spec.check.get("lemma1") and (th is None or th.name != "lemma1"):
        out.append(theorems.get("lemma1").monitor(spec, problem))
    return MultiMonitor(out) if out else None


def run_config(spec: Spec, cfg: Config, n_seeds=None, device="cpu", dtype=None, progress=None) -> pd.DataFrame:
    """Run one configuration over its seeds; returns the tidy raw table (one row per seed × checkpoint × option).
    progress: the per-step bar of :func:`theorycheck.run.run` (None: only on a TTY)."""
    n_seeds = n_seeds or spec.n_seeds
    dtype = resolve_dtype(dtype or spec.run.get("dtype", "float64"))
    problem, oracle, schedule, alg = build(spec, cfg, device)
    seed0 = spec.run.get("seed0", 0)
    options = spec.algorithm.get("options") or [alg.default_option]
    cps = spec.run.get("checkpoints", "log")
    cps = default_checkpoints(spec.K, alg.stride) if cps == "log" else cps
    monitor = monitors(spec, problem)
    res = run(problem, oracle, alg, spec.K, range(seed0, seed0 + n_seeds), options=options, checkpoints=cps,
              dtype=dtype, device=device, progress=progress, monitor=monitor,
              config={"spec": spec.name, "config": cfg.key, "theorem": spec.theorem,
                      "lambda": getattr(schedule, "lam", math.nan), "V_schedule": getattr(schedule, "V", math.nan),
                      "batch": cfg.batch or 0})
    t = res.table
    if monitor is not None:
        for name, col in monitor.columns(t, n_seeds).items():
            t[name] = col
    return t


RAW_SUFFIX = ".parquet"
LEGACY_SUFFIX = ".csv"  # raw results of theorycheck before the Parquet format: never read, re-run


def raw_path(out_dir, spec: Spec, cfg: Config) -> Path:
    """DIR/raw/<spec>/<config>.parquet (its fingerprint: the same path with suffix .json)."""
    return Path(out_dir) / "raw" / spec.name / f"{cfg.key}{RAW_SUFFIX}"


def save_raw(t: pd.DataFrame, path: Path) -> None:
    """Write a raw table as Parquet, atomically, and remove a legacy CSV twin of it (same name, ``.csv``)."""
    write_parquet(t, path)
    legacy = path.with_suffix(LEGACY_SUFFIX)
    if legacy.is_file():
        legacy.unlink()


def run_or_load(spec: Spec, cfg: Config, out_dir, n_seeds=None, device="cpu", dtype=None,
                progress=None) -> pd.DataFrame:
    """Reuse DIR/raw/<spec>/<config>.parquet when its fingerprint (theorycheck.provenance.results_fingerprint: spec
    keys, code hash, data file SHA-256, certified constants) matches, else run and save atomically."""
    n_seeds = n_seeds or spec.n_seeds
    dtype_name = dtype or spec.run.get("dtype", "float64")
    from .provenance import code_fingerprint, results_fingerprint, run_metadata

    fp = results_fingerprint(spec, cfg, n_seeds, dtype_name, str(device))
    path = raw_path(out_dir, spec, cfg)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and json.loads(meta.read_text()).get("fingerprint") == fp:
        return read_table(path)
    t = run_config(spec, cfg, n_seeds, device, dtype_name, progress)
    save_raw(t, path)
    atomic_write_text(meta, json.dumps({"fingerprint": fp, "spec": spec.name, "config": cfg.key,
                                        "code_fingerprint": code_fingerprint(spec, cfg, n_seeds, dtype_name, str(device)),
                                        "n_seeds": n_seeds, **run_metadata(str(device), dtype_name)}))
    return t
