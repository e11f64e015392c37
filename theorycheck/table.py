"""A tidy, columnar results table (one row per replica × checkpoint × option) with CSV / parquet I/O.

Kept dependency-free (numpy + csv); ``to_pandas`` / ``to_parquet`` use pandas (and pyarrow) when installed.
Writes are atomic: a temporary file in the same folder, then ``os.replace``.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_text(path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Table:
    def __init__(self, columns: dict | None = None):
        self.columns = {}
        for k, v in (columns or {}).items():
            self.columns[k] = np.asarray(v)
        lens = {len(v) for v in self.columns.values()}
        if len(lens) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lens)}")

    def __len__(self):
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name):
        return self.columns[name]

    def __contains__(self, name):
        return name in self.columns

    @property
    def names(self):
        return list(self.columns)

    def where(self, mask) -> "Table":
        return Table({k: v[mask] for k, v in self.columns.items()})

    def filter(self, **eq) -> "Table":
        mask = np.ones(len(self), bool)
        for k, v in eq.items():
            mask &= self.columns[k] == v
        return self.where(mask)

    def unique(self, name):
        return list(dict.fromkeys(self.columns[name].tolist()))

    @staticmethod
    def concat(tables) -> "Table":
        tables = [t for t in tables if len(t)]
        if not tables:
            return Table()
        names = list(dict.fromkeys(n for t in tables for n in t.names))
        cols = {}
        for n in names:
            parts = [t.columns[n] if n in t.columns else np.full(len(t), np.nan) for t in tables]
            if any(p.dtype.kind in "OUS" for p in parts):
                parts = [p.astype(object) for p in parts]
            cols[n] = np.concatenate(parts)
        return Table(cols)

    def rows(self):
        names = self.names
        for i in range(len(self)):
            yield {n: self.columns[n][i] for n in names}

    # --- I/O ----------------------------------------------------------------------------------------
    def to_csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(self.names)
        cols = [self.columns[n].tolist() for n in self.names]
        for row in zip(*cols):
            w.writerow([repr(v) if isinstance(v, float) else v for v in row])
        return buf.getvalue()

    def to_csv(self, path) -> None:
        atomic_write_text(path, self.to_csv_text())

    @staticmethod
    def read_csv(path) -> "Table":
        with open(path, newline="") as fh:
            r = csv.reader(fh)
            header = next(r, None)
            if header is None:
                return Table()
            data = list(r)
        cols = {}
        for i, n in enumerate(header):
            vals = [row[i] for row in data]
            cols[n] = _parse_column(vals)
        return Table(cols)

    def to_pandas(self):
        import pandas as pd  # optional dependency

        return pd.DataFrame(self.columns)

    def to_parquet(self, path) -> None:
        df = self.to_pandas()
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        df.to_parquet(tmp)
        os.replace(tmp, path)


def _parse_column(vals):
    for conv in (int, float):
        try:
            return np.array([conv(v) for v in vals])
        except ValueError:
            continue
    if all(v in ("True", "False") for v in vals):
        return np.array([v == "True" for v in vals])
    return np.array(vals, dtype=object)
