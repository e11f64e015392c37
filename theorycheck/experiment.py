"""Build problem, oracle, schedule and algorithm from a spec's configuration and run it (raw results only).

Raw results of each configuration are saved as ``DIR/raw/<spec>/<config>.csv`` with a fingerprint of everything
that determines them; a re-run reuses a file whose fingerprint matches (interrupted checks resume).
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from . import algorithms
from .oracles import GaussianNoise, NoNoise, Oracle, SphereNoise, SpikeNoise, StudentTNoise
from .run import default_checkpoints, resolve_device, resolve_dtype, run
from .schedules import Constant, Theorem1, Theorem2
from .spec import Config, Spec, SpecError
from .table import Table, atomic_write_text
from .theory.lemma1 import Lemma1Certificate


@functools.lru_cache(maxsize=32)
def _build_problem(family: str, params_json: str, L, file, device: str):
    from .problems import synthetic

    params = json.loads(params_json)
    if family == "a9a":
        from .problems.a9a import load_a9a

        return load_a9a(L=L if L is not None else "row", device=device, **params)
    if family == "svmlight":
        from .problems.a9a import load_svmlight_problem

        return load_svmlight_problem(file, L=L if L is not None else "row", device=device, **params)
    ctor = {"least_squares": synthetic.least_squares, "nesterov_worst_case": synthetic.nesterov_worst_case,
            "simplex": synthetic.simplex_problem, "l1_composite": synthetic.l1_composite,
            "compact": synthetic.compact_problem, "mad_regression": synthetic.mad_regression}[family]
    return ctor(device=device, **params)


def build_problem(spec: Spec, device="cpu"):
    p = spec.problem
    try:
        return _build_problem(p["family"], json.dumps(p.get("params", {}), sort_keys=True), p.get("L"),
                              p.get("file"), str(resolve_device(device)))
    except TypeError as e:  # unknown constructor argument
        raise SpecError(f"{spec.path}: [problem.params] {e}") from None


def schedule_V(spec: Spec, problem) -> float:
    V = spec.schedule.get("V", "true")
    if V != "true":
        return float(V)
    if problem.x_star is None:
        raise SpecError(f"{spec.path}: [schedule.V] 'true' needs a minimiser, and {problem.name} has none "
                        "(its infimum is not attained): give V as a number")
    return problem.V0()


def build(spec: Spec, cfg: Config, device="cpu"):
    """(problem, oracle, schedule, algorithm) for one configuration."""
    problem = build_problem(spec, device)
    nz = spec.noise
    if nz["model"] == "minibatch":
        oracle = Oracle(problem, batch=cfg.batch)
    else:
        model = nz["model"]
        noise = (StudentTNoise(cfg.sigma, df=nz.get("df", 3)) if model == "student_t" else
                 SpikeNoise(cfg.sigma, p=nz.get("p", 0.01)) if model == "spike" else
                 {"none": NoNoise, "sphere": SphereNoise, "gaussian": GaussianNoise}[model](cfg.sigma))
        oracle = Oracle(problem, noise)
    c, sc, K = problem.constants, spec.schedule, spec.K
    sigma = oracle.sigma
    if sc["kind"] == "constant":
        schedule = Constant(sc.get("beta", 0.0), alpha=sc.get("alpha"), eta=sc.get("eta"))
    else:
        cls = Theorem1 if sc["kind"] == "theorem1" else Theorem2
        schedule = cls(c.L, schedule_V(spec, problem), sigma, c.M, cfg.m, K, lam=sc.get("lam"),
                       force=spec.check.get("force", False))
    m = cfg.m if spec.algorithm["name"] in algorithms.NEEDS_M else None
    alg = algorithms.make(spec.algorithm["name"], problem.setup, schedule, m)
    return problem, oracle, schedule, alg


def run_config(spec: Spec, cfg: Config, n_seeds=None, device="cpu", dtype=None, progress=None) -> Table:
    """Run one configuration over its seeds; returns the tidy raw table."""
    n_seeds = n_seeds or spec.n_seeds
    dtype = resolve_dtype(dtype or spec.run.get("dtype", "float64"))
    problem, oracle, schedule, alg = build(spec, cfg, device)
    seed0 = spec.run.get("seed0", 0)
    options = spec.algorithm.get("options") or [alg.default_option]
    cps = spec.run.get("checkpoints", "log")
    cps = default_checkpoints(spec.K, alg.stride) if cps == "log" else cps
    monitor = Lemma1Certificate(problem) if spec.check.get("lemma1") else None
    res = run(problem, oracle, alg, spec.K, range(seed0, seed0 + n_seeds), options=options, checkpoints=cps,
              dtype=dtype, device=device, progress=progress, monitor=monitor,
              config={"spec": spec.name, "config": cfg.key, "theorem": spec.theorem,
                      "lambda": getattr(schedule, "lam", math.nan), "V_schedule": getattr(schedule, "V", math.nan),
                      "batch": cfg.batch or 0})
    t = res.table
    if monitor is not None:
        rel = np.tile(monitor.min_rel_slack.cpu().numpy(), len(t) // n_seeds)
        t.columns["lemma1_min_rel_slack"] = rel
    return t


def raw_path(out_dir, spec: Spec, cfg: Config) -> Path:
    return Path(out_dir) / "raw" / spec.name / f"{cfg.key}.csv"


def run_or_load(spec: Spec, cfg: Config, out_dir, n_seeds=None, device="cpu", dtype=None, progress=None) -> Table:
    """Reuse DIR/raw/<spec>/<config>.csv when its fingerprint (theorycheck.provenance.results_fingerprint: spec
    keys, code hash, data file SHA-256, certified constants) matches, else run and save atomically."""
    n_seeds = n_seeds or spec.n_seeds
    dtype_name = dtype or spec.run.get("dtype", "float64")
    from .provenance import results_fingerprint, run_metadata

    fp = results_fingerprint(spec, cfg, n_seeds, dtype_name, str(device))
    path = raw_path(out_dir, spec, cfg)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and json.loads(meta.read_text()).get("fingerprint") == fp:
        return Table.read_csv(path)
    t = run_config(spec, cfg, n_seeds, device, dtype_name, progress)
    t.to_csv(path)
    atomic_write_text(meta, json.dumps({"fingerprint": fp, "spec": spec.name, "config": cfg.key,
                                        "n_seeds": n_seeds, **run_metadata(str(device), dtype_name)}))
    return t
