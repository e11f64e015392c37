"""What ``theorycheck run`` / ``check`` save next to the raw results, so that ``theorycheck figures`` (figures and
the claims table) needs nothing but the results folder: no spec file, no data set, no problem to build.

Layout, next to ``DIR/raw/<spec>/<config>.parquet`` (+ ``.json`` fingerprint, written by :mod:`theorycheck.experiment`):

* ``DIR/raw/<spec>/spec.json`` — the spec as parsed (its TOML tables as JSON); :func:`load_saved_spec` parses it
  back with :func:`theorycheck.spec.parse_spec`, so it is validated like a spec file and has the same fingerprint.
* ``DIR/raw/<spec>/<config>.context.json`` — everything the figures read from the built configuration: the
  problem's declared constants (L, M, D_X, F_ref, attained), whether a minimiser exists, V_d(x⋆, x0), F(x0) − F_ref,
  the comparator points (name, Δ_u, V_u; declared ones and the segment points, see
  :func:`theorycheck.check.comparator_points`), the oracle's σ (dual norm; for a minibatch oracle the σ it
  satisfies), the schedule's η = α(1 − β), λ and V, the algorithm's name and m, and the unadjusted tests of
  :func:`theorycheck.check.evaluate` as recipes (bound or threshold; the errors come from the raw table), from
  which :func:`tests_from_context` rebuilds the same tests without building anything. It carries the raw table's
  fingerprint and is ignored when that does not match.

All files are written atomically. Numbers are JSON floats (``Infinity``/``NaN`` where the constants are not
finite).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .spec import Spec, SpecError, parse_spec
from .table import atomic_write_text

SPEC_FILE = "spec.json"
SPEC_TABLES = ("theorem", "problem", "noise", "algorithm", "schedule", "run", "check")


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _float(v) -> float:
    return math.nan if v is None else float(v)


def _dumps(d) -> str:
    return json.dumps(d, indent=1, sort_keys=True, default=_jsonable)


# --- the spec ------------------------------------------------------------------------------------------------------
def spec_to_dict(spec: Spec) -> dict:
    """The spec's TOML content (top-level keys and tables) as a dict that :func:`parse_spec` accepts."""
    d = {"name": spec.name, "theorem": spec.theorem, "description": spec.description, "suite": list(spec.suite)}
    for t in ("problem", "noise", "algorithm", "schedule", "run", "check"):
        d[t] = getattr(spec, t)
    return d


def spec_dir(out_dir, name: str) -> Path:
    return Path(out_dir) / "raw" / name


def save_spec(spec: Spec, out_dir) -> Path:
    """Write DIR/raw/<spec>/spec.json (atomically)."""
    p = spec_dir(out_dir, spec.name) / SPEC_FILE
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p, _dumps({"source": str(spec.path), "spec": spec_to_dict(spec)}))
    return p


def saved_spec_names(results_dir) -> list[str]:
    """Names of the specs whose spec.json is in DIR/raw/, sorted."""
    raw = Path(results_dir) / "raw"
    return sorted(p.parent.name for p in raw.glob(f"*/{SPEC_FILE}")) if raw.is_dir() else []


def load_saved_spec(results_dir, name: str) -> Spec | None:
    """The spec saved with the results (None when there is none); SpecError when the saved file is invalid."""
    p = spec_dir(results_dir, name) / SPEC_FILE
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text())
        return parse_spec(d["spec"], path=str(d.get("source", p)), default_name=name)
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise SpecError(f"{p}: not a saved spec ({e})") from None


# --- per-configuration context -------------------------------------------------------------------------------------
def context_path(out_dir, spec: Spec, cfg) -> Path:
    from .experiment import raw_path

    p = raw_path(out_dir, spec, cfg)
    return p.with_name(p.stem + ".context.json")


def _test_recipe(row: dict) -> dict:
    from . import theorems

    t = row["test"]
    column = theorems.get(row["theorem"]).statistic  # the raw-table column of the per-seed statistic
    if row.get("bound_form") == "lemma1":
        return {"kind": "pathwise", "column": "lemma1_min_rel_slack"}
    if t.statistic == "lemma1":  # a pathwise certificate (theorems.base.certificate_test)
        return {"kind": "pathwise", "column": column}
    if t.statistic == "exceedance":
        return {"kind": "exceedance", "threshold": float(t.extra["threshold"]), "p_allowed": float(t.bound),
                "alpha": float(t.alpha), "column": column}
    rng = [float(t.extra["range_low"]), float(t.extra["range_high"])] if t.method == "exact-bounded" else None
    return {"kind": "mean", "bound": float(t.bound), "alpha": float(t.alpha), "column": column, "range": rng,
            "deterministic": bool(t.extra.get("deterministic", False))}  # noise-free run (stats.tail_diagnostic)


def config_context(spec: Spec, cfg, table, device="cpu", rows=None) -> dict:
    """The context of one configuration (see the module docstring). ``rows``: the output of
    ``check.evaluate(spec, cfg, table, device)`` when the caller already has it."""
    from .check import comparator_points, evaluate
    from .experiment import build

    problem, oracle, schedule, alg = build(spec, cfg, device)
    c = problem.constants
    has_min = problem.x_star is not None
    pts = comparator_points(problem)
    n_decl = len(problem.comparators)
    cert = getattr(problem, "certificate", None)
    if rows is None:
        rows = evaluate(spec, cfg, table, device)
    tests = [{**{k: v for k, v in r.items() if k != "test"}, "recipe": _test_recipe(r)} for r in rows]
    return {
        "spec": spec.name, "config": cfg.key,
        "problem": {
            "name": problem.name,
            "constants": {"L": float(c.L), "M": float(c.M), "D_X": float(c.D_X), "F_ref": float(c.F_ref),
                          "attained": bool(c.attained)},
            "has_minimiser": has_min, "V0": float(problem.V0()) if has_min else None,
            "F0_gap": float(problem.error(problem.x0[None])[0]),
            "comparators": [{"name": u.name, "delta": float(u.delta), "V": float(u.V)} for u in pts[:n_decl]],
            "segment_comparators": [{"name": u.name, "delta": float(u.delta), "V": float(u.V)} for u in pts[n_decl:]],
            "L_tight": _float(getattr(problem, "L_tight", None)),
            "half_norm_sq": _float(getattr(cert, "half_norm_sq", None)),
        },
        "oracle": {"sigma": float(oracle.sigma), "batch": cfg.batch},
        "schedule": {"eta0": float(schedule.eta(0)), "lam": _float(getattr(schedule, "lam", None)),
                     "V": _float(getattr(schedule, "V", None))},
        "algorithm": {"name": alg.name, "m": int(getattr(alg, "m", None) or 1)},
        "tests": tests,
    }


def save_context(spec: Spec, cfg, out_dir, table, device="cpu", rows=None) -> Path:
    """Write DIR/raw/<spec>/<config>.context.json with the fingerprint of the raw table saved next to it."""
    from .experiment import raw_path

    meta = raw_path(out_dir, spec, cfg).with_suffix(".json")
    fp = json.loads(meta.read_text()).get("fingerprint") if meta.is_file() else None
    ctx = {"fingerprint": fp, **config_context(spec, cfg, table, device, rows)}
    p = context_path(out_dir, spec, cfg)
    atomic_write_text(p, _dumps(ctx))
    return p


def load_context(results_dir, spec: Spec, cfg, fingerprint: str | None) -> dict | None:
    """The saved context when it exists and belongs to the raw table with this fingerprint, else None."""
    p = context_path(results_dir, spec, cfg)
    if fingerprint is None or not p.is_file():
        return None
    try:
        ctx = json.loads(p.read_text())
    except json.JSONDecodeError:
        return None
    return ctx if ctx.get("fingerprint") == fingerprint else None


# --- stand-ins for the built objects -------------------------------------------------------------------------------
class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return f"{type(self).__name__}({self.__dict__})"


class SavedComparator(_Obj):
    """A comparator point as saved: ``name``, ``delta`` = F(u) − F_ref, ``V`` = V_d(u, x0) (no coordinates)."""


class SavedProblem:
    """The parts of a :class:`theorycheck.problems.base.Problem` the figures read, from a saved context.
    ``x_star`` is True (not a point) when a minimiser exists, else None; ``F0_gap`` is F(x0) − F_ref."""

    def __init__(self, d: dict):
        self.name = d["name"]
        self.constants = _Obj(**d["constants"])
        self.x_star = True if d["has_minimiser"] else None
        self._V0 = d["V0"]
        self.F0_gap = float(d["F0_gap"])
        self.comparators = [SavedComparator(**u) for u in d["comparators"]]
        self._segment = [SavedComparator(**u) for u in d["segment_comparators"]]
        self.L_tight = d.get("L_tight", math.nan)
        self.certificate = _Obj(half_norm_sq=d.get("half_norm_sq", math.nan))

    def V0(self) -> float:
        if self._V0 is None:
            raise ValueError(f"{self.name}: no minimiser, so V_d(x*, x0) is undefined")
        return float(self._V0)

    def segment_comparators(self) -> list:
        return list(self._segment)


class SavedSchedule:
    """η = α(1 − β) (constant under the theorems' schedules), λ and V as run."""

    def __init__(self, d: dict):
        self._eta0, self.lam, self.V = float(d["eta0"]), d["lam"], d["V"]

    def eta(self, k=0) -> float:
        return self._eta0


def built_from_context(ctx: dict):
    """(problem, oracle, schedule, algorithm) stand-ins with the attributes the figures read."""
    return (SavedProblem(ctx["problem"]), _Obj(**ctx["oracle"]), SavedSchedule(ctx["schedule"]),
            _Obj(**ctx["algorithm"]))


def tests_from_context(spec: Spec, cfg, table, ctx: dict) -> list[dict]:
    """The rows of ``check.evaluate(spec, cfg, table)`` rebuilt from the saved recipes and the raw table (the same
    test functions on the same errors; ``check.finalize`` gives the same verdicts)."""
    from . import stats
    from .check import _values
    from .theorems.base import certificate_test, mean_test

    cache, rows = {}, []
    for saved in ctx["tests"]:
        r = {k: v for k, v in saved.items() if k != "recipe"}
        rec = saved["recipe"]
        if rec["kind"] == "pathwise":
            test = certificate_test(table[rec["column"]])
        else:
            key = (r["option"], rec["column"])
            if key not in cache:
                cache[key] = _values(table, *key)
            cps, E = cache[key]
            errs = E[cps.index(int(r["checkpoint"]))]
            if rec["kind"] == "mean":
                test = mean_test(errs, rec["bound"], rec["alpha"], tuple(rec["range"]) if rec["range"] else None,
                                 rec.get("deterministic", False))
            else:
                finite = np.where(np.isfinite(errs), errs, np.finfo(np.float64).max)
                test = stats.exceedance_test(finite, rec["threshold"], rec["p_allowed"], alpha=rec["alpha"])
        rows.append({**r, "test": test})
    return rows
