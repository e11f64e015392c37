"""Data sets: where they live, how they are downloaded (checksum-verified) and how svmlight files are read.

Conventions (THEORY §5, §5.1): rows a_i are scaled to unit Euclidean norm (zero rows stay 0), labels b_i are in
{-1, +1} ({0, 1} files are mapped 0 -> -1), features are 1-based in the file and ``n_features`` is fixed.

Data directory resolution (:func:`data_dir`): ``$THEORYCHECK_DATA``, else ``./data`` when it exists in the working
directory, else the per-user cache ``$XDG_CACHE_HOME/theorycheck`` (default ``~/.cache/theorycheck``).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class DataError(ValueError):
    """A data set is missing, corrupt, truncated or malformed. The message names the file (and line when known)."""


@dataclass(frozen=True)
class Dataset:
    name: str
    url: str
    sha256: str
    n_features: int
    rows: int
    positives: int


_LIBSVM_BINARY = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"

#: Known data sets. Checksums from the project's reference copy (``SHA256SUMS``).
DATASETS: dict[str, Dataset] = {
    "a9a": Dataset("a9a", _LIBSVM_BINARY + "a9a",
                   "f5d5ffd8d865ff41328e7ee043e4b020816914ff6843ff15b98905ddbedce906", 123, 32561, 7841),
    "a9a.t": Dataset("a9a.t", _LIBSVM_BINARY + "a9a.t",
                     "1f448a153f0320399a7e40836eb207655b0bde0f21fc941cc472193daa9f5de9", 123, 16281, 3846),
}

_CHUNK = 1 << 16


# --- locations ------------------------------------------------------------------------------------

def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/theorycheck`` or ``~/.cache/theorycheck`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "theorycheck"


def data_dir() -> Path:
    """Where data files are looked for and downloaded to: $THEORYCHECK_DATA, else ./data (if it exists), else the
    per-user cache dir. The directory is not created here."""
    env = os.environ.get("THEORYCHECK_DATA")
    if env:
        return Path(env).expanduser()
    local = Path.cwd() / "data"
    if local.is_dir():
        return local
    return user_cache_dir()


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dataset_path(name: str, dest_dir=None) -> Path:
    """Path where data set ``name`` is (or would be) stored."""
    return Path(dest_dir if dest_dir is not None else data_dir()) / _dataset(name).name


# --- download ---------------------------------------------------------------------------------------

def _resolve_url(ds: Dataset, url: str | None) -> str:
    if url is None:
        return ds.url
    return url + ds.name if url.endswith("/") else url


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def fetch(name: str, dest_dir=None, url: str | None = None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download data set ``name`` into ``dest_dir`` (default :func:`data_dir`), verify its SHA-256 and return its path.

    ``url`` overrides the source: a URL ending in ``/`` is a *base* URL to which the file name is appended
    (``http://mirror/dir/`` -> ``http://mirror/dir/a9a``); any other string is the *full* URL of the file
    (``file://`` URLs work too). A file already present with the right checksum is not downloaded again.
    The file is written to a temporary file in the same directory and moved into place with ``os.replace``;
    on any failure (network error, truncated body, checksum mismatch) nothing is left behind and
    :class:`DataError` is raised.
    """
    ds = _dataset(name)
    dest = Path(dest_dir if dest_dir is not None else data_dir())
    target = dest / ds.name
    if target.is_file() and sha256_file(target) == ds.sha256:
        return target
    src = _resolve_url(ds, url)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{ds.name}.", suffix=".tmp")
    except OSError as e:
        raise DataError(f"cannot write to the destination folder {dest}: {e.strerror or e}") from None
    try:
        h = hashlib.sha256()
        got = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(src, timeout=timeout) as resp:
                    length = resp.headers.get("Content-Length")
                    length = int(length) if length is not None and length.isdigit() else None
                    from tqdm import tqdm  # on stderr, only when it is a TTY (never in CI logs or pipes)

                    bar = tqdm(total=length, desc=ds.name, unit="B", unit_scale=True, file=sys.stderr,
                               disable=not (progress and sys.stderr.isatty()) or not length)
                    try:
                        while True:
                            chunk = resp.read(_CHUNK)
                            if not chunk:
                                break
                            out.write(chunk)
                            h.update(chunk)
                            got += len(chunk)
                            bar.update(len(chunk))
                    finally:
                        bar.close()
            except http.client.IncompleteRead as e:
                raise DataError(f"download of {ds.name} from {src} was truncated: got {got + len(e.partial)} bytes, "
                                f"{e.expected} more expected") from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                raise DataError(f"download of {ds.name} from {src} failed: {e}") from None
        if length is not None and got != length:
            raise DataError(f"download of {ds.name} from {src} was truncated: got {got} of {length} bytes")
        digest = h.hexdigest()
        if digest != ds.sha256:
            raise DataError(f"checksum mismatch for {ds.name} from {src}: SHA-256 {digest}, expected {ds.sha256} "
                            f"({got} bytes); the file was not saved")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    return target


def locate(name: str, directory=None, verify: bool = True) -> Path:
    """Path of an already-downloaded data set; DataError (with the command to fetch it) if missing or corrupt."""
    ds = _dataset(name)
    path = dataset_path(name, directory)
    if not path.is_file():
        raise DataError(f"data set {name!r} not found at {path}; download it with `theorycheck data fetch {name}` "
                        f"or set THEORYCHECK_DATA to the folder that holds it")
    if verify and sha256_file(path) != ds.sha256:
        raise DataError(f"{path}: SHA-256 does not match the registered checksum of {name!r}; "
                        f"delete it and run `theorycheck data fetch {name}`")
    return path


# --- svmlight ---------------------------------------------------------------------------------------

def _find_bad_line(path: Path, n_features: int) -> str | None:
    """Line-by-line check of svmlight text; returns a message naming the first bad line, or None."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.split(b"#", 1)[0].strip()
            if not line:
                continue
            toks = line.split()
            try:
                y = float(toks[0])
            except ValueError:
                return f"{path}:{lineno}: label {toks[0].decode(errors='replace')!r} is not a number"
            if not np.isfinite(y):
                return f"{path}:{lineno}: label {y} is not finite"
            prev = 0
            for t in toks[1:]:
                k, sep, v = t.partition(b":")
                ts = t.decode(errors="replace")
                if not sep:
                    return f"{path}:{lineno}: token {ts!r} is not of the form index:value"
                try:
                    j = int(k)
                except ValueError:
                    return f"{path}:{lineno}: feature index in {ts!r} is not an integer"
                if j < 1 or j > n_features:
                    return f"{path}:{lineno}: feature index {j} outside 1..{n_features} (indices are 1-based)"
                if j <= prev:
                    return f"{path}:{lineno}: feature indices must be strictly increasing ({prev} then {j})"
                prev = j
                try:
                    x = float(v)
                except ValueError:
                    return f"{path}:{lineno}: feature value in {ts!r} is not a number"
                if not np.isfinite(x):
                    return f"{path}:{lineno}: feature value in {ts!r} is not finite"
    return None


def map_labels(y: np.ndarray, where: str = "labels") -> np.ndarray:
    """Map labels to {-1, +1}: {-1, +1} is kept, {0, 1} becomes {-1, +1}; anything else raises DataError."""
    vals = set(np.unique(y).tolist())
    if vals <= {-1.0, 1.0}:
        return y.astype(np.float64)
    if vals <= {0.0, 1.0}:
        return np.where(y > 0, 1.0, -1.0)
    shown = sorted(vals)[:5]
    raise DataError(f"{where}: labels must be two classes {{-1,+1}} or {{0,1}}, found {shown}"
                    f"{' ...' if len(vals) > 5 else ''}")


def normalize_rows(A: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row to unit l2 norm (rows that are all zero stay zero). ``A``: (N, n) sparse or dense; returns
    csr float64 (N, n). Overflow/underflow-safe: each row is first scaled by the power of two 2^-e that brings its
    largest |entry| into [0.5, 1) (exact), so (3e160, 4e160) -> (0.6, 0.8); bit-identical to the plain formula
    ``a / sqrt(sum a^2)`` in the normal range (see theorycheck.numerics)."""
    A = sp.csr_matrix(A, dtype=np.float64, copy=True)
    counts = np.diff(A.indptr)
    if A.nnz == 0:
        return A
    rowmax = np.zeros(A.shape[0])
    nz = counts > 0
    rowmax[nz] = np.maximum.reduceat(np.abs(A.data), A.indptr[:-1][nz])
    _, e = np.frexp(rowmax)
    e = np.where(np.isfinite(rowmax) & (rowmax > 0), e, 0)
    ek = np.repeat(-e, counts)
    A.data = np.ldexp(A.data, ek)  # exact
    norms = np.sqrt(np.asarray(A.multiply(A).sum(1)).ravel())  # of the scaled rows: in [0.5, sqrt(n)]
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    A.data *= np.repeat(scale, counts)
    return A


def load_svmlight(path, n_features: int = 123, normalize: bool = True) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read an svmlight/LIBSVM file with 1-based indices into (A, b): A csr float64 (N, n_features) with rows scaled
    to unit l2 norm (when ``normalize``), b in {-1, +1}. Malformed input raises DataError naming the file and line."""
    from sklearn.datasets import load_svmlight_file

    if not (isinstance(n_features, int) and n_features >= 1):
        raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        X, y = load_svmlight_file(str(path), n_features=n_features, zero_based=False, dtype=np.float64)
    except ValueError as e:
        msg = _find_bad_line(path, n_features)
        raise DataError(msg or f"{path}: not a valid svmlight file ({e})") from None
    if X.shape[0] == 0:
        raise DataError(f"{path}: no data rows (empty file?)")
    if not (np.all(np.isfinite(X.data)) and np.all(np.isfinite(y))):
        raise DataError(_find_bad_line(path, n_features) or f"{path}: non-finite values")
    b = map_labels(y, where=str(path))
    A = sp.csr_matrix(X, dtype=np.float64)
    A.sort_indices()
    A.eliminate_zeros()
    return (normalize_rows(A) if normalize else A), b
