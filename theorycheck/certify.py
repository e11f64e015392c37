"""Certified infimum of logistic regression F(x) = (1/N) Σ_i log(1 + exp(−b_i ⟨a_i, x⟩)) (THEORY §5.1, §4.3b).

The infimum need not be attained: if some d ≠ 0 has b_i⟨a_i, d⟩ ≥ 0 for every i and > 0 for the rows in a set S,
then F(w + t d) → (1/N) Σ_{i∉S} ℓ_i(w) as t → ∞ (rows outside S have zero margin along d, so are unchanged), and
since ℓ_i ≥ 0,  F_inf = (1/N) inf_w Σ_{i∉S} ℓ_i(w).  :func:`certify_logistic` removes such rows repeatedly — first
by the exact sign test (a feature whose products b_i a_ij all have one sign: d = ±e_j), then by a linear program

    max_d  Σ_i b_i⟨a_i, d⟩   s.t.  b_i⟨a_i, d⟩ ≥ 0 (all remaining i),  −1 ≤ d_j ≤ 1,

(optimum 0 ⇔ no such direction) — until none is left. The reduced problem then has a minimiser; it is computed by
damped Newton in an orthonormal basis of the row space of the reduced A (AᵀA is rank deficient: 108 < 123 on a9a),
which gives directly the **min-norm** minimiser w⋆ (zero on features that only touched removed rows).
F_inf counts the removed rows as 0 and divides by the ORIGINAL N.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .numerics import l2_norm

CACHE_VERSION = 1


# --- small helpers --------------------------------------------------------------------------------

def _csr(A) -> sp.csr_matrix:
    A = sp.csr_matrix(A, dtype=np.float64)
    A.sum_duplicates()
    A.sort_indices()
    return A


def _check(A, b):
    A = _csr(A)
    b = np.asarray(b, dtype=np.float64).ravel()
    if A.shape[0] != b.shape[0]:
        raise ValueError(f"A has {A.shape[0]} rows but b has {b.shape[0]} labels")
    if A.shape[0] == 0:
        raise ValueError("A must have at least one row")
    if not np.all(np.isin(b, (-1.0, 1.0))):
        raise ValueError("labels b must be in {-1, +1}")
    if not np.all(np.isfinite(A.data)):
        raise ValueError("A must have finite entries")
    return A, b


def logistic_value(A, b, x) -> float:
    """F(x) = (1/N) Σ_i log(1 + exp(−b_i⟨a_i, x⟩)) in float64 (stable)."""
    m = b * (A @ np.asarray(x, dtype=np.float64))
    return float(np.logaddexp(0.0, -m).sum() / A.shape[0])


def logistic_grad(A, b, x) -> np.ndarray:
    m = b * (A @ np.asarray(x, dtype=np.float64))
    s = -b * _sigmoid(-m)
    return np.asarray(A.T @ s).ravel() / A.shape[0]


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


# --- certificate -----------------------------------------------------------------------------------

@dataclass
class Certificate:
    """Result of :func:`certify_logistic`. Features are reported 0-based (``removed_features``) and 1-based."""

    N: int
    n: int
    F_inf: float  # inf F over R^n, over the ORIGINAL N rows (removed rows count 0)
    attained: bool  # True iff no recession direction was found (then x_star = w_star is a minimiser)
    w_star: np.ndarray  # min-norm minimiser of the reduced problem, zeros on removed features, shape (n,)
    half_norm_sq: float  # 0.5 ||w_star||^2
    removed_features: list  # 0-based indices of features that only occur in removed rows
    removed_features_1based: list
    removed_rows: int  # number of rows whose loss is driven to 0
    removed_row_index: list  # their 0-based indices
    rank: int  # rank of the reduced A (dimension of the Newton space)
    newton_iterations: int
    grad_norm: float  # ||∇ reduced objective (scaled by 1/N) at w_star||_2, over all n coordinates
    lp_rounds: int  # linear programs solved
    direction_residual: float  # most negative margin b_i<a_i,d> of the directions used (0 for the sign test)
    method: str  # human-readable summary of the certification
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def x_star(self) -> np.ndarray | None:
        """A (min-norm) minimiser when the infimum is attained, else None."""
        return self.w_star if self.attained else None

    def to_json(self) -> dict:
        d = asdict(self)
        d["w_star"] = [float(v) for v in self.w_star]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Certificate":
        d = dict(d)
        d["w_star"] = np.asarray(d["w_star"], dtype=np.float64)
        return cls(**d)

    def summary(self) -> dict:
        d = self.to_json()
        d.pop("w_star")
        d.pop("removed_row_index")
        return d


def one_sided_features(A, b) -> tuple[np.ndarray, np.ndarray]:
    """Features j whose nonzero products b_i a_ij all have one sign; returns (features, sign) with sign = +1 if all
    products are > 0 (direction d = +e_j) and −1 if all are < 0 (d = −e_j)."""
    A = _csr(A)
    P = sp.csc_matrix(sp.diags(b) @ A)
    pos = np.asarray((P > 0).sum(0)).ravel()
    neg = np.asarray((P < 0).sum(0)).ravel()
    j = np.flatnonzero((pos + neg > 0) & ((pos == 0) | (neg == 0)))
    return j, np.where(pos[j] > 0, 1.0, -1.0)


def _lp_direction(P: sp.csr_matrix):
    """max Σ_i (P d)_i s.t. P d ≥ 0, |d|_∞ ≤ 1 with P = diag(b) A. Returns (objective, d)."""
    from scipy.optimize import linprog

    c = -np.asarray(P.sum(0)).ravel()
    res = linprog(c, A_ub=-P, b_ub=np.zeros(P.shape[0]), bounds=[(-1.0, 1.0)] * P.shape[1], method="highs")
    if res.status != 0:
        raise RuntimeError(f"linear program for a recession direction failed: {res.message}")
    return float(-res.fun), np.asarray(res.x)


def _newton_rowspace(A: sp.csr_matrix, b: np.ndarray, N: int, tol: float, max_iter: int, rank_tol: float):
    """min_w (1/N) Σ_i ℓ_i(w) over the row space of A (columns restricted to those with nonzeros).
    Returns (w (n,), iterations, grad norm, rank)."""
    n = A.shape[1]
    cols = np.flatnonzero(np.diff(sp.csc_matrix(A).indptr) > 0)
    w = np.zeros(n)
    if A.shape[0] == 0 or cols.size == 0:
        g = logistic_grad(A, b, w) * A.shape[0] / N if A.shape[0] else np.zeros(n)
        return w, 0, float(l2_norm(g)), 0
    Ac = sp.csr_matrix(A[:, cols])
    G = (Ac.T @ Ac).toarray()
    ev, U = np.linalg.eigh(G)
    keep = ev > rank_tol * max(ev[-1], 1e-300)
    V = U[:, keep]  # orthonormal basis of the row space of Ac
    r = V.shape[1]
    B = sp.diags(b) @ Ac  # margins m = B V z

    def value(z):
        return float(np.logaddexp(0.0, -(B @ (V @ z))).sum() / N)

    z = np.zeros(r)
    F = value(z)
    it = 0
    gnorm = math.inf
    while it < max_iter:
        m = B @ (V @ z)
        sg = _sigmoid(-m)
        gw = -(B.T @ sg) / N  # gradient in w-coordinates (on cols)
        gnorm = float(l2_norm(gw))
        if gnorm <= tol:
            break
        g = V.T @ gw
        D = sg * (1.0 - sg) / N
        H = V.T @ (B.T @ sp.diags(D) @ B).toarray() @ V
        try:
            p = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            p = -np.linalg.lstsq(H, g, rcond=None)[0]
        dec = -float(g @ p)  # Newton decrement squared
        step = 1.0
        if dec > 1e-24:  # Armijo backtracking (near the optimum, take full steps: F differences are below rounding)
            while step > 1e-12:
                F_new = value(z + step * p)
                if F_new <= F - 1e-4 * step * dec:
                    break
                step *= 0.5
        z = z + step * p
        F = value(z)
        it += 1
    w[cols] = V @ z
    # the reported gradient is recomputed over all n coordinates
    gfull = logistic_grad(A, b, w) * A.shape[0] / N
    return w, it, float(l2_norm(gfull)), r


def _content_key(A: sp.csr_matrix, b: np.ndarray, *parts) -> str:
    h = hashlib.sha256()
    for arr in (np.asarray(A.shape, dtype=np.int64), A.indptr.astype(np.int64), A.indices.astype(np.int64),
                A.data.astype(np.float64), b.astype(np.float64)):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr((CACHE_VERSION,) + parts).encode())
    return h.hexdigest()


def cache_dir() -> Path:
    """Where certificates are cached: $THEORYCHECK_CACHE, else <user cache dir>/certificates."""
    env = os.environ.get("THEORYCHECK_CACHE")
    if env:
        return Path(env).expanduser()
    from .data import user_cache_dir
    return user_cache_dir() / "certificates"


def _cache_read(kind: str, key: str):
    path = cache_dir() / f"{kind}-{key}.json"
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _cache_write(kind: str, key: str, obj) -> None:
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(obj, fh)
            os.replace(tmp, d / f"{kind}-{key}.json")
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:  # a cache that cannot be written is not an error
        warnings.warn(f"could not write certificate cache in {d}: {e}")


def certify_logistic(A, b, tol: float = 1e-12, cache: bool = True, max_iter: int = 100,
                     lp_tol: float = 1e-9, rank_tol: float = 1e-10) -> Certificate:
    """Certify inf F for logistic regression on (A, b) (see the module docstring). ``tol``: target gradient norm of
    the reduced Newton solve; ``lp_tol``: margins above it count as positive; ``rank_tol``: relative eigenvalue
    cut-off of the reduced AᵀA. With ``cache`` the result is stored as JSON keyed by the SHA-256 of (A, b, options)
    in :func:`cache_dir`, so repeated calls are instant."""
    if not (tol > 0):
        raise ValueError(f"tol must be > 0, got {tol!r}")
    A, b = _check(A, b)
    key = _content_key(A, b, tol, max_iter, lp_tol, rank_tol) if cache else None
    if cache:
        hit = _cache_read("certificate", key)
        if hit is not None:
            try:
                return Certificate.from_json(hit)
            except TypeError:
                pass
    t0 = time.perf_counter()
    N, n = A.shape
    P = sp.csr_matrix(sp.diags(b) @ A)  # rows b_i a_i
    active = np.ones(N, dtype=bool)
    sign_feats, lp_rows, lp_rounds, resid = [], 0, 0, 0.0
    lp_zero = False
    while active.any():
        Pa = P[active]
        j, _ = one_sided_features(Pa, np.ones(Pa.shape[0]))
        if j.size:
            sign_feats.extend(int(v) for v in j)
            hit_rows = np.asarray(sp.csc_matrix(Pa)[:, j].getnnz(axis=1)).ravel() > 0
            idx = np.flatnonzero(active)
            active[idx[hit_rows]] = False
            continue
        cols = np.flatnonzero(Pa.getnnz(axis=0) > 0)
        if cols.size == 0:
            break
        obj, d = _lp_direction(sp.csr_matrix(Pa[:, cols]))
        lp_rounds += 1
        if obj <= lp_tol:
            lp_zero = True
            break
        m = Pa[:, cols] @ d
        resid = min(resid, float(m.min()))
        pos = m > lp_tol
        if not pos.any():
            lp_zero = True
            break
        idx = np.flatnonzero(active)
        active[idx[pos]] = False
        lp_rows += int(pos.sum())
    Ar, br = A[active], b[active]
    w, iters, gnorm, r = _newton_rowspace(Ar, br, N, tol, max_iter, rank_tol)
    F_inf = float(np.logaddexp(0.0, -(br * (Ar @ w))).sum() / N) if active.any() else 0.0
    removed_idx = np.flatnonzero(~active)
    used_before = A.getnnz(axis=0) > 0
    used_after = Ar.getnnz(axis=0) > 0 if active.any() else np.zeros(n, dtype=bool)
    removed_feats = [int(j) for j in np.flatnonzero(used_before & ~used_after)]
    attained = removed_idx.size == 0
    parts = []
    if sign_feats:
        parts.append(f"sign test: {len(sign_feats)} one-sided feature(s) {sorted(j + 1 for j in sign_feats)} "
                     f"(1-based) drive their rows' losses to 0")
    if lp_rows:
        parts.append(f"LP (HiGHS): recession directions drive {lp_rows} more row(s) to 0 "
                     f"(min margin residual {resid:.1e})")
    if lp_zero:
        parts.append("LP (HiGHS) certifies no further direction d with b_i<a_i,d> >= 0 for all remaining rows "
                     "and > 0 for some (max sum = 0 over |d|_inf <= 1)")
    status = "attained" if attained else f"NOT attained ({removed_idx.size} of {N} rows have loss -> 0)"
    newton = (f"min-norm minimiser of the remaining {int(active.sum())} rows by Newton in the row space "
              f"(rank {r}), |grad| = {gnorm:.1e} after {iters} iteration(s)")
    if gnorm > tol:
        newton += f" (target {tol:.0e} not reached)"
    method = f"infimum {status}; " + "; ".join(parts + [newton])
    cert = Certificate(N=N, n=n, F_inf=F_inf, attained=attained, w_star=w, half_norm_sq=0.5 * float(w @ w),
                       removed_features=removed_feats, removed_features_1based=[j + 1 for j in removed_feats],
                       removed_rows=int(removed_idx.size), removed_row_index=[int(i) for i in removed_idx], rank=r,
                       newton_iterations=iters, grad_norm=gnorm, lp_rounds=lp_rounds, direction_residual=resid,
                       method=method, seconds=time.perf_counter() - t0)
    if cache:
        _cache_write("certificate", key, cert.to_json())
    return cert


# --- comparators (THEORY §4.3b) ------------------------------------------------------------------------

def regularised_minimiser(A, b, x0, t: float, tol: float = 1e-12, max_iter: int = 100, x_init=None) -> np.ndarray:
    """u_t = argmin_x F(x) + (t/2)||x − x0||² by damped Newton (strongly convex for t > 0)."""
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"t must be a finite number > 0, got {t!r}")
    A, b = _check(A, b)
    N, n = A.shape
    x0 = np.zeros(n) if x0 is None else np.asarray(x0, dtype=np.float64).ravel()
    B = sp.csr_matrix(sp.diags(b) @ A)

    def value(x):
        return float(np.logaddexp(0.0, -(B @ x)).sum() / N + 0.5 * t * np.sum((x - x0) ** 2))

    x = x0.copy() if x_init is None else np.asarray(x_init, dtype=np.float64).copy()
    F = value(x)
    for _ in range(max_iter):
        sg = _sigmoid(-(B @ x))
        g = -(B.T @ sg) / N + t * (x - x0)
        if l2_norm(g) <= tol:
            break
        H = (B.T @ sp.diags(sg * (1 - sg) / N) @ B).toarray() + t * np.eye(n)
        p = -np.linalg.solve(H, g)
        dec = -float(g @ p)
        step = 1.0
        if dec > 1e-24:
            while step > 1e-12 and value(x + step * p) > F - 1e-4 * step * dec:
                step *= 0.5
        x = x + step * p
        F = value(x)
    return x


def regularisation_path(A, b, x0, ts, F_inf: float, w_star=None, tol: float = 1e-12, cache: bool = True) -> list:
    """Comparators for the comparator-form bound: for each t in ``ts``, u_t = argmin F + (t/2)||x − x0||², with
    ``delta`` = F(u_t) − F_inf (clipped at 0; the raw value is ``delta_raw``) and ``V`` = ½||u_t − x0||².
    If ``w_star`` is given, it is added first (name "w_star"); its delta is F(w_star) − F_inf > 0 when the infimum
    is not attained. Returns a list of dicts {name, t, u, delta, delta_raw, V, F}.
    Raises RuntimeError if some F(u) < F_inf − 1e-9 (F_inf would then not be a lower bound)."""
    A, b = _check(A, b)
    n = A.shape[1]
    x0 = np.zeros(n) if x0 is None else np.asarray(x0, dtype=np.float64).ravel()
    ts = [float(t) for t in ts]
    key = _content_key(A, b, "path", tuple(ts), tol, x0.tobytes()) if cache else None
    us = None
    if cache:
        hit = _cache_read("path", key)
        if hit is not None and len(hit) == len(ts):
            us = [np.asarray(u, dtype=np.float64) for u in hit]
    if us is None:
        us, prev = [], None
        for t in ts:  # warm start along the path (largest t is easiest; order is kept as given)
            prev = regularised_minimiser(A, b, x0, t, tol=tol, x_init=prev)
            us.append(prev)
        if cache:
            _cache_write("path", key, [[float(v) for v in u] for u in us])
    out = []
    pts = ([("w_star", None, np.asarray(w_star, dtype=np.float64))] if w_star is not None else []) + \
          [(f"reg t={t:g}", t, u) for t, u in zip(ts, us)]
    for name, t, u in pts:
        F = logistic_value(A, b, u)
        raw = F - F_inf
        if raw < -1e-9:
            raise RuntimeError(f"comparator {name}: F(u) = {F!r} is below F_inf = {F_inf!r} by {-raw:.2e}; "
                               f"the certified infimum is wrong")
        out.append({"name": name, "t": t, "u": u, "F": F, "delta": max(raw, 0.0), "delta_raw": raw,
                    "V": 0.5 * float(np.sum((u - x0) ** 2))})
    return out
