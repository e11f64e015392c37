"""Tidy result tables are pandas DataFrames; this module holds their atomic file I/O.

Raw per-configuration results are Parquet files (``raw/<spec>/<config>.parquet``, written by pyarrow; floats are
stored exactly, column dtypes kept). Tables meant for humans stay CSV (``verdicts.csv``, ``results.csv``,
``regressions.csv``, ``--format csv``): floats are written at full round-trip precision (Python's shortest
``repr``), NaN as ``nan``, ±inf as ``inf``/``-inf``, no index column; :func:`read_table` reads them back exactly.

Every write is atomic: the whole file goes to a temporary file in the target folder first, then ``os.replace``
moves it into place, so a crash never leaves a partial file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write", "atomic_write_text", "csv_text", "write_csv", "write_parquet", "read_table", "concat",
           "records"]


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then move it to ``path`` (``os.replace``);
    the temporary file is removed when ``write`` raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    def w(tmp):
        with open(tmp, "w", newline="") as fh:
            fh.write(text)

    atomic_write(path, w)


def csv_text(df: pd.DataFrame) -> str:
    """CSV text of a DataFrame: header, no index column, floats at round-trip precision, NaN as ``nan``."""
    return df.to_csv(index=False, na_rep="nan", lineterminator="\r\n")


def write_csv(df: pd.DataFrame, path) -> None:
    """Write :func:`csv_text` of ``df`` to ``path`` atomically."""
    atomic_write_text(path, csv_text(df))


def write_parquet(df: pd.DataFrame, path) -> None:
    """Write ``df`` (no index) to ``path`` as Parquet (pyarrow), atomically."""
    atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False, engine="pyarrow"))


def read_table(path) -> pd.DataFrame:
    """A DataFrame from a ``.parquet`` or a ``.csv`` file (CSV: exact float round trip; ``nan``, ``inf``,
    ``True``/``False`` parsed; an empty file gives an empty DataFrame). Raises ``OSError`` when unreadable."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    try:
        exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}  # 3: default
        return pd.read_csv(path, keep_default_na=False, na_values=["nan", "NaN", ""], **exact)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def concat(tables) -> pd.DataFrame:
    """Row-wise concatenation of DataFrames (empty ones skipped, index renumbered); columns missing in some are
    NaN there. No tables → an empty DataFrame."""
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def records(df) -> list[dict]:
    """Rows as a list of dicts (a list of dicts is returned as is)."""
    return df if isinstance(df, list) else df.to_dict("records")
