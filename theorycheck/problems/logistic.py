"""Logistic regression f(x) = (1/N) Σ_i log(1 + exp(−b_i ⟨a_i, x⟩)) on any (A, b), dense or scipy-sparse.

Layouts (``layout``): "dense" (GEMM), "sparse" (torch sparse CSR), "binary" (rows a_i = c_i · 1_{S_i}, e.g. binary
features with L2-normalised rows: duplicate rows merged, chunked gather-sums; see ``binary_logistic``) or "auto":
binary when every row's nonzeros share one value, else sparse when A is scipy-sparse with < 25% nonzeros, else
dense. All layouts compute the same f and ∇f (up to rounding).

Constants (THEORY §2.3): L_tight = λ_max(AᵀA)/(4N) in ℓ2 (computed), L_row = ¼ max_i ‖a_i‖² (the paper's bound),
M = 0. F_ref must be supplied (the a9a certification lives in ``theorycheck.certify``); without it the problem is
usable for runs but not for bound checks.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import torch.nn.functional as Fnn

from ..geometry import euclidean
from .base import Constants, Problem
from .binary_logistic import BinaryRowsLogistic, binary_row_scales

LAYOUTS = ("auto", "dense", "sparse", "binary")


def lambda_max_gram(A) -> float:
    """λ_max(AᵀA) for dense or sparse A (Lanczos on the n×n Gram matrix, dense eigvalsh when small)."""
    G = (A.T @ A)
    G = G.toarray() if sp.issparse(G) else np.asarray(G)
    return float(np.linalg.eigvalsh(G)[-1]) if G.shape[0] <= 2000 else \
        float(spla.eigsh(G, k=1, which="LA", return_eigenvectors=False)[0])


class Logistic(Problem):
    def __init__(self, A, b, F_ref: float = math.nan, F_ref_method: str = "not certified", attained=True,
                 x_star=None, x0=None, L: str | float = "tight", name="logistic", device=None, layout="auto"):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        b = np.asarray(b, dtype=np.float64).ravel()
        if A.shape[0] != b.shape[0]:
            raise ValueError(f"A has {A.shape[0]} rows but b has {b.shape[0]} labels")
        if not np.all(np.isin(b, (-1.0, 1.0))):
            raise ValueError("labels b must be in {-1, +1}")
        self.name = name
        self.setup = euclidean()
        N, n = A.shape
        self.N, self.n_rows = N, N
        row_sq = np.asarray(A.multiply(A).sum(1)).ravel() if sp.issparse(A) else (np.asarray(A) ** 2).sum(1)
        self.L_row = 0.25 * float(row_sq.max())
        self.L_tight = lambda_max_gram(A) / (4 * N)
        L_val = {"tight": self.L_tight, "row": self.L_row}.get(L, L) if isinstance(L, str) else float(L)
        if isinstance(L, str) and L not in ("tight", "row"):
            raise ValueError(f"L must be 'tight', 'row' or a number, got {L!r}")
        if L_val < self.L_tight * (1 - 1e-9):
            raise ValueError(f"L={L_val} is below the tight smoothness constant {self.L_tight}: not a valid bound")
        self.constants = Constants(L=L_val, M=0.0, F_ref=float(F_ref), F_ref_method=F_ref_method, attained=attained)
        self.x0 = torch.zeros(n, dtype=torch.float64, device=device) if x0 is None else \
            torch.as_tensor(x0, dtype=torch.float64, device=device)
        self.x_star = None if x_star is None else torch.as_tensor(x_star, dtype=torch.float64, device=device)
        if layout in ("auto", "binary"):
            binary = binary_row_scales(A) is not None
            if layout == "binary" and not binary:
                raise ValueError("layout='binary' needs rows whose nonzeros share one value (binary features, "
                                 "possibly row-scaled); use layout='sparse' or 'dense'")
            layout = "binary" if binary else ("sparse" if sp.issparse(A) and A.nnz < 0.25 * N * n else "dense")
        self.layout = layout
        self._A_np = A
        self._b = torch.as_tensor(b, device=device)
        self._sparse = layout == "sparse"
        self._binary = BinaryRowsLogistic(A, b) if layout == "binary" else None
        self._cache = {}

    def _data(self, dtype, device):
        key = (dtype, str(device))
        if key not in self._cache:
            A = self._A_np
            if self._sparse:
                A = sp.csr_matrix(A)
                At = sp.csr_matrix(A.T)
                def mk(M):
                    M.sum_duplicates()  # canonical CSR (sorted, distinct column indices), as torch requires
                    M.sort_indices()
                    with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and tested here
                        warnings.simplefilter("ignore", UserWarning)
                        return torch.sparse_csr_tensor(torch.as_tensor(M.indptr, dtype=torch.int64),
                                                       torch.as_tensor(M.indices, dtype=torch.int64),
                                                       torch.as_tensor(M.data, dtype=dtype), size=M.shape,
                                                       check_invariants=True).to(device)
                self._cache[key] = (mk(A), mk(At), self._b.to(device, dtype))
            else:
                Ad = torch.as_tensor(A.toarray() if sp.issparse(A) else np.asarray(A), dtype=dtype, device=device)
                self._cache[key] = (Ad, Ad.T, self._b.to(device, dtype))
        return self._cache[key]

    def _margins(self, X):
        A, _, b = self._data(X.dtype, X.device)
        Z = (A @ X.T) if not self._sparse else torch.sparse.mm(A, X.T.contiguous())
        return Z * b[:, None]  # (N, R): b_i <a_i, x_r>

    def f_value(self, X):
        if self._binary is not None:
            return self._binary.f_value(X)
        return Fnn.softplus(-self._margins(X)).mean(0)

    def f_grad(self, X):
        if self._binary is not None:
            return self._binary.f_grad(X)
        _, At, b = self._data(X.dtype, X.device)
        S = -torch.sigmoid(-self._margins(X)) * b[:, None] / self.N  # (N, R)
        G = (At @ S) if not self._sparse else torch.sparse.mm(At, S)
        return G.T.contiguous()

    #: largest N·n for which the minibatch oracle keeps a dense copy of A on the device (2**27 float64 = 1 GiB)
    DENSE_ROWS_MAX = 1 << 27

    def _rows(self, idx, dtype, device):
        """Rows a_i for idx (any shape) as a (*idx.shape, n) tensor on `device`: gathered on the device from a
        cached dense A when it is small enough (no host round trip in the hot loop, CUDA-ready), else densified
        on the host."""
        N, n = self._A_np.shape
        if N * n <= self.DENSE_ROWS_MAX:
            key = ("rows", dtype, str(device))
            if key not in self._cache:
                A = self._A_np
                self._cache[key] = torch.as_tensor(A.toarray() if sp.issparse(A) else np.asarray(A), dtype=dtype,
                                                   device=device)
            return self._cache[key][idx]
        A, flat = self._A_np, idx.cpu().numpy().ravel()
        rows = np.asarray(A[flat].todense() if sp.issparse(A) else np.asarray(A)[flat])
        return torch.as_tensor(rows, dtype=dtype, device=device).reshape(*idx.shape, -1)

    def f_grad_rows(self, X, idx):
        """Mean gradient over rows idx (R, B) for each replica: (R, n)."""
        rows = self._rows(idx, X.dtype, X.device)  # (R, B, n)
        b = self._b.to(X.device, X.dtype)[idx]  # (R, B)
        m = torch.einsum("rbn,rn->rb", rows, X) * b
        w = -torch.sigmoid(-m) * b  # (R, B)
        return torch.einsum("rb,rbn->rn", w, rows) / idx.shape[1]

    def to(self, device=None):
        self._cache = {}
        return super().to(device)
