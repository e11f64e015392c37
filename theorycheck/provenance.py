"""Provenance of saved results and verdicts: what produced them, and a fingerprint of everything that can change them.

``results_fingerprint(spec, cfg, n_seeds, dtype, device)`` (used by ``experiment.run_or_load`` to decide whether saved
raw results are reusable, and by ``figures`` to refuse stale ones) hashes:

* the spec's results-changing keys (``Spec.fingerprint``: theorem, problem, noise, algorithm, schedule, run, the
  check keys ``lemma1`` and ``force``, the configuration, seeds, dtype, device);
* theorycheck's version and a SHA-256 of the package's source code (every ``*.py`` under ``theorycheck/``);
* the SHA-256 of the data file behind an ``a9a`` or ``svmlight`` problem (so replacing the file re-runs);
* the problem's certified constants (L, M, D_X, F_ref, attained).

``run_metadata(device, dtype)`` is what ``verdicts.csv`` / ``verdicts.json`` record: theorycheck version, code hash,
git commit (when run from a checkout), torch and Python versions, device and dtype.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import platform
import subprocess
from pathlib import Path

__all__ = ["code_hash", "git_commit", "data_sha256", "constants_digest", "results_fingerprint", "run_metadata"]

PACKAGE_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """SHA-256 (first 16 hex digits) over the package's *.py files (relative path and bytes, sorted by path)."""
    h = hashlib.sha256()
    for p in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        h.update(str(p.relative_to(PACKAGE_DIR)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD commit of the checkout the package is imported from (suffix "+dirty" with uncommitted changes), or
    None when it is not run from a git checkout."""
    root = PACKAGE_DIR.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    from .data import sha256_file

    return sha256_file(path)


def data_sha256(spec) -> str | None:
    """SHA-256 of the data file behind the spec's problem (family a9a or svmlight), None for synthetic problems.
    A missing file gives "missing:<path>" (the run itself then fails with the data module's message)."""
    fam = spec.problem["family"]
    if fam == "svmlight":
        path = Path(spec.problem["file"])
    elif fam == "a9a":
        from .data import data_dir

        split = spec.problem.get("params", {}).get("split", "train")
        d = spec.problem.get("params", {}).get("data_dir") or data_dir()
        path = Path(d) / {"train": "a9a", "test": "a9a.t"}.get(split, "a9a")
    else:
        return None
    if not path.is_file():
        return f"missing:{path}"
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)


def constants_digest(problem) -> dict:
    """The problem's certified constants as JSON-safe numbers (repr, so no rounding)."""
    c = problem.constants
    num = lambda v: repr(float(v)) if isinstance(v, (int, float)) and not math.isnan(v) else str(v)
    return {"L": num(c.L), "M": num(c.M), "D_X": num(c.D_X), "F_ref": num(c.F_ref), "attained": bool(c.attained)}


def code_fingerprint(spec, cfg, n_seeds, dtype: str, device: str) -> str:
    """The part of :func:`results_fingerprint` that needs neither the data file nor the problem: spec keys, seeds,
    dtype, device, theorycheck version and code hash. Saved next to the full fingerprint so that `figures`, which
    must work from saved results alone, can still refuse results whose spec or code changed when the data file is
    not available to re-hash (it then relies on the saved constants and says so)."""
    from . import __version__

    d = {"spec": spec.fingerprint(cfg, n_seeds, dtype, device), "version": __version__, "code": code_hash()}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def results_fingerprint(spec, cfg, n_seeds: int, dtype: str, device: str, problem=None) -> str:
    """16 hex digits identifying everything that determines a configuration's raw results (module docstring).
    ``problem`` defaults to ``experiment.build_problem(spec, device)`` (cached)."""
    from . import __version__

    if problem is None:
        from .experiment import build_problem

        problem = build_problem(spec, device)
    d = {"spec": spec.fingerprint(cfg, n_seeds, dtype, device), "version": __version__, "code": code_hash(),
         "data_sha256": data_sha256(spec), "constants": constants_digest(problem)}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def run_metadata(device: str = "cpu", dtype: str | None = None) -> dict:
    """Where verdicts came from: {theorycheck_version, code_hash, git_commit, torch_version, python, device, dtype}."""
    from . import __version__

    try:
        import torch

        tv = torch.__version__
    except ImportError:  # pragma: no cover
        tv = None
    return {"theorycheck_version": __version__, "code_hash": code_hash(), "git_commit": git_commit(),
            "torch_version": tv, "python": platform.python_version(), "device": str(device),
            "dtype": dtype or "spec"}


META_COLUMNS = ("theorycheck_version", "git_commit", "torch_version", "device", "dtype")


def with_provenance(verdicts, device: str = "cpu", dtype: str | None = None):
    """(the verdict table plus the columns META_COLUMNS appended, the metadata dict run_metadata(...))."""
    meta = run_metadata(device, dtype)
    out = verdicts.copy()
    for c in META_COLUMNS:
        out[c] = str(meta[c]) if meta[c] is not None else ""
    return out, meta


def verdicts_json(verdicts, meta: dict) -> str:
    """The JSON twin of a verdict table: {"provenance": meta, "rows": [...]} (NaN as null, ±inf as strings)."""
    import numpy as np

    def clean(v):
        if isinstance(v, (np.floating, float)):
            v = float(v)
            return None if math.isnan(v) else (str(v) if math.isinf(v) else v)
        if isinstance(v, np.integer):
            return int(v)
        return v

    rows = [{k: clean(v) for k, v in r.items()} for r in verdicts.to_dict("records")]
    return json.dumps({"provenance": meta, "rows": rows}, indent=1)


def write_verdicts(verdicts, out_dir, device: str = "cpu", dtype: str | None = None, name: str = "verdicts") -> dict:
    """Write OUT/<name>.csv (the verdict table plus the columns META_COLUMNS, appended) and its JSON twin
    OUT/<name>.json ({"provenance": run_metadata(...), "rows": [...]}). Returns the metadata."""
    from .table import atomic_write_text, write_csv

    table, meta = with_provenance(verdicts, device, dtype)
    out = Path(out_dir)
    write_csv(table, out / f"{name}.csv")
    atomic_write_text(out / f"{name}.json", verdicts_json(table, meta))
    return meta
