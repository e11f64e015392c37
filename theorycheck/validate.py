"""Checks of a whole invocation before anything is computed or written (the CLI calls them first).

Each check raises :class:`theorycheck.spec.SpecError` naming the field (``--out``, ``problem.file``,
``run.checkpoints``, ...) and the allowed values; the CLI turns it into exit code 2. Nothing here writes to the
output folder (the writability probe creates and removes one temporary file in the folder it tests).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .spec import Spec, SpecError

OUTPUT_NAMES = {"verdicts.csv": "file", "results.csv": "file", "verdicts_cm.csv": "file", "raw": "folder"}


def _probe_writable(d: Path) -> str | None:
    """None when a file can be created in folder d, else the reason."""
    try:
        fd, p = tempfile.mkstemp(prefix=".theorycheck-probe-", dir=d)
        os.close(fd)
        os.unlink(p)
        return None
    except OSError as e:
        return e.strerror or str(e)


def check_out_dir(out, option: str = "--out") -> Path:
    """``out`` must be a writable folder, or a path whose nearest existing ancestor is a writable folder (it is
    created at the end). The files the command writes there must not exist with the wrong kind (a folder named
    verdicts.csv, a file named raw). Returns ``Path(out)``."""
    p = Path(out)
    allowed = "an existing writable folder, or a new path inside one"
    if p.exists() and not p.is_dir():
        raise SpecError(f"{option} {out}: is an existing file, not a folder; allowed: {allowed}")
    anc = p
    while not anc.exists():
        if anc.parent == anc:
            break
        anc = anc.parent
    if not anc.is_dir():
        raise SpecError(f"{option} {out}: {anc} is a file, so the folder cannot be created; allowed: {allowed}")
    why = _probe_writable(anc)
    if why:
        what = "folder" if anc == p else f"nearest existing folder {anc}"
        raise SpecError(f"{option} {out}: the {what} is not writable ({why}); allowed: {allowed}")
    for name, kind in OUTPUT_NAMES.items():
        q = p / name
        if q.exists() and (q.is_dir() != (kind == "folder")):
            raise SpecError(f"{option} {out}: {q} exists but is not a {kind}; move it away or choose another "
                            f"{option}")
    return p


def check_data(specs: list[Spec]) -> None:
    """Every data file the specs read can be found: a9a through :func:`theorycheck.data.locate` (the same lookup
    the problem loader uses: ``params.data_dir``, else ``$THEORYCHECK_DATA``, ``./data``, the user cache), svmlight
    through ``problem.file``."""
    from .data import DataError, locate

    for s in specs:
        fam, params = s.problem["family"], s.problem.get("params", {})
        if fam == "a9a":
            split = params.get("split", "train")
            name = {"train": "a9a", "test": "a9a.t"}.get(split)
            if name is None:
                raise SpecError(f"{s.path}: [problem.params.split] must be 'train' or 'test', got {split!r}")
            try:
                locate(name, params.get("data_dir"), verify=False)
            except DataError as e:
                raise SpecError(f"{s.path}: [problem.family = 'a9a'] {e}") from None
        elif fam == "svmlight":
            f = Path(s.problem["file"])
            if not f.is_file():
                raise SpecError(f"{s.path}: [problem.file] {f}: no such file (relative paths are relative to the "
                                f"current folder {Path.cwd()}); allowed: an existing svmlight file")


def check_output_paths(specs: list[Spec], out) -> None:
    """Every raw-result path of every configuration stays inside ``out`` (spec names are plain identifiers, see
    :data:`theorycheck.spec.NAME_PATTERN`; this is the second line of defence)."""
    from .experiment import raw_path

    root = Path(out).resolve()
    for s in specs:
        for cfg in s.configs():
            p = raw_path(out, s, cfg).resolve()
            if root not in p.parents:
                raise SpecError(f"{s.path}: [name] {s.name!r} would write {p}, outside --out {root}")


def check_configs(specs: list[Spec], device: str = "cpu") -> None:
    """Build every configuration (problem, oracle, schedule, algorithm; problems are cached, so this is the same
    work a run does first) and check what only the built objects know: the checkpoints are multiples of the
    algorithm's stride (AM1-SGD and its variants define their output every m iterations) and K is divisible by
    it where the algorithm needs that."""
    from .experiment import build

    for s in specs:
        for cfg in s.configs():
            try:
                _, _, _, alg = build(s, cfg, device)
            except SpecError:
                raise
            except (ValueError, TypeError, RuntimeError) as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise SpecError(f"{s.path}: configuration {cfg.key}: {msg}") from None
            stride = int(getattr(alg, "stride", 1))
            cps = s.run.get("checkpoints", "log")
            if cps != "log":
                bad = sorted(c for c in cps if c % stride)
                if bad:
                    ok = list(range(0, s.K + 1, stride))
                    shown = ", ".join(map(str, ok[:6])) + (", ..." if len(ok) > 6 else "")
                    raise SpecError(f"{s.path}: [run.checkpoints] {bad} are not multiples of m={stride} "
                                    f"({s.algorithm['name']} defines its output every m iterations, configuration "
                                    f"{cfg.key}); allowed: multiples of {stride} in [0, K={s.K}]: {shown}")
            if getattr(alg, "needs_divisible_K", False) and s.K % stride:
                raise SpecError(f"{s.path}: [run.K] K={s.K} must be divisible by m={stride} for "
                                f"{s.algorithm['name']} (configuration {cfg.key})")


def check_invocation(specs: list[Spec], out, device: str = "cpu") -> None:
    """All of the above, cheapest first: output folder, data files, output paths, configurations."""
    check_out_dir(out)
    check_data(specs)
    check_output_paths(specs, out)
    check_configs(specs, device)
