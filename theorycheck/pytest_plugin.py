"""pytest plugin (entry point ``pytest11``): theorem-check spec files as test items.

Active whenever theorycheck is installed, inert in projects without spec files: it only collects

* spec files named ``check_*.toml`` found while pytest walks its test paths, and
* any ``.toml`` file given explicitly on the command line (``pytest path/to/spec.toml``).

Each spec file yields one item per (configuration, theorem), e.g. ``check_ls.toml::thm1a[sigma=0.1,m=10]``
(select with ``-k``). The whole file is run once, when its first item is set up; **all tests of one spec file form
one Holm family** (the family-wise error rate is the spec's ``check.alpha``, default 0.05, per file).

Outcomes: every verdict row of the item ``holds`` → passed; one ``violated`` → failed, with the report of the
rows (statistic, limits, bound, ratio, seeds needed, method); ``inconclusive``, ``assumptions-failed`` or a vacuous
bound → ``--theorycheck-inconclusive`` (``skip`` with the reason by default, ``fail`` or ``xfail``); a bad spec
(collection) or a configuration that crashes (setup) → error, never failure.

Results are saved under ``--theorycheck-out`` (default ``<rootdir>/results``): ``raw/<spec>/<config>.parquet`` (read by
``theorycheck figures SPEC --results DIR``) and ``verdicts_<spec>.csv``. Each session re-runs the specs unless
``--theorycheck-reuse`` is given (reuse would hide a change in the algorithm's code).

This module imports nothing heavy at import time (pytest loads it in every project where theorycheck is installed).
"""
from __future__ import annotations

from pathlib import Path

import pytest

POLICIES = ("fail", "skip", "xfail")


def pytest_addoption(parser):
    g = parser.getgroup("theorycheck", "theorem checks of spec files (check_*.toml)")
    g.addoption("--theorycheck-inconclusive", choices=POLICIES, default="skip",
                help="outcome of an inconclusive, assumptions-failed or vacuous check (default: skip)")
    g.addoption("--theorycheck-seeds", type=int, default=None,
                help="seeds per configuration, >= 2 (default: each spec's run.seeds)")
    g.addoption("--theorycheck-device", choices=("cpu", "cuda"), default="cpu", help="torch device (default: cpu)")
    g.addoption("--theorycheck-dtype", choices=("float32", "float64"), default=None,
                help="iterate dtype (default: each spec's)")
    g.addoption("--theorycheck-out", default=None,
                help="folder for raw results and verdicts_<spec>.csv (default: <rootdir>/results)")
    g.addoption("--theorycheck-reuse", action="store_true",
                help="reuse saved raw results whose spec fingerprint matches instead of re-running")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".toml":
        return None
    if file_path.name.startswith("check_") or parent.session.isinitpath(file_path):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    """A spec file; its items are its configurations (one theorem per spec)."""

    _family = None

    def collect(self):
        from .testing import config_id, load

        self.spec = load(self.path)
        seeds = self.config.getoption("theorycheck_seeds")
        if seeds is not None and seeds < 2:
            raise ValueError(f"--theorycheck-seeds must be >= 2 (a confidence interval needs two), got {seeds}")
        for cfg in self.spec.configs():
            yield SpecItem.from_parent(self, name=f"{self.spec.theorem}[{config_id(cfg)}]", cfg=cfg)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ValueError):  # SpecError is a ValueError: the message names the field
            return f"invalid theorycheck spec: {excinfo.value}"
        return super().repr_failure(excinfo)

    def out_dir(self) -> Path:
        out = self.config.getoption("theorycheck_out")
        return Path(out) if out else Path(self.config.rootpath) / "results"

    def family(self):
        """Run every configuration of the spec (once) and finalize them together: one Holm family per file."""
        if self._family is None:
            from .testing import run_family

            o = self.config.getoption
            out = self.out_dir()
            self._family = run_family([self.spec], seeds=o("theorycheck_seeds"), device=o("theorycheck_device"),
                                      dtype=o("theorycheck_dtype"), out=out, reuse=o("theorycheck_reuse"),
                                      catch=True)
            from .table import write_csv

            write_csv(self._family.verdicts, out / f"verdicts_{self.spec.name}.csv")
        return self._family


class SpecItem(pytest.Item):
    def __init__(self, *, cfg, **kw):
        super().__init__(**kw)
        self.cfg = cfg

    def setup(self):
        fam = self.parent.family()
        err = fam.errors.get((self.parent.spec.name, self.cfg.key))
        if err is not None:
            raise err  # raised in setup: reported as an error, not a failure

    def runtest(self):
        from .testing import raise_for

        fam = self.parent.family()
        rows = fam.rows(self.parent.spec.name, self.cfg.key)
        raise_for(rows, self.config.getoption("theorycheck_inconclusive"),
                  f"{self.parent.spec.name} {self.name} (Holm family: the spec file, alpha={fam.alpha:g})")

    def repr_failure(self, excinfo, style=None):
        from .testing import TheoremCheckFailed

        if isinstance(excinfo.value, TheoremCheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.parent.spec.name}::{self.name}"
