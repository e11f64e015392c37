"""Declarative experiment specs (``problems/*.toml``): parsing and validation.

A spec names a problem family and its parameters, a noise model with a σ grid, an algorithm with an m grid and
output options, a schedule, a theorem, and the run size. Every key is validated before anything runs; a bad
spec raises ``SpecError`` naming the file, the key and the allowed values (the CLI exits with code 2).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import algorithms, theorems
from .plugins import PluginError
from .registries import MINIBATCH, NOISES, PROBLEMS, noise_names

# the built-in theorems (more come from plug-ins: theorycheck.theorems.REGISTRY)
THEOREMS = {**{t.name: f"{t.summary} [{t.reference}]" for t in theorems.BUILTIN}, "none": "no theorem: results only"}
FAMILIES = tuple(PROBLEMS.names())  # built-in problem families (plug-ins: theorycheck.registries.PROBLEMS)
NOISES_BUILTIN = tuple(noise_names())
BUILTIN_SCHEDULES = ("theorem1", "theorem2", "constant")
SCHEDULES = BUILTIN_SCHEDULES + tuple(theorems.schedule_kinds())
# a spec's name names its output folder DIR/raw/<name>/: a plain identifier, never a path
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

# table -> {key: (type(s), required, description)}
SCHEMA = {
    "": {"name": (str, False, "spec name (default: file stem)"), "description": (str, False, "free text"),
         "suite": (list, False, "suites this spec belongs to, e.g. ['default', 'ci']"),
         "theorem": (str, True, f"one of {sorted(THEOREMS)}, a plug-in theorem or 'package.module:object'")},
    "problem": {"family": (str, True, f"one of {FAMILIES}, a plug-in family or 'package.module:factory'"), "params": (dict, False, "constructor arguments"),
                "L": ((str, float, int), False, "'row', 'tight' or a number (a9a/svmlight only)"),
                "file": (str, False, "svmlight file path (family 'svmlight')")},
    "noise": {"model": (str, True, f"one of {NOISES_BUILTIN}, a plug-in noise or 'package.module:factory'"), "sigma": ((list, float, int), False, "σ >= 0 or a list"),
              "df": (int, False, "Student-t degrees of freedom >= 3"),
              "p": (float, False, "spike probability in (0, 1]"), "batch": ((list, int), False, "batch >= 1"),
              "params": (dict, False, "further keyword arguments of the noise factory")},
    "algorithm": {"name": (str, True, f"one of {sorted(algorithms.ALGORITHMS)}, a plug-in or 'package.module:Class'"),
                  "m": ((list, int), False, "m >= 1 or a list"),
                  "options": (list, False, "output options of the algorithm"),
                  "params": (dict, False, "further constructor arguments of the algorithm")},
    "schedule": {"kind": (str, True, f"one of {SCHEDULES} (theorems may define more)"),
                 "V": ((float, int, str), False, "V used to set the steps: a number > 0 or 'true' (V_d(x*, x0))"),
                 "lam": ((float, int), False, "override of λ (0 < λ <= 2/3 unless check.force)"),
                 "eta": ((float, int), False, "constant step > 0"), "beta": ((float, int), False, "in [0, 1)"),
                 "alpha": ((float, int), False, "constant α > 0")},
    "run": {"K": (int, True, "iterations >= 1"), "seeds": (int, False, "number of seeds >= 2"),
            "seed0": (int, False, "first seed >= 0"), "dtype": (str, False, "float32 or float64"),
            "checkpoints": ((str, list), False, "'log' or a list of iteration counts")},
    "check": {"alpha": (float, False, "family-wise error rate in (0, 0.5)"),
              "Lambda": (list, False, "Λ grid for Theorem 1(b), each >= 0"),
              "bound_scale": ((float, int), False, "multiply every bound (negative controls) > 0"),
              "form": (str, False, "'auto', 'theorem' or 'comparator'"),
              "force": (bool, False, "evaluate even when assumptions fail (negative controls)"),
              "lemma1": (bool, False, "record the pathwise Lemma 1 certificate"),
              "pep": (bool, False, "add PEP worst-case columns to the verdicts (sigma = 0 rows; docs/pep.md)")},
}


class SpecError(ValueError):
    pass


@dataclass
class Config:
    """One point of a spec's grid."""

    sigma: float
    m: int
    batch: int | None = None

    @property
    def key(self) -> str:
        return f"sigma={self.sigma:g}_m={self.m}" + (f"_B={self.batch}" if self.batch else "")


@dataclass
class Spec:
    name: str
    path: str
    theorem: str
    problem: dict
    noise: dict
    algorithm: dict
    schedule: dict
    run: dict
    check: dict = field(default_factory=dict)
    description: str = ""
    suite: list = field(default_factory=list)

    @property
    def K(self) -> int:
        return self.run["K"]

    @property
    def n_seeds(self) -> int:
        return self.run.get("seeds", 30)

    def configs(self) -> list[Config]:
        sig = _as_list(self.noise.get("sigma", 0.0))
        ms = _as_list(self.algorithm.get("m", 1))
        bs = _as_list(self.noise.get("batch", [None]))
        return [Config(float(s), int(m), b) for b, s, m in itertools.product(bs, sig, ms)]

    def fingerprint(self, cfg: Config, n_seeds: int, dtype: str, device: str) -> str:
        """Hash of the spec keys that determine a configuration's raw results (for resuming). The full fingerprint
        of saved results (code, data file, constants too) is theorycheck.provenance.results_fingerprint."""
        d = {k: getattr(self, k) for k in ("theorem", "problem", "noise", "algorithm", "schedule", "run")}
        d.update(cfg=cfg.key, seeds=n_seeds, dtype=dtype, device=device)
        # check keys that change raw results: lemma1 adds a column, force changes the schedule's admissible λ
        d.update({f"check.{k}": self.check[k] for k in ("lemma1", "force") if k in self.check})
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _as_list(v):
    return list(v) if isinstance(v, list) else [v]


def _fail(path, key, msg):
    raise SpecError(f"{path}: [{key}] {msg}")


def load_spec(path) -> Spec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML: {e}") from None
    return parse_spec(raw, str(path), default_name=path.stem)


def parse_spec(raw: dict, path: str = "<spec>", default_name: str = "spec") -> Spec:
    tables = {t: raw.get(t, {}) for t in SCHEMA if t}
    top = {k: v for k, v in raw.items() if k not in SCHEMA}
    for k in top:
        if isinstance(top[k], dict):
            _fail(path, k, f"unknown table; allowed tables: {sorted(t for t in SCHEMA if t)}")
    for table, content in [("", top), *tables.items()]:
        if table and table not in ("check",) and table not in raw:
            _fail(path, table, "missing table")
        if not isinstance(content, dict):
            _fail(path, table, "must be a table")
        for key, value in content.items():
            if key not in SCHEMA[table]:
                _fail(path, f"{table}.{key}".strip("."), f"unknown key; allowed: {sorted(SCHEMA[table])}")
            types, _, desc = SCHEMA[table][key]
            types = types if isinstance(types, tuple) else (types,)
            if isinstance(value, bool) and bool not in types or not isinstance(value, types):
                _fail(path, f"{table}.{key}".strip("."), f"wrong type {type(value).__name__}; expected {desc}")
        for key, (_, required, desc) in SCHEMA[table].items():
            if required and key not in content:
                _fail(path, f"{table}.{key}".strip("."), f"missing; expected {desc}")
    spec = Spec(name=top.get("name", default_name), path=path, theorem=top["theorem"],
                description=top.get("description", ""), suite=top.get("suite", []), **tables)
    _validate_values(spec)
    return spec


def _validate_values(s: Spec):
    p = s.path

    def need(cond, key, msg):
        if not cond:
            _fail(p, key, msg)

    need(isinstance(s.name, str) and NAME_PATTERN.fullmatch(s.name) is not None and ".." not in s.name, "name",
         f"must be a plain identifier (letters, digits, '_', '.', '-'; not starting with '.' or '-'; no '..', no "
         f"path separators), got {s.name!r}")
    for key, v in (("noise.sigma", s.noise.get("sigma", 0.0)), ("algorithm.m", s.algorithm.get("m", 1)),
                   ("noise.batch", s.noise.get("batch", [None]))):
        need(v != [], key, "must not be empty (an empty grid tests nothing): give a value or a non-empty list")
    theorem = None
    if s.theorem != theorems.NONE:
        need(s.theorem in theorems.REGISTRY, "theorem",
             f"must be one of {sorted(theorems.REGISTRY.names() + [theorems.NONE])} or 'package.module:object', "
             f"got {s.theorem!r}")
        try:
            theorem = theorems.get(s.theorem)
        except PluginError as e:
            _fail(p, "theorem", str(e))
    need(s.problem["family"] in PROBLEMS, "problem.family",
         f"must be one of {tuple(PROBLEMS.names())} or 'package.module:factory', got {s.problem['family']!r}")
    need(s.problem["family"] != "svmlight" or "file" in s.problem, "problem.file", "required for family 'svmlight'")
    need(s.noise["model"] == MINIBATCH or s.noise["model"] in NOISES, "noise.model",
         f"must be one of {tuple(noise_names())} or 'package.module:factory', got {s.noise['model']!r}")
    for sg in _as_list(s.noise.get("sigma", 0.0)):
        need(isinstance(sg, (int, float)) and not isinstance(sg, bool) and sg >= 0, "noise.sigma",
             f"each σ must be a number >= 0, got {sg!r}")
    if s.noise["model"] == MINIBATCH:
        need("batch" in s.noise, "noise.batch", "required for the minibatch oracle (integer >= 1)")
        for b in _as_list(s.noise["batch"]):
            need(isinstance(b, int) and b >= 1, "noise.batch", f"each batch must be an integer >= 1, got {b!r}")
    need(s.noise.get("df", 3) >= 3, "noise.df", f"must be an integer >= 3, got {s.noise.get('df')!r}")
    need(0 < s.noise.get("p", 0.01) <= 1, "noise.p", f"must be in (0, 1], got {s.noise.get('p')!r}")
    need(s.algorithm["name"] in algorithms.REGISTRY, "algorithm.name",
         f"must be one of {algorithms.REGISTRY.names()} or 'package.module:Class', got {s.algorithm['name']!r}")
    try:
        alg_cls = algorithms.get(s.algorithm["name"])
    except PluginError as e:
        _fail(p, "algorithm.name", str(e))
    for m in _as_list(s.algorithm.get("m", 1)):
        need(isinstance(m, int) and not isinstance(m, bool) and m >= 1, "algorithm.m",
             f"each m must be an integer >= 1, got {m!r}")
    opts = alg_cls.options
    for o in s.algorithm.get("options", []):
        need(o in opts, "algorithm.options", f"each option must be one of {opts}, got {o!r}")
    sch = s.schedule
    kinds = BUILTIN_SCHEDULES + tuple(theorems.schedule_kinds())
    need(sch["kind"] in kinds, "schedule.kind", f"must be one of {kinds}, got {sch['kind']!r}")
    V = sch.get("V", "true")
    need(V == "true" or (isinstance(V, (int, float)) and V > 0), "schedule.V", f"must be 'true' or > 0, got {V!r}")
    if sch["kind"] == "constant":
        need(("eta" in sch) != ("alpha" in sch), "schedule.eta", "give exactly one of eta and alpha (> 0)")
        need(0 <= sch.get("beta", 0.0) < 1, "schedule.beta", f"must be in [0, 1), got {sch.get('beta')!r}")
        for k in ("eta", "alpha"):
            need(sch.get(k, 1.0) > 0, f"schedule.{k}", f"must be > 0, got {sch.get(k)!r}")
    if "lam" in sch:
        need(sch["lam"] > 0, "schedule.lam", f"must be > 0, got {sch['lam']!r}")
        need(sch["lam"] <= 2 / 3 or s.check.get("force", False), "schedule.lam",
             f"must be in (0, 2/3] (the theorems' range) unless check.force = true, got {sch['lam']!r}")
    r = s.run
    need(r["K"] >= 1, "run.K", f"must be >= 1, got {r['K']!r}")
    need(r.get("seeds", 30) >= 2, "run.seeds", f"must be >= 2 (a confidence interval needs two), got {r.get('seeds')!r}")
    need(r.get("seed0", 0) >= 0, "run.seed0", "must be >= 0")
    need(r.get("dtype", "float64") in ("float32", "float64"), "run.dtype",
         f"must be 'float32' or 'float64', got {r.get('dtype')!r}")
    cp = r.get("checkpoints", "log")
    need(cp == "log" or (isinstance(cp, list) and all(isinstance(c, int) and 0 <= c <= r["K"] for c in cp)),
         "run.checkpoints", f"must be 'log' or a list of integers in [0, K], got {cp!r}")
    need(cp == "log" or any(c >= 1 for c in cp), "run.checkpoints",
         f"must contain at least one iteration count in [1, K={r['K']}] (k = 0 is the start and is not tested), "
         f"got {cp!r}")
    need(s.theorem != "thm1b" or cp == "log" or r["K"] in cp, "run.checkpoints",
         f"thm1b is tested at k = K only: the list must contain K={r['K']}, got {cp!r}")
    c = s.check
    need(0 < c.get("alpha", 0.05) < 0.5, "check.alpha", f"must be in (0, 0.5), got {c.get('alpha')!r}")
    need(all(isinstance(x, (int, float)) and x >= 0 for x in c.get("Lambda", [])), "check.Lambda",
         "each Λ must be a number >= 0")
    need(s.theorem != "thm1b" or c.get("Lambda", [1.5]) != [], "check.Lambda",
         "must not be empty for thm1b (an empty grid tests nothing): give a list of Λ >= 0")
    need(c.get("bound_scale", 1.0) > 0, "check.bound_scale", "must be > 0")
    need(c.get("form", "auto") in ("auto", "theorem", "comparator"), "check.form",
         f"must be 'auto', 'theorem' or 'comparator', got {c.get('form')!r}")
    if theorem is not None:
        # refusals: what the theorem does not cover (algorithm, output option, schedule) -> exit 2 before running
        for key, msg in theorem.refusals(s, alg_cls.default_option):
            _fail(p, key, msg)
        theorem.validate(s, need)


def find_specs(root="problems") -> list[Path]:
    return sorted(Path(root).glob("*.toml"))
