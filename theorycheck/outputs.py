"""Output files of one invocation: labelling of verdict rows and the atomic writing of the result tables.

``verdicts.csv`` and ``results.csv`` (or ``verdicts_cm.csv``) are written only at the end of an invocation that
succeeded: each is first written in full to a temporary file in the output folder, then all are moved into place
with ``os.replace``. A crash or an interruption therefore never leaves a partial or half-updated pair. The raw
per-configuration files ``raw/<spec>/<config>.parquet`` are written (atomically) as each configuration finishes: they
are complete, fingerprinted caches that a re-run reuses, not partial output.
"""
from __future__ import annotations

import os
from pathlib import Path


def label_batch(rows: list[dict], cfg, oracle_sigma: float) -> list[dict]:
    """Add the minibatch size to each verdict row of one configuration (column ``batch``; 0 for an additive-noise
    oracle) and, for a minibatch oracle, report in ``sigma`` the σ the oracle actually satisfies (its variance
    bound in the dual norm, ``Oracle(problem, batch=B).sigma``) instead of the spec's nominal σ = 0."""
    for r in rows:
        r["batch"] = int(cfg.batch or 0)
        if cfg.batch:
            r["sigma"] = float(oracle_sigma)
    return rows


def write_tables(out, tables: dict) -> list[Path]:
    """Write ``{file name: DataFrame}`` as CSV (:func:`theorycheck.table.csv_text`) into folder ``out``: every
    table to a temporary file first, then all moved into place; on any error the temporary files are removed and
    no target is touched. Returns the paths."""
    from .table import csv_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = {}
    try:
        for name, t in tables.items():
            p = out / f".{name}.tmp-{os.getpid()}"
            tmp[name] = p
            with open(p, "w", newline="") as fh:
                fh.write(csv_text(t))
        for name, p in tmp.items():
            os.replace(p, out / name)
    finally:
        for p in tmp.values():
            if p.exists():
                p.unlink()
    return [out / n for n in tables]
