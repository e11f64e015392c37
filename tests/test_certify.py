"""Certified infimum of logistic regression (THEORY §5.1, §4.3b): synthetic cases built by hand, the a9a facts,
the regularisation-path comparators, the a9a problem loader and the Logistic gradient."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.optimize import minimize

from theorycheck.certify import (Certificate, cache_dir, certify_logistic, logistic_grad, logistic_value,
                                 one_sided_features, regularisation_path, regularised_minimiser)
from theorycheck.problems.base import Comparator
from theorycheck.problems.logistic import Logistic, lambda_max_gram

SHARED = os.environ.get("THEORYCHECK_DATA")
F_INF_A9A = 0.3226160787417926  # THEORY §5.1


@pytest.fixture(autouse=True, scope="module")
def _isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    shared = tmp_path_factory.getbasetemp() / "theorycheck-cert-cache"  # one cache for the test session
    shared.mkdir(exist_ok=True)
    mp.setenv("THEORYCHECK_CACHE", str(shared))
    yield
    mp.undo()


def _noisy(N=300, n=5, seed=0):
    """Gaussian rows, labels from a noisy linear model: not separable, so the minimum is attained."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(N, n))
    b = np.where(A @ rng.normal(size=n) + 2.0 * rng.normal(size=N) > 0, 1.0, -1.0)
    return A, b


# --- synthetic problems --------------------------------------------------------------------------

def test_attained_min_norm_minimiser():
    A, b = _noisy()
    A = np.hstack([A, A[:, :1]])  # duplicate column: AᵀA singular, minimisers form a line
    c = certify_logistic(A, b, cache=False)
    assert c.attained and c.removed_rows == 0 and c.removed_features == [] and c.rank == 5
    assert "infimum attained" in c.method
    xs = c.x_star
    assert xs is not None and np.linalg.norm(logistic_grad(sp.csr_matrix(A), b, xs)) <= 1e-12
    assert c.F_inf == pytest.approx(logistic_value(A, b, xs), abs=1e-15)
    assert abs(xs[0] - xs[5]) < 1e-10  # min-norm: orthogonal to the null direction e_0 - e_5
    ref = minimize(lambda x: logistic_value(A, b, x), np.zeros(6), jac=lambda x: logistic_grad(sp.csr_matrix(A), b, x),
                   method="BFGS", options={"gtol": 1e-10})
    assert c.F_inf <= ref.fun + 1e-13 and ref.fun - c.F_inf < 1e-9


def test_planted_one_sided_feature():
    A, b = _noisy(seed=1)
    N = A.shape[0]
    neg = np.flatnonzero(b < 0)[:10]
    col = np.zeros(N)
    col[neg] = np.linspace(0.2, 1.0, 10)  # feature 5 occurs only in negative rows
    A1 = np.hstack([A, col[:, None]])
    j, s = one_sided_features(sp.csr_matrix(A1), b)
    assert list(j) == [5] and list(s) == [-1.0]
    c = certify_logistic(A1, b, cache=False)
    assert not c.attained and c.x_star is None
    assert c.removed_features == [5] and c.removed_features_1based == [6]
    assert c.removed_row_index == sorted(neg.tolist()) and c.w_star[5] == 0.0
    keep = np.setdiff1d(np.arange(N), neg)
    red = certify_logistic(A[keep], b[keep], cache=False)
    assert red.attained
    assert c.F_inf == pytest.approx(red.F_inf * len(keep) / N, abs=1e-14)
    d = np.zeros(6)
    d[5] = -1.0  # the recession direction: F(w* + T d) decreases to F_inf
    vals = [logistic_value(A1, b, c.w_star + T * d) - c.F_inf for T in (0, 10, 100, 1000)]
    assert vals[0] > 1e-3 and all(v1 > v2 for v1, v2 in zip(vals[:-1], vals[1:])) and abs(vals[-1]) < 1e-13


def test_lp_finds_a_direction_that_is_not_a_single_feature():
    """Rows 0..2 are separated by d = (1, 1, 0); every other row is (c, -c, z), so it has zero margin along d.
    Features 1 and 2 occur with both signs of b_i a_ij: the sign test finds nothing, only the LP does."""
    rng = np.random.default_rng(3)
    sep = np.array([[1.0, 1.0, 0.0], [0.3, 1.0, 0.0], [-1.0, -2.0, 0.0]])
    b_sep = np.array([1.0, 1.0, -1.0])
    c_ = rng.normal(size=80)
    rest = np.column_stack([c_, -c_, rng.normal(size=80)])
    b_rest = rng.choice([-1.0, 1.0], size=80)
    A = np.vstack([sep, rest])
    b = np.concatenate([b_sep, b_rest])
    assert one_sided_features(sp.csr_matrix(A), b)[0].size == 0
    c = certify_logistic(A, b, cache=False)
    assert c.lp_rounds >= 2 and "LP" in c.method and "sign test" not in c.method
    assert c.removed_row_index == [0, 1, 2] and c.removed_features == [] and not c.attained
    assert c.direction_residual > -1e-9
    red = certify_logistic(rest, b_rest, cache=False)
    assert red.attained and c.F_inf == pytest.approx(red.F_inf * 80 / 83, abs=1e-14)
    d = np.array([1.0, 1.0, 0.0])
    assert abs(logistic_value(A, b, c.w_star + 1e3 * d) - c.F_inf) < 1e-13
    assert logistic_value(A, b, c.w_star) - c.F_inf > 1e-3


def test_fully_separable_infimum_is_zero():
    A = np.array([[1.0, 0.0], [0.5, 1.0], [-1.0, 0.2]])
    b = np.array([1.0, 1.0, -1.0])
    c = certify_logistic(A, b, cache=False)
    assert c.F_inf == 0.0 and c.removed_rows == 3 and not c.attained
    assert np.all(c.w_star == 0)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="labels b must be in"):
        certify_logistic(np.eye(2), np.array([0.0, 1.0]), cache=False)
    with pytest.raises(ValueError, match="2 rows but b has 3"):
        certify_logistic(np.eye(2), np.ones(3), cache=False)
    with pytest.raises(ValueError, match="t must be a finite number > 0"):
        regularised_minimiser(np.eye(2), np.ones(2), None, 0.0)


def test_cache_roundtrip_and_is_really_read():
    A, b = _noisy(N=100, n=3, seed=4)
    c1 = certify_logistic(A, b)
    files = list(cache_dir().glob("certificate-*.json"))
    assert len(files) >= 1
    path = max(files, key=lambda p: p.stat().st_mtime)
    d = json.loads(path.read_text())
    assert d["F_inf"] == c1.F_inf and np.array_equal(Certificate.from_json(d).w_star, c1.w_star)
    d["F_inf"] = 123.0  # tamper: a second call must return the cached (tampered) value
    path.write_text(json.dumps(d))
    assert certify_logistic(A, b).F_inf == 123.0
    assert certify_logistic(A, b, cache=False).F_inf == c1.F_inf


def test_regularisation_path_on_attained_problem():
    A, b = _noisy(seed=5)
    Ac = sp.csr_matrix(A)
    c = certify_logistic(A, b, cache=False)
    x0 = np.full(5, 0.1)
    pts = regularisation_path(A, b, x0, [1e-1, 1e-2, 1e-3, 1e-8], c.F_inf, w_star=c.w_star, cache=False)
    assert [p["name"] for p in pts] == ["w_star", "reg t=0.1", "reg t=0.01", "reg t=0.001", "reg t=1e-08"]
    assert pts[0]["delta"] == 0.0 and abs(pts[0]["delta_raw"]) < 1e-14
    for p in pts[1:]:
        g = logistic_grad(Ac, b, p["u"]) + p["t"] * (p["u"] - x0)
        assert np.linalg.norm(g) < 1e-11 and p["delta"] >= 0
        assert p["V"] == pytest.approx(0.5 * np.sum((p["u"] - x0) ** 2))
    deltas, Vs = [p["delta"] for p in pts[1:]], [p["V"] for p in pts[1:]]
    assert all(x > y for x, y in zip(deltas[:-1], deltas[1:])) and all(x < y for x, y in zip(Vs[:-1], Vs[1:]))
    assert np.linalg.norm(pts[-1]["u"] - c.x_star) < 1e-5
    with pytest.raises(RuntimeError, match="below F_inf"):  # negative control: a wrong F_inf is caught
        regularisation_path(A, b, x0, [1e-3], c.F_inf + 1e-3, cache=False)


# --- Logistic gradient -----------------------------------------------------------------------------

@pytest.mark.parametrize("sparse", [False, True])
def test_logistic_gradient_fd_and_autograd(sparse):
    rng = np.random.default_rng(6)
    A = rng.normal(size=(40, 7)) * (rng.random((40, 7)) < 0.5)
    b = rng.choice([-1.0, 1.0], size=40)
    prob = Logistic(sp.csr_matrix(A) if sparse else A, b, layout="sparse" if sparse else "dense")
    X = torch.as_tensor(rng.normal(size=(3, 7)))
    G = prob.f_grad(X)
    Xr = X.clone().requires_grad_(True)
    prob.f_value(Xr).sum().backward()
    torch.testing.assert_close(G, Xr.grad, rtol=1e-12, atol=1e-14)
    h = 1e-6
    E = torch.eye(7, dtype=torch.float64)
    fd = torch.stack([(prob.f_value(X + h * E[j]) - prob.f_value(X - h * E[j])) / (2 * h) for j in range(7)], 1)
    torch.testing.assert_close(G, fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(prob.f_value(X).numpy(), [logistic_value(A, b, x) for x in X.numpy()], rtol=1e-14)
    np.testing.assert_allclose(G.numpy(), [logistic_grad(sp.csr_matrix(A), b, x) for x in X.numpy()],
                               rtol=1e-12, atol=1e-15)


# --- a9a (THEORY §5.1) -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def a9a():
    if not SHARED:
        pytest.skip("THEORYCHECK_DATA is not set (point it at the folder holding a9a)")
    path = Path(SHARED) / "a9a"
    if not path.is_file():
        pytest.skip(f"a9a not found in THEORYCHECK_DATA={SHARED}")
    from theorycheck.data import load_svmlight

    A, b = load_svmlight(path)
    return A, b, certify_logistic(A, b)  # computed once per test session (then cached)


def test_a9a_data_facts(a9a):
    A, b, _ = a9a
    N = A.shape[0]
    assert A.shape == (32561, 123) and A.nnz == 451592 and int((b > 0).sum()) == 7841
    j, s = one_sided_features(A, b)
    assert [int(v) + 1 for v in j] == [12, 13, 34, 89, 123] and np.all(s == -1.0)
    assert int((A[:, j].getnnz(axis=1) > 0).sum()) == 87
    ev = np.linalg.eigvalsh((A.T @ A).toarray())
    assert int((ev > 1e-10 * ev[-1]).sum()) == 108
    assert lambda_max_gram(A) / (4 * N) == pytest.approx(0.113206, abs=5e-7)
    assert 0.25 * np.asarray(A.multiply(A).sum(1)).max() == pytest.approx(0.25, abs=1e-12)
    assert logistic_value(A, b, np.zeros(123)) == pytest.approx(math.log(2), abs=1e-15)


def test_a9a_certificate(a9a):
    A, b, c = a9a
    assert abs(c.F_inf - F_INF_A9A) < 1e-10
    assert not c.attained and c.x_star is None and "NOT attained" in c.method
    assert "sign test" in c.method and c.lp_rounds == 1 and "LP (HiGHS) certifies no further" in c.method
    assert c.removed_features_1based == [12, 13, 34, 89, 123] and c.removed_rows == 87
    assert c.grad_norm <= 1e-12 and c.rank == 103
    assert abs(c.half_norm_sq - 349.88) < 5e-3 and abs(c.half_norm_sq - 349.882018750) < 1e-4
    assert np.all(c.w_star[c.removed_features] == 0.0)
    d = np.zeros(123)
    d[c.removed_features] = -1.0  # F(w* + T d) -> F_inf: the infimum is approached, not attained
    assert abs(logistic_value(A, b, c.w_star + 400 * d) - c.F_inf) < 1e-13
    delta = logistic_value(A, b, c.w_star) - c.F_inf
    assert 1e-5 < delta < 1e-3  # measured: 1.93e-4
    assert any(cache_dir().glob("certificate-*.json"))
    assert certify_logistic(A, b).F_inf == c.F_inf  # cached


def test_load_a9a_problem(a9a):
    from theorycheck.problems.a9a import load_a9a

    p = load_a9a(data_dir=SHARED)
    c = p.certificate
    assert p.constants.F_ref == c.F_inf and not p.constants.attained and p.x_star is None
    assert p.constants.F_ref_method == c.method and p.constants.L == pytest.approx(0.25, abs=1e-12)
    assert load_a9a(data_dir=SHARED, L="tight", comparators=False).constants.L == pytest.approx(0.113206, abs=5e-7)
    names = [k.name for k in p.comparators]
    assert names == ["w_star", "reg t=0.01", "reg t=0.001", "reg t=0.0001"]
    assert all(isinstance(k, Comparator) and k.u.shape == (123,) and k.delta >= 0 for k in p.comparators)
    ws = p.comparators[0]
    assert ws.V == pytest.approx(c.half_norm_sq) and 1e-5 < ws.delta < 1e-3
    err = p.error(torch.stack([k.u for k in p.comparators]))
    torch.testing.assert_close(err, torch.tensor([k.delta for k in p.comparators], dtype=torch.float64),
                               rtol=1e-9, atol=1e-13)
    assert float(p.error(p.x0[None])[0]) == pytest.approx(math.log(2) - F_INF_A9A, abs=1e-10)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_a9a("valid", data_dir=SHARED)
