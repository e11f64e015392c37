"""Batched logistic-regression kernels for *binary-pattern* rows: every stored entry of row i equals one scale
c_i, i.e. a_i = c_i · 1_{S_i} (binary / one-hot features, optionally with L2-normalised rows c_i = 1/√|S_i|, as
in a9a).

Convention: f(x) = (1/N) Σ_i log(1 + exp(−b_i ⟨a_i, x⟩)), b_i ∈ {−1, +1}. Identical rows are merged: the U
distinct rows a_u have n_u copies, of which k_u carry the minority label; with the sign s_u = −(majority label),
a'_u = s_u a_u and z_u = ⟨a'_u, x⟩ (so that z_u = −b m for the majority rows), log(1 + e^{−b m}) gives

    f(x)  = (1/N) Σ_u n_u softplus(z_u) − ⟨q, x⟩,
    ∇f(x) = (1/N) Σ_u n_u σ(z_u) a'_u − q,        q = (1/N) Σ_u k_u a'_u.

Rows without a minority (k_u = 0: every row of a9a that occurs once) enter exactly as in the dense formula, so
f keeps its relative accuracy even when it is tiny (separable data, large margins): the subtracted ⟨q, x⟩ only
involves mixed-label rows, whose loss is at least half of k_u |z_u|.

Factorisation: the columns are cut into contiguous parts; the distinct restrictions of the rows to each part
are the rows of a binary "pattern" matrix P, and a_u = c_u Σ_parts P[p_k(u)], i.e. A_U = diag(c) E P with E a
selection matrix (one entry per row and non-empty part). Signed margins are then Z = diag(s c) E (P Xᵀ) and the
gradient Pᵀ Eᵀ diag(s c n / N) σ(Z) − q: a few gathers per row instead of |S_u| (a9a: 4 instead of ~14).
The parts are chosen by a cost model (``factor="auto"``); ``factor=False`` uses P = I (plain gather-sums).

Kernels: ``embedding_bag`` (fbgemm, fastest for float32) or MKL sparse CSR products (fastest for float64 on CPU).
On CPU the work runs by replica block × row chunk so that intermediates stay in cache (and float32 sums stay
short); on CUDA it runs in one piece.

f (the float64 metric) takes one exp per row: softplus(z) = max(z, 0) + log1p(e^{−|z|}), and over the rows seen
once Σ log1p(t_u) = log1p(Π(1 + t_u) − 1) with the product built by a tree of d_a + d_b + d_a·d_b (``f_value``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as Fnn

KERNELS = ("auto", "embedding_bag", "csr")

#: replica block per (kernel, dtype) on CPU and the target size of one chunk's (rows × block) intermediate;
#: tuned on a 2-core AVX-512 EPYC (bench/README.md)
BLOCK = {("embedding_bag", torch.float32): 64, ("embedding_bag", torch.float64): 32,
         ("csr", torch.float32): 32, ("csr", torch.float64): 16}
CHUNK_BYTES = 1 << 21
GROUP = 64  # rows per log1p in f_value (a power of 2, ≤ 512 so that Π(1 + t) ≤ 2^GROUP stays finite)
TREE_MIN_R = 4  # fewer replicas than this: f_value uses softplus throughout (the product tree's ops cost more)
SMALL_R = 16  # below this many replicas the CSR kernel wins on CPU whatever the dtype


def binary_row_scales(A) -> np.ndarray | None:
    """The per-row scales c_i when every stored nonzero of row i equals c_i (empty rows get c_i = 0), else None."""
    A = sp.csr_matrix(A, dtype=np.float64)
    A.eliminate_zeros()
    nnz = np.diff(A.indptr)
    c = np.zeros(A.shape[0])
    c[nnz > 0] = A.data[A.indptr[:-1][nnz > 0]]
    return c if np.array_equal(A.data, np.repeat(c, nnz)) else None


def choose_cuts(U: sp.csr_matrix, max_candidates: int = 16, max_parts: int = 8):
    """Contiguous column parts minimising the gathers per replica, 2·(nnz(P) + nnz(E)) + (chunks)·rows(P), by
    dynamic programming over ≤ max_candidates + 1 equally spaced cut points. Distinct row restrictions are
    counted by a XOR hash of the column set (≥ 40 bits; this only steers the choice; P is built exactly). Returns
    the cuts [0, …, n], or None when no factorisation beats the plain gather-sum (2·nnz(U))."""
    U = sp.csr_matrix(U)
    U.sort_indices()
    M, n = U.shape
    if M == 0 or n < 2 or U.nnz == 0:
        return None
    cand = sorted(set(np.linspace(0, n, min(max_candidates, n) + 1).round().astype(int).tolist()))
    codes = np.random.default_rng(0).integers(1, 2 ** 62, size=n, dtype=np.int64)
    cx = np.concatenate([[0], np.bitwise_xor.accumulate(codes[U.indices])])
    flat = np.repeat(np.arange(M, dtype=np.int64), np.diff(U.indptr)) * n + U.indices
    pos = {a: np.searchsorted(flat, np.arange(M, dtype=np.int64) * n + a) for a in cand}  # first entry >= col a
    nch = max(1, M // 4096)
    bits = int(n).bit_length()  # a part's row length (≤ n) rides in the low bits of its sort key
    cost = {}
    for ia, a in enumerate(cand):
        for e in cand[ia + 1:]:
            nz = pos[e] - pos[a]
            keep = nz > 0
            key = np.sort((((cx[pos[e]] ^ cx[pos[a]]) >> bits) << bits | nz)[keep])
            distinct = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
            cost[a, e] = 2 * (int((distinct & ((1 << bits) - 1)).sum()) + int(keep.sum())) + nch * len(distinct)
    best = {(0, 0): (0.0, None)}  # (parts used, end column) -> (cost, previous end column)
    for k in range(1, max_parts + 1):
        for e in cand[1:]:
            opts = [(best[k - 1, a][0] + cost[a, e], a) for a in cand if a < e and (k - 1, a) in best]
            if opts:
                best[k, e] = min(opts)
    k = min((k for k in range(1, max_parts + 1) if (k, n) in best), key=lambda k: best[k, n][0])
    if best[k, n][0] >= 2 * U.nnz:
        return None
    cuts, end = [n], n
    while k > 0:
        end = best[k, end][1]
        cuts.append(end)
        k -= 1
    return cuts[::-1]


def _row_ids(indptr: np.ndarray, indices: np.ndarray, scale: np.ndarray | None = None):
    """Exact ids of distinct rows (column set, and scale when given) of a CSR structure with sorted indices,
    numbered in order of first appearance: (ids (M,), first row of each id). Vectorised: rows are grouped by a
    64-bit hash (sum of random codes of their columns, their length and scale), then every row is compared
    entry by entry with the first row of its group; a hash collision (never seen, but possible) falls back to a
    dict over the rows' bytes."""
    M = len(indptr) - 1
    if M == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    indptr = np.asarray(indptr, dtype=np.int64)
    nnz = np.diff(indptr)
    indices = np.asarray(indices)[:indptr[-1]]
    _, first, inv = np.unique(_row_hash(indptr, indices, scale), return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # re-number the sorted hashes by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ids, first = rank[inv.ravel()].astype(np.int64), first[order].astype(np.int64)
    f = first[ids]  # the representative of each row
    same = np.array_equal(nnz, nnz[f]) and (scale is None or np.array_equal(scale, np.asarray(scale)[f]))
    if same:  # same lengths: compare entry k of every row with entry k of its representative
        pos = np.arange(len(indices)) - np.repeat(indptr[:-1], nnz)
        same = np.array_equal(indices, indices[np.repeat(indptr[f], nnz) + pos])
    return (ids, first) if same else _row_ids_dict(indptr, indices, scale)  # else: a 64-bit hash collision


def _row_hash(indptr, indices, scale=None) -> np.ndarray:
    """A 64-bit hash per row: Σ of random codes of its columns (mod 2^64), its length, and its scale's bits."""
    codes = np.random.default_rng(12345).integers(1, 2 ** 62, size=int(indices.max(initial=0)) + 2, dtype=np.int64)
    cs = np.concatenate([[0], np.cumsum(codes[indices])])  # wraps modulo 2^64, so differences stay exact
    h = (cs[indptr[1:]] - cs[indptr[:-1]]) * np.int64(1000003) + np.diff(indptr)
    return h if scale is None else h ^ np.ascontiguousarray(scale, dtype=np.float64).view(np.int64)


def _row_ids_dict(indptr, indices, scale=None):
    """_row_ids by a dict over the rows' bytes (the reference, and the fallback on a hash collision)."""
    M = len(indptr) - 1
    key = {}
    ids = np.empty(M, dtype=np.int64)
    for i in range(M):
        ids[i] = key.setdefault((0.0 if scale is None else scale[i],
                                 indices[indptr[i]:indptr[i + 1]].tobytes()), len(key))
    first = np.zeros(len(key), dtype=np.int64)
    first[ids[::-1]] = np.arange(M)[::-1]
    return ids, first


def _unique_rows(A: sp.csr_matrix, c: np.ndarray):
    """Distinct (pattern, scale) rows: (U csr with sorted indices, inverse (N,))."""
    inv, first = _row_ids(A.indptr, A.indices, c)
    return A[first], inv


def _factor(U: sp.csr_matrix, c: np.ndarray, cuts):
    """(P, E): P binary (n_patterns, n), E (n_unique, n_patterns) with value c_u in row u, so that
    diag(c / scale(U)) U = E @ P. Patterns are numbered part by part, in order of first appearance."""
    M, n = U.shape
    pats, rows, cols, off = [], [], [], 0
    for a, e in zip(cuts[:-1], cuts[1:]):
        sub = sp.csr_matrix(U[:, a:e])
        sub.sort_indices()
        nz = np.flatnonzero(np.diff(sub.indptr) > 0)
        if not len(nz):
            continue
        sub = sub[nz]
        ids, first = _row_ids(sub.indptr, sub.indices)
        pat = sub[first]
        pats.append(sp.csr_matrix((np.ones(pat.nnz), pat.indices + a, pat.indptr), shape=(len(first), n)))
        rows.append(nz)
        cols.append(ids + off)
        off += len(first)
    if not pats:
        return sp.csr_matrix((0, n)), sp.csr_matrix((M, 0))
    P = sp.csr_matrix(sp.vstack(pats))
    r, k = np.concatenate(rows), np.concatenate(cols)
    E = sp.csr_matrix((c[r], (r, k)), shape=(M, off))
    E.sort_indices()
    return P, E


class BinaryRowsLogistic:
    """f and ∇f of logistic regression for binary-pattern A (see the module docstring), batched over replicas:
    ``f_value(X)`` (R, n) → (R,), ``f_grad(X)`` (R, n) → (R, n).

    kernel: "embedding_bag", "csr" or "auto" (CPU: float64 or fewer than 16 replicas → csr, else embedding_bag;
    CUDA: embedding_bag).
    factor: "auto" (cost model), True (cost model's cuts, or 4 equal parts if it finds none), False (none), or a
    list of column cut points [0, …, n]."""

    def __init__(self, A, b, kernel: str = "auto", factor="auto"):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        A = sp.csr_matrix(A, dtype=np.float64)
        A.sum_duplicates()
        A.sort_indices()
        c = binary_row_scales(A)
        if c is None:
            raise ValueError("A is not binary-pattern: the stored entries of some row differ (use layout='sparse')")
        A.eliminate_zeros()
        b = np.asarray(b, dtype=np.float64).ravel()
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have {A.shape[0]} labels, got shape {b.shape}")
        self.N, self.n = A.shape
        self.kernel = kernel
        U, inv = _unique_rows(A, c)
        self.U = U
        self.scale = binary_row_scales(U)
        self.count = np.bincount(inv, minlength=U.shape[0]).astype(np.float64)
        self.positives = np.bincount(inv, weights=(b > 0).astype(np.float64), minlength=U.shape[0])
        self.sign = np.where(2 * self.positives > self.count, -1.0, 1.0)  # −(majority label)
        self.minority = np.minimum(self.positives, self.count - self.positives)
        self.q = np.asarray(U.T @ (self.minority * self.sign)).ravel() / self.N
        if factor == "auto" or factor is True:
            cuts = choose_cuts(U)
            if cuts is None and factor is True:
                cuts = np.linspace(0, self.n, 5).round().astype(int).tolist()
        elif factor is False or factor is None:
            cuts = None
        else:
            cuts = [int(v) for v in factor]
            if cuts[0] != 0 or cuts[-1] != self.n or any(x >= y for x, y in zip(cuts[:-1], cuts[1:])):
                raise ValueError(f"factor cuts must increase strictly from 0 to n={self.n}, got {factor!r}")
        self.cuts = cuts
        signed = self.sign * self.scale
        self.P, self.E = (None, None) if cuts is None else _factor(U, signed, cuts)
        if self.P is None or self.P.shape[0] == 0:  # no factorisation (or all rows empty)
            self.cuts, self.P, self.E = None, None, sp.csr_matrix(sp.diags(self.sign) @ U)
        self._cache = {}

    @property
    def n_unique(self) -> int:
        return self.U.shape[0]

    def describe(self) -> dict:
        return {"rows": self.N, "unique_rows": self.n_unique, "cuts": self.cuts,
                "patterns": None if self.P is None else self.P.shape[0], "gathers_per_replica": self.gathers()}

    def gathers(self) -> int:
        """Entries gathered per replica for one gradient (forward + backward)."""
        return 2 * (self.E.nnz + (0 if self.P is None else self.P.nnz))

    # --- device tensors ---------------------------------------------------------------------------------------
    def _pick(self, R, dtype, device) -> str:
        if self.kernel != "auto":
            return self.kernel
        if device.type != "cpu":
            return "embedding_bag"
        return "csr" if (dtype == torch.float64 or R < SMALL_R) else "embedding_bag"

    def _plan(self, R, dtype, device):
        """(kernel, replica block, rows per chunk)."""
        kern = self._pick(R, dtype, device)
        if device.type != "cpu":
            return kern, R, max(self.n_unique, 1)
        B = min(R, BLOCK[kern, dtype])
        itemsize = torch.finfo(dtype).bits // 8
        C = CHUNK_BYTES // (B * itemsize)
        C = 1 << max(8, int(math.log2(max(C, 1))))
        return kern, B, min(C, max(self.n_unique, 1))

    @staticmethod
    def _op(S, kern, dtype, device):
        """An operator "rows of S gathered from a table": _apply(op, table) = S @ table."""
        i64 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.int64, device=device)
        val = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)
        S = sp.csr_matrix(S)
        if kern == "embedding_bag":
            return ("eb", i64(S.indices), i64(S.indptr[:-1]), val(S.data), bool(np.all(S.data == 1.0)))
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return ("csr", torch.sparse_csr_tensor(i64(S.indptr), i64(S.indices), val(S.data), size=S.shape,
                                                   check_invariants=False))

    def _tensors(self, kern, C, dtype, device):
        key = (kern, C, dtype, str(device))
        if key in self._cache:
            return self._cache[key]
        i64 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.int64, device=device)
        val = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

        op = lambda S: self._op(S, kern, dtype, device)

        chunks = []
        for r0 in range(0, self.n_unique, C):
            E = self.E[r0:r0 + C]
            Ew = (sp.diags(self.count[r0:r0 + C] / self.N) @ E).T  # entries s_u c_u n_u / N, by pattern
            chunks.append((op(E), op(Ew), val(self.count[r0:r0 + C])))
        stage = None if self.P is None else (op(self.P), op(self.P.T))
        self._cache[key] = (chunks, stage, val(self.q))
        return self._cache[key]

    @staticmethod
    def _apply(o, table):
        if o[0] == "csr":
            return o[1] @ table
        return Fnn.embedding_bag(o[1], table, o[2], mode="sum", per_sample_weights=None if o[4] else o[3])

    # --- f and ∇f -------------------------------------------------------------------------------------------------
    def _check(self, X):
        if X.ndim != 2 or X.shape[1] != self.n:
            raise ValueError(f"X must have shape (R, {self.n}), got {tuple(X.shape)}")

    def f_grad(self, X: torch.Tensor) -> torch.Tensor:
        self._check(X)
        kern, B, C = self._plan(X.shape[0], X.dtype, X.device)
        chunks, stage, q = self._tensors(kern, C, X.dtype, X.device)
        out = torch.empty(X.shape, dtype=X.dtype, device=X.device)
        for r0 in range(0, X.shape[0], B):
            T = X[r0:r0 + B].T.contiguous()  # (n, B)
            if stage is not None:
                T = self._apply(stage[0], T)  # (patterns, B): partial sums P xᵀ
            W = None
            for fwd, back, _ in chunks:
                S = torch.sigmoid_(self._apply(fwd, T))  # (C, B): σ(z_u)
                Wc = self._apply(back, S)  # Σ_u (n_u/N) s_u c_u σ(z_u) e_u
                W = Wc if W is None else W.add_(Wc)
            G = W if stage is None else self._apply(stage[1], W)  # (n, B)
            torch.sub(G.T, q, out=out[r0:r0 + B])
        return out

    def _value_tensors(self, kern, C, dtype, device):
        """Row chunks for f_value: the rows seen once (n_u = 1) first, in chunks whose product tree runs over
        whole groups of GROUP rows, then the repeated rows (weighted by n_u)."""
        key = ("value", kern, C, dtype, str(device))
        if key in self._cache:
            return self._cache[key]
        chunks, stage, q = self._tensors(kern, C, dtype, device)
        once = np.flatnonzero(self.count == 1)
        more = np.flatnonzero(self.count != 1)
        ops = []
        for rows, single in ((once, True), (more, False)):
            for r0 in range(0, len(rows), C):
                r = rows[r0:r0 + C]
                ops.append((self._op(self.E[r], kern, dtype, device), single,
                            torch.as_tensor(self.count[r], dtype=torch.float64, device=device)))
        self._cache[key] = (ops, stage, q)
        return self._cache[key]

    def f_value(self, X: torch.Tensor) -> torch.Tensor:
        """f row-wise (R,), accumulated in float64 whatever X's dtype.

        softplus(z) = max(z, 0) + log1p(e^{−|z|}); over the rows seen once, Σ log1p(t_u) is taken as
        log1p(D) with D = Π(1 + t_u) − 1 built by a product tree over GROUP rows, d ← d_a + d_b + d_a·d_b
        (positive terms only: relative error ≲ 2·log2(GROUP) ulp, also when f is tiny; D ≤ 2^GROUP cannot
        overflow), so one exp per row and one log1p per GROUP rows instead of one softplus per row."""
        self._check(X)
        kern, B, C = self._plan(X.shape[0], X.dtype, X.device)
        ops, stage, q = self._value_tensors(kern, C, X.dtype, X.device)
        out = (X @ q).double()
        for r0 in range(0, X.shape[0], B):
            T = X[r0:r0 + B].T.contiguous()
            if stage is not None:
                T = self._apply(stage[0], T)
            v = None
            for fwd, single, count in ops:
                Z = self._apply(fwd, T)  # (C, B) margins z_u
                if X.dtype != torch.float64:
                    Z = Z.double()
                if not single or Z.shape[1] < TREE_MIN_R:
                    vc = count @ Fnn.softplus(Z)  # Σ_u n_u softplus(z_u)
                else:
                    vc = Z.clamp(min=0).sum(0)
                    t = Z.abs_().neg_().exp_()  # e^{−|z|} ∈ (0, 1]
                    g = t.shape[0] - t.shape[0] % GROUP
                    D = t[:g]
                    while D.shape[0] > g // GROUP:
                        h = D.shape[0] // 2
                        D = D[:h].addcmul_(D[:h], D[h:]).add_(D[h:])  # (1 + a)(1 + b) − 1
                    vc = vc.add_(torch.log1p(D).sum(0)).add_(torch.log1p(t[g:]).sum(0))
                v = vc if v is None else v.add_(vc)
            out[r0:r0 + B] = v / self.N - out[r0:r0 + B]
        return out.to(X.dtype)
