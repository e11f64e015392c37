"""Theorem checks inside a project's own test suite (pytest, unittest, or a plain script).

* :func:`check_spec` runs one spec (a ``.toml`` path, a spec name, a dict in the TOML layout, or a
  :class:`~theorycheck.spec.Spec`) — or a list of them — or a check given as objects (``problem=``, ``oracle=``,
  ``algorithm=``, ``theorem=``, see :func:`theorycheck.spec_objects.spec_from_objects`) and returns the verdict
  table, a pandas DataFrame (one row per test, the columns of ``theorycheck check``'s ``verdicts.csv``). All tests
  of one call form one Holm family.
* :func:`assert_holds` does the same (or takes a verdict table) and raises ``AssertionError`` with a readable
  report of every row that did not hold: statistic, one-sided limits, bound, ratio = bound / value, seeds needed,
  and the ``method`` column when the table has one.
* :func:`parametrize_with_theorems` is a ``pytest.mark.parametrize`` decorator in the style of scikit-learn's
  ``parametrize_with_checks``: one test per (spec, configuration, theorem), each given the spec and a ``check``
  callable. The Holm family is the spec (its configurations are run once and corrected together).

Example (a complete test file)::

    from theorycheck.testing import assert_holds, parametrize_with_theorems

    def test_am1_least_squares():
        assert_holds("tests/check_ls.toml", seeds=50)

    @parametrize_with_theorems(["ls_thm1a"])
    def test_each_configuration(spec, check):
        check(spec)

    from theorycheck.problems.synthetic import least_squares
    from theorycheck.theorems.zhou_thm1a import ZhouThm1a

    def test_objects():
        assert_holds(problem=least_squares(n=20, seed=0), algorithm="am1", theorem=ZhouThm1a(), sigma=0.1, m=10,
                     K=400, seeds=50, options="II")
"""
from __future__ import annotations

import contextlib
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["check_spec", "assert_holds", "parametrize_with_theorems", "format_report", "records", "load",
           "outcome", "TheoremCheckFailed"]

INCONCLUSIVE_POLICIES = ("fail", "skip", "xfail")
REPORT_COLUMNS = [("spec", "spec"), ("config", "config"), ("option", "opt"), ("checkpoint", "k"),
                  ("statistic", "statistic"), ("value", "value"), ("ci_low", "lower"), ("ci_high", "upper"),
                  ("bound", "bound"), ("bound_form", "form"), ("ratio", "ratio"), ("seeds_needed", "seeds needed"),
                  ("method", "method"), ("verdict", "verdict")]


class TheoremCheckFailed(AssertionError):
    """A theorem check did not hold; ``str(e)`` is the readable report, ``e.rows`` the offending verdict rows."""

    def __init__(self, message: str, rows=()):
        super().__init__(message)
        self.rows = list(rows)


# --- inputs -------------------------------------------------------------------------------------------------------
def load(spec):
    """A :class:`~theorycheck.spec.Spec` from a Spec, a dict (TOML layout, validated by ``parse_spec``), a path to a
    ``.toml`` file, or the name of a spec in ``./problems`` or the packaged suite. Raises ``SpecError`` (a
    ``ValueError``) naming the field on bad input."""
    from .spec import Spec, SpecError, load_spec, parse_spec

    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return parse_spec(spec, "<dict>", default_name=str(spec.get("name", "spec")))
    if isinstance(spec, (str, Path)):
        p = Path(spec)
        if p.suffix == ".toml" or p.exists():
            return load_spec(p)
        import importlib.resources

        for d in (Path("problems"), Path(importlib.resources.files("theorycheck.specs"))):
            if (d / f"{spec}.toml").is_file():
                return load_spec(d / f"{spec}.toml")
        raise SpecError(f"{spec}: no spec file and no spec of that name in ./problems or the packaged suite")
    raise TypeError(f"spec must be a path, a spec name, a dict or a theorycheck.spec.Spec, got {type(spec).__name__}"
                    " (give problem/oracle/algorithm/theorem objects as keyword arguments: check_spec(problem=..., "
                    "algorithm=..., theorem=..., K=...))")


def records(verdicts) -> list[dict]:
    """The rows of a verdict table (a pandas DataFrame, or a list of dicts) as a list of dicts."""
    if isinstance(verdicts, list):
        return verdicts
    return verdicts.to_dict("records")


# --- running ------------------------------------------------------------------------------------------------------
def config_id(cfg) -> str:
    """``sigma=0.1,m=10`` (the key of a configuration, as shown in test ids)."""
    return cfg.key.replace("_", ",")


@dataclass
class FamilyResult:
    """The outcome of running specs as one Holm family. ``verdicts`` is the finalized verdict table; ``slices``
    maps (spec name, config key) to the (start, stop) rows of that configuration; ``errors`` holds the exception
    of each configuration that crashed (only when run with ``catch=True``)."""

    verdicts: object
    slices: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    tables: list = field(default_factory=list)
    alpha: float = 0.05

    def rows(self, spec_name: str, cfg_key: str) -> list[dict]:
        a, b = self.slices.get((spec_name, cfg_key), (0, 0))
        return records(self.verdicts)[a:b]


def fresh_run(spec, cfg, out, seeds=None, device="cpu", dtype=None, progress=False, reuse=False):
    """``experiment.run_or_load``, forcing a fresh run unless ``reuse`` (a saved result whose spec fingerprint
    matches would otherwise be reused even when the algorithm's code changed)."""
    from . import experiment

    if not reuse:
        meta = experiment.raw_path(out, spec, cfg).with_suffix(".json")
        meta.unlink(missing_ok=True)
    return experiment.run_or_load(spec, cfg, out, seeds, device, dtype, progress)


def run_family(specs, *, seeds=None, device="cpu", dtype=None, out, alpha=None, progress=False, reuse=False,
               catch=False) -> FamilyResult:
    """Run every configuration of ``specs`` and apply Holm across all their tests (one family).

    With ``catch`` a configuration that raises is recorded in ``errors`` and left out of the family."""
    from .check import evaluate, finalize
    from .executors import cpu_threads

    specs = [load(s) for s in specs]
    if alpha is None:
        alpha = min([s.check.get("alpha", 0.05) for s in specs] or [0.05])
    rows, slices, errors, tables = [], {}, {}, []
    with cpu_threads(device):  # one torch thread on the CPU, as in the CLI (docs/scaling.md); restored afterwards
        for spec in specs:
            for cfg in spec.configs():
                try:
                    t = fresh_run(spec, cfg, out, seeds, device, dtype, progress, reuse)
                    r = evaluate(spec, cfg, t, device)
                except Exception as e:  # noqa: BLE001 - reported per configuration
                    if not catch:
                        raise
                    errors[(spec.name, cfg.key)] = e
                    continue
                slices[(spec.name, cfg.key)] = (len(rows), len(rows) + len(r))
                rows += r
                tables.append(t)
    return FamilyResult(finalize(rows, alpha), slices, errors, tables, alpha)


@contextlib.contextmanager
def _out_dir(out):
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        yield Path(out)
    else:
        with tempfile.TemporaryDirectory(prefix="theorycheck-") as d:
            yield Path(d)


def _from_objects(spec, seeds, objects):
    """``spec``, or the Spec built from ``objects`` (keyword arguments of spec_from_objects)."""
    if not objects:
        if spec is None:
            raise TypeError("give a spec (path, name, dict, Spec or list) or objects: problem=..., algorithm=..., "
                            "theorem=..., K=...")
        return spec
    if spec is not None:
        raise TypeError(f"give either a spec or objects ({', '.join(sorted(objects))}), not both")
    from .spec_objects import spec_from_objects

    return spec_from_objects(seeds=seeds, **objects)


def check_spec(spec=None, *, seeds=None, device="cpu", dtype=None, out=None, alpha=None, progress=False,
               reuse=False, **objects):
    """Run a spec (or a list of specs, one Holm family), or a check given as objects, and return its verdict
    table.

    spec: a path to a ``.toml`` file, the name of a spec (``./problems`` or the packaged suite), a dict in the
    TOML layout (e.g. ``{"theorem": "thm1a", "problem": {...}, ...}``), a :class:`~theorycheck.spec.Spec`, or a
    list of these. seeds: seeds per configuration (default: the spec's ``run.seeds``). device: "cpu" or "cuda".
    dtype: "float32" / "float64" (default: the spec's). out: folder for the raw results (``raw/<spec>/``, readable
    by ``theorycheck figures``) and ``verdicts.csv``; default: a temporary folder, deleted afterwards.
    alpha: family-wise error rate (default: the smallest ``check.alpha`` of the specs). Results of an earlier run
    in ``out`` are reused only with ``reuse=True``.

    objects (instead of ``spec``): ``problem`` (a Problem, a factory or a family name), ``oracle`` (an Oracle, a
    Noise, a noise model name; or ``sigma=`` alone for sphere noise), ``algorithm`` (an Algorithm class or a
    name), ``theorem`` (a Theorem instance or class, or a name), ``K``, and optionally ``sigma``, ``m``,
    ``schedule``, ``options``, ``checkpoints``, ``check`` (e.g. ``{"bound_scale": 0.01}``), ``name``,
    ``problem_params``, ``algorithm_params``: the keyword arguments of
    :func:`theorycheck.spec_objects.spec_from_objects`, which registers the objects and builds an ordinary, validated
    spec (results of objects are never reused from one call to the next).

    Returns the verdict table, a pandas DataFrame (one row per test; columns as in docs/checks.md).
    Raises ``SpecError`` (a ``ValueError``) on a bad spec, ``ValueError`` on bad arguments, ``TypeError`` on
    objects of the wrong kind.
    """
    spec = _from_objects(spec, seeds, objects)
    specs = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2):
        raise ValueError(f"seeds must be an integer >= 2 (a confidence interval needs two), got {seeds!r}")
    specs = [load(s) for s in specs]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"spec names must be unique in one call, got {names}")
    with _out_dir(out) as d:
        res = run_family(specs, seeds=seeds, device=device, dtype=dtype, out=d, alpha=alpha, progress=progress,
                         reuse=reuse)
        if out is not None:
            from .table import write_csv

            write_csv(res.verdicts, d / "verdicts.csv")
    return res.verdicts


# --- outcomes and reports -----------------------------------------------------------------------------------------
def _is_vacuous(r) -> bool:
    return "vacuous" in str(r.get("verdict", "")) or "vacuous" in str(r.get("bound_form", ""))


def outcome(rows) -> str:
    """'fail' when a row is violated; else 'inconclusive' when a row is inconclusive, assumptions-failed or
    vacuous (its bound holds for any algorithm); else 'pass' (also for no rows)."""
    v = [str(r.get("verdict")) for r in rows]
    if "violated" in v:
        return "fail"
    if any(x != "holds" for x in v) or any(_is_vacuous(r) for r in rows):
        return "inconclusive"
    return "pass"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "-"
    if f.is_integer() and abs(f) < 1e9:
        return str(int(f))
    return format(f, ".4g")


def format_report(verdicts, title: str | None = None) -> str:
    """A fixed-width text table of verdict rows: spec, configuration, option, checkpoint k, statistic, value,
    one-sided lower/upper limits, bound (and its form), ratio = bound / value, seeds needed, method (if present),
    verdict; rows whose assumptions failed get a line naming them."""
    rows = records(verdicts)
    if not rows:
        return (title + "\n" if title else "") + "(no verdict rows)"
    cols = [(k, h) for k, h in REPORT_COLUMNS if k == "config" or any(k in r for r in rows)]
    cells = []
    for r in rows:
        r = dict(r)
        r["config"] = f"sigma={_fmt(r.get('sigma'))},m={_fmt(r.get('m'))}"
        cells.append([_fmt(r.get(k)) for k, _ in cols])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(cols)]
    line = lambda xs: "  ".join(x.ljust(w) for x, w in zip(xs, widths)).rstrip()
    out = [title] if title else []
    out += [line([h for _, h in cols]), line(["-" * w for w in widths])]
    for r, c in zip(rows, cells):
        out.append(line(c))
        if str(r.get("assumptions", "ok")) not in ("ok", "nan", "None"):
            out.append(f"    assumptions: {r['assumptions']}")
    return "\n".join(out)


def _explain(rows, alpha=None) -> str:
    n_bad = sum(1 for r in rows if r.get("verdict") != "holds" or _is_vacuous(r))
    return (f"{n_bad} of {len(rows)} theorem checks did not hold (holds: Holm-adjusted upper limit < bound; "
            f"violated: lower limit > bound; inconclusive: neither, 'seeds needed' would settle it)")


def assert_holds(spec=None, *, seeds=None, device="cpu", dtype=None, out=None, alpha=None, inconclusive="fail",
                 reuse=False, **objects):
    """Assert that every theorem check of ``spec`` holds; return the verdict table.

    spec: anything :func:`check_spec` accepts, or an already computed verdict table (a DataFrame); or, instead,
    the objects of :func:`check_spec` as keyword arguments (``problem=``, ``algorithm=``, ``theorem=``, ``K=``...).
    inconclusive: what to do when nothing is violated but some rows are inconclusive, assumptions-failed or
    vacuous: "fail" (raise, the default), "skip" or "xfail" (``pytest.skip`` / ``pytest.xfail`` with the report).
    Raises :class:`TheoremCheckFailed` (an ``AssertionError``) whose message is the report of the offending rows.
    """
    if inconclusive not in INCONCLUSIVE_POLICIES:
        raise ValueError(f"inconclusive must be one of {INCONCLUSIVE_POLICIES}, got {inconclusive!r}")
    if hasattr(spec, "iloc") and not objects:  # a verdict table (DataFrame)
        verdicts = spec
    else:
        verdicts = check_spec(spec, seeds=seeds, device=device, dtype=dtype, out=out, alpha=alpha, reuse=reuse,
                              **objects)
    raise_for(records(verdicts), inconclusive)
    return verdicts


def raise_for(rows, inconclusive="fail", context: str = "") -> None:
    """Raise :class:`TheoremCheckFailed` (violated, or inconclusive with policy "fail"), or skip / xfail."""
    res = outcome(rows)
    if res == "pass":
        return
    bad = [r for r in rows if r.get("verdict") != "holds" or _is_vacuous(r)]
    if res == "fail":
        bad = [r for r in bad if r.get("verdict") == "violated"] + [r for r in bad if r.get("verdict") != "violated"]
    msg = format_report(bad, (context + ": " if context else "") + _explain(rows))
    if res == "inconclusive" and inconclusive != "fail":
        import pytest

        reason = f"theorem check not settled ({', '.join(sorted(set(str(r.get('verdict')) for r in bad)))}):\n{msg}"
        (pytest.skip if inconclusive == "skip" else pytest.xfail)(reason)
    raise TheoremCheckFailed(msg, bad)


# --- pytest parametrization ---------------------------------------------------------------------------------------
_CACHE: dict = {}


def _family_key(spec, seeds, device, dtype, out, alpha) -> str:
    d = {k: getattr(spec, k) for k in ("name", "theorem", "problem", "noise", "algorithm", "schedule", "run",
                                       "check")}
    return json.dumps([d, seeds, device, dtype, str(out), alpha], sort_keys=True, default=str)


def _spec_family(spec, seeds, device, dtype, out, alpha) -> FamilyResult:
    """Run the spec once per process and setting (all its configurations, one Holm family), then reuse."""
    key = _family_key(spec, seeds, device, dtype, out, alpha)
    if key not in _CACHE:
        with _out_dir(out) as d:
            _CACHE[key] = run_family([spec], seeds=seeds, device=device, dtype=dtype, out=d, alpha=alpha,
                                     catch=True)
    return _CACHE[key]


class _ConfigCheck:
    """The ``check`` callable handed to a parametrized test: ``check(spec)`` asserts the configuration holds."""

    def __init__(self, spec, cfg, settings):
        self.spec, self.cfg, self.settings = spec, cfg, settings

    def __call__(self, spec=None):
        s = self.settings
        fam = _spec_family(self.spec, s["seeds"], s["device"], s["dtype"], s["out"], s["alpha"])
        key = (self.spec.name, self.cfg.key)
        if key in fam.errors:
            raise fam.errors[key]
        raise_for(fam.rows(*key), s["inconclusive"], f"{self.spec.name} {self.spec.theorem}[{config_id(self.cfg)}]")

    def __repr__(self):
        return f"check({self.spec.name}, {self.cfg.key})"


def parametrize_with_theorems(specs, *, seeds=None, device="cpu", dtype=None, out=None, alpha=None,
                              inconclusive="fail"):
    """``pytest.mark.parametrize("spec, check", ...)``: one test per (spec, configuration, theorem).

    specs: a list of anything :func:`check_spec` accepts. The decorated test receives ``spec`` (the Spec) and
    ``check`` (call ``check(spec)``; it raises :class:`TheoremCheckFailed` unless every test of that configuration
    holds; inconclusive rows follow ``inconclusive``). Test ids read ``ls_thm1a-thm1a-sigma=0.1,m=10``. Each spec
    is run once per pytest process (all configurations, one Holm family)."""
    import pytest

    if inconclusive not in INCONCLUSIVE_POLICIES:
        raise ValueError(f"inconclusive must be one of {INCONCLUSIVE_POLICIES}, got {inconclusive!r}")
    settings = dict(seeds=seeds, device=device, dtype=dtype, out=out, alpha=alpha, inconclusive=inconclusive)
    params = []
    for s in specs:
        spec = load(s)
        for cfg in spec.configs():
            params.append(pytest.param(spec, _ConfigCheck(spec, cfg, settings),
                                       id=f"{spec.name}-{spec.theorem}-{config_id(cfg)}"))
    return pytest.mark.parametrize("spec, check", params)
