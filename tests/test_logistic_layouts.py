"""Every Logistic layout (dense, sparse, binary: factored or not, embedding_bag or CSR kernel, one or many row
chunks and replica blocks) computes the same f and ∇f as the dense reference and as torch.autograd:
≤ 1e-12 in float64, ≤ 1e-5 relative in float32."""
import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as Fnn

import theorycheck.problems.binary_logistic as BL
from theorycheck.problems.binary_logistic import BinaryRowsLogistic, binary_row_scales, choose_cuts
from theorycheck.problems.logistic import Logistic


def one_hot(N=1500, sizes=(3, 4, 5, 8, 10), seed=0, normalise=True, empty=3):
    """One-hot groups with skewed categories (many duplicate rows), 5% missing groups, `empty` all-zero rows."""
    g = np.random.default_rng(seed)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cols = np.stack([s + g.choice(k, N, p=(p := 1 / np.arange(1, k + 1) ** 1.5) / p.sum())
                     for s, k in zip(starts, sizes)], 1)
    keep = g.random(cols.shape) > 0.05
    keep[:empty] = False
    A = sp.csr_matrix((np.ones(keep.sum()), (np.repeat(np.arange(N), keep.sum(1)), cols[keep])),
                      shape=(N, int(sum(sizes))))
    if normalise:
        A = sp.csr_matrix(sp.diags(1 / np.sqrt(np.maximum(A.getnnz(1), 1))) @ A)
    b = np.where(g.random(N) < 0.4, 1.0, -1.0)
    return A, b


def reference(A, b, X):
    """Dense float64 f and ∇f by torch.autograd."""
    Ad, bt = torch.as_tensor(A.toarray()), torch.as_tensor(b)
    X = X.detach().double().clone().requires_grad_(True)
    f = Fnn.softplus(-(X @ Ad.T) * bt).mean(1)
    f.sum().backward()
    return f.detach(), X.grad


def close(got, ref, dtype):
    err = float((got.double() - ref).abs().max())
    if dtype == torch.float64:
        return err <= 1e-12 * max(1.0, float(ref.abs().max()))
    return err <= 1e-5 * float(ref.abs().max())


LAYOUTS = [dict(layout="dense"), dict(layout="sparse"), dict(layout="binary"),
           dict(layout="binary", kernel="embedding_bag", factor=False), dict(layout="binary", kernel="csr", factor=False),
           dict(layout="binary", kernel="embedding_bag", factor=[0, 7, 12, 30]),
           dict(layout="binary", kernel="csr", factor=[0, 7, 12, 30])]


def build(A, b, layout, kernel="auto", factor="auto"):
    p = Logistic(A, b, layout=layout)
    if layout == "binary":
        p._binary = BinaryRowsLogistic(A, b, kernel=kernel, factor=factor)
    return p


@pytest.mark.parametrize("spec", LAYOUTS, ids=lambda s: "-".join(str(v) for v in s.values()))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("chunk_bytes", [BL.CHUNK_BYTES, 1])  # 1: many row chunks of 256 rows
def test_layouts_match_dense_and_autograd(spec, dtype, chunk_bytes, monkeypatch):
    monkeypatch.setattr(BL, "CHUNK_BYTES", chunk_bytes)
    A, b = one_hot()
    p = build(A, b, **spec)
    dense = Logistic(A, b, layout="dense")
    X = torch.randn(70, A.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    f_ref, g_ref = reference(A, b, X)
    assert close(dense.f_value(X), f_ref, torch.float64) and close(dense.f_grad(X), g_ref, torch.float64)
    for R in (1, 5, 70):  # CSR small-R path, one block, several replica blocks
        f, g = p.f_value(X[:R].to(dtype)), p.f_grad(X[:R].to(dtype))
        assert f.dtype == g.dtype == dtype and g.shape == (R, A.shape[1]) and g.is_contiguous()
        assert close(f, f_ref[:R], dtype), (R, float((f.double() - f_ref[:R]).abs().max()))
        assert close(g, g_ref[:R], dtype), (R, float((g.double() - g_ref[:R]).abs().max()))


def test_binary_layout_detects_a_wrong_gradient():
    """The comparison above can fail: dropping one row's contribution is caught."""
    A, b = one_hot()
    X = torch.randn(4, A.shape[1], dtype=torch.float64)
    _, g_ref = reference(A, b, X)
    bad = BinaryRowsLogistic(A, b)
    bad.count = bad.count.copy()
    bad.count[np.argmax(bad.count)] -= 1
    bad._cache = {}
    assert not close(bad.f_grad(X), g_ref, torch.float64)


def test_auto_layout_choice_and_errors():
    A, b = one_hot()
    assert Logistic(A, b).layout == "binary"
    assert Logistic(A.toarray(), b).layout == "binary"  # dense binary-pattern data too
    G = sp.random(200, 30, density=0.1, format="csr", random_state=0)
    bg = np.where(np.arange(200) % 3, 1.0, -1.0)
    assert Logistic(G, bg).layout == "sparse"
    assert Logistic(G.toarray() + 1e-3, bg).layout == "dense"
    with pytest.raises(ValueError, match="layout='binary'"):
        Logistic(G, bg, layout="binary")
    with pytest.raises(ValueError, match="layout must be one of"):
        Logistic(A, b, layout="csr")
    with pytest.raises(ValueError, match="kernel must be one of"):
        BinaryRowsLogistic(A, b, kernel="gemm")
    with pytest.raises(ValueError, match="factor cuts"):
        BinaryRowsLogistic(A, b, factor=[0, 12, 7, 30])
    with pytest.raises(ValueError, match="X must have shape"):
        BinaryRowsLogistic(A, b).f_grad(torch.zeros(2, 29, dtype=torch.float64))


def test_row_scales_duplicates_and_factorisation():
    A, b = one_hot(normalise=False)
    c = binary_row_scales(sp.csr_matrix(sp.diags(np.arange(1.0, A.shape[0] + 1)) @ A))
    nz = A.getnnz(1) > 0
    assert c is not None and np.array_equal(c[nz], np.arange(1.0, A.shape[0] + 1)[nz]) and (c[~nz] == 0).all()
    assert binary_row_scales(sp.csr_matrix([[1.0, 2.0]])) is None
    k = BinaryRowsLogistic(A, b)
    assert k.n_unique < A.shape[0] and k.count.sum() == A.shape[0]  # duplicates merged, none lost
    assert k.cuts is not None and k.cuts[0] == 0 and k.cuts[-1] == A.shape[1]
    assert abs(k.E @ k.P - sp.diags(k.sign) @ k.U).max() == 0  # exact factorisation diag(s) U = E P
    assert k.gathers() < 2 * k.U.nnz
    # a diagonal matrix has nothing to share: no factorisation
    assert choose_cuts(sp.identity(40, format="csr")) is None


def test_value_keeps_relative_accuracy_when_tiny():
    """Separable labels and large margins: f ≈ 1e-16 is still computed to ~1e-15 relative (rows enter as
    softplus(−b m), nothing large is subtracted), also with a few mixed-label duplicate rows."""
    A, _ = one_hot(empty=0)
    w = np.random.default_rng(4).standard_normal(A.shape[1])
    m = A @ w
    keep = np.abs(m) >= np.median(np.abs(m))  # a margin, so that X stays moderate and the margins exact-ish
    A, m = A[keep], m[keep]
    for flip in (0, 20):
        b = np.where(m > 0, 1.0, -1.0)
        b[:flip] *= -1
        X = torch.as_tensor(w[None] * 30 / np.abs(m).min())
        exact = np.logaddexp(0, -b[:, None] * (A @ X.numpy().T)).mean(0)
        assert flip or exact[0] < 1e-12  # really tiny without the flipped rows
        got = Logistic(A, b, layout="binary").f_value(X).numpy()
        assert abs(got[0] - exact[0]) <= 1e-12 * exact[0], (flip, got[0], exact[0])


def test_replica_alone_matches_batch():
    """Row r of a batched gradient does not depend on the other replicas (float64, ≤ 1e-13)."""
    A, b = one_hot()
    p = Logistic(A, b)
    X = torch.randn(100, A.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    G = p.f_grad(X)
    for r in (0, 37, 99):
        torch.testing.assert_close(p.f_grad(X[r:r + 1])[0], G[r], rtol=1e-13, atol=1e-15)


def test_a9a_binary_layout_matches_dense():
    d = os.environ.get("THEORYCHECK_DATA")
    if not d or not (Path(d) / "a9a").is_file():
        pytest.skip("THEORYCHECK_DATA is unset or holds no a9a file")
    from theorycheck.data import load_svmlight

    A, b = load_svmlight(Path(d) / "a9a")
    p, dense = Logistic(A, b), Logistic(A, b, layout="dense")
    assert p.layout == "binary" and p._binary.P is not None
    X = torch.randn(80, 123, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    f_ref, g_ref = dense.f_value(X), dense.f_grad(X)
    for dtype in (torch.float64, torch.float32):
        assert close(p.f_value(X.to(dtype)), f_ref, dtype) and close(p.f_grad(X.to(dtype)), g_ref, dtype)


@pytest.mark.parametrize("chunk_bytes", [BL.CHUNK_BYTES, 1])
def test_value_product_tree_matches_softplus_sum(chunk_bytes, monkeypatch):
    """f_value's product tree (Σ log1p(e^{−|z|}) as log1p(Π(1 + t) − 1) over GROUP rows) agrees with the
    row-by-row softplus sum and with an exactly rounded reference to ≤ 1e-13 relative, at R = 1 (softplus
    path) and R = 256 (tree path), with whole and partial groups (chunk_bytes=1: 256-row chunks)."""
    monkeypatch.setattr(BL, "CHUNK_BYTES", chunk_bytes)
    A, b = one_hot(N=3000)
    k = BinaryRowsLogistic(A, b)
    assert (k.count == 1).sum() % BL.GROUP and (k.count > 1).any()  # a partial group and repeated rows
    X = torch.randn(256, A.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    M = -b[:, None] * (A @ X.numpy().T)  # (N, R) margins
    exact = np.array([math.fsum(np.logaddexp(0, M[:, r])) for r in range(M.shape[1])]) / A.shape[0]
    tree = k.f_value(X).numpy()
    monkeypatch.setattr(BL, "TREE_MIN_R", 10 ** 9)
    plain = k.f_value(X).numpy()
    assert np.abs(tree - exact).max() <= 1e-13 * exact.max() and np.abs(plain - exact).max() <= 1e-13 * exact.max()
    assert abs(k.f_value(X[:1]).item() - exact[0]) <= 1e-13 * exact[0]
    # the comparison can fail: one row's term left out of the tree is seen
    k2 = BinaryRowsLogistic(A, b)
    k2.count = k2.count.copy()
    k2.count[np.flatnonzero(k2.count == 1)[0]] = 0  # now in the "repeated" chunks with weight 0
    monkeypatch.setattr(BL, "TREE_MIN_R", 4)
    assert np.abs(k2.f_value(X).numpy() - exact).max() > 1e-10 * exact.max()


def _row_ids_reference(A, c):
    """The pre-vectorisation reference: a dict over (scale, column bytes), numbered by first appearance."""
    key, ids = {}, []
    for i in range(A.shape[0]):
        ids.append(key.setdefault((c[i], A.indices[A.indptr[i]:A.indptr[i + 1]].tobytes()), len(key)))
    return np.array(ids)


@pytest.mark.parametrize("long_row", [False, True])
def test_row_ids_vectorised_match_dict_reference(long_row, monkeypatch):
    rng = np.random.default_rng(3)
    base = (rng.random((40, 30)) < 0.15).astype(float)
    A = sp.csr_matrix(base[rng.integers(0, 40, size=300)])  # many duplicate rows, some empty
    if long_row:
        A = sp.vstack([A, sp.csr_matrix(np.ones((1, 30)))]).tocsr()
    A.sort_indices()
    c = np.where(rng.random(A.shape[0]) < 0.5, 1.0, 0.5)  # the scale is part of a row's identity
    ref = _row_ids_reference(A, c)
    for collide in (False, True):  # vectorised, then every hash colliding (the dict fallback)
        if collide:
            monkeypatch.setattr(BL, "_row_hash", lambda indptr, *a: np.zeros(len(indptr) - 1, dtype=np.int64))
        ids, first = BL._row_ids(A.indptr, A.indices, c)
        np.testing.assert_array_equal(ids, ref)
        np.testing.assert_array_equal(ids[first], np.arange(len(first)))  # first[i] is id i's first row
        assert np.all(np.diff(first) > 0)
    monkeypatch.undo()
    ids, _ = BL._row_ids(A.indptr, A.indices)  # without scales: fewer distinct rows
    assert ids.max() < ref.max()
    np.testing.assert_array_equal(ids, BL._row_ids_dict(A.indptr, A.indices)[0])
    # the factorisation built from these ids reproduces U exactly
    L = BinaryRowsLogistic(sp.diags(c) @ A, np.where(rng.random(A.shape[0]) < 0.5, 1.0, -1.0), factor=True)
    U = sp.diags(L.sign * L.scale) @ (L.U != 0).astype(float)
    assert abs(L.E @ L.P - U).max() == 0
