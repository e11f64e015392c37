"""Runner behaviour: batch invariance, determinism, divergence flags, checkpoints, the results table, devices,
and the documented errors for bad parameters."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from theorycheck import algorithms as A
from theorycheck.oracles import Oracle, SphereNoise, StudentTNoise
from theorycheck.problems.quadratic import Quadratic
from theorycheck.run import default_checkpoints, run
from theorycheck.schedules import Constant
from theorycheck.table import read_table, write_csv, write_parquet


def quad(n=6, device=None):
    Q = torch.diag(torch.linspace(0.1, 1.0, n, dtype=torch.float64))
    return Quadratic(Q, torch.linspace(-1, 1, n, dtype=torch.float64), device=device)


def am1(p, m=5, eta=0.3, beta=0.9):
    return A.AM1Momentum(p.setup, Constant(beta, eta=eta), m)


@pytest.mark.parametrize("name", ["am1", "am2", "acsa"])
def test_batch_invariance(name):
    """Replica 37 alone follows the same trajectory as inside a batch of 1000 (same seed)."""
    p = quad()
    alg = A.make(name, p.setup, Constant(0.9, alpha=2.0), m=5 if name != "acsa" else None)
    o = Oracle(p, SphereNoise(0.5))
    big = run(p, o, alg, 40, range(1000), options=("II",), checkpoints=[10, 40])
    alone = run(p, o, alg, 40, [37], options=("II",), checkpoints=[10, 40])
    np.testing.assert_allclose(alone.errors["II"][:, 0], big.errors["II"][:, 37], rtol=1e-13, atol=1e-15)


def test_cpu_determinism_bitwise():
    p = quad()
    o = Oracle(p, SphereNoise(0.5))
    a = run(p, o, am1(p), 50, range(16))
    b = run(p, o, am1(p), 50, range(16))
    assert np.array_equal(a.errors["II"], b.errors["II"])
    assert all(torch.equal(a.state[k], b.state[k]) for k in ("x", "xt", "xtp"))


def test_different_seeds_give_different_noise():
    p = quad()
    r = run(p, Oracle(p, SphereNoise(0.5)), am1(p), 50, range(8))
    assert len(np.unique(r.final("II"))) == 8


def test_divergent_replicas_are_flagged_and_others_unaffected():
    """Noise of scale 1e154 overflows F for some replicas (9 of 20) and not for the others."""
    p = quad()
    o = Oracle(p, StudentTNoise(1e154, df=3))
    r = run(p, o, A.MirrorDescentSA(p.setup, Constant(0.0, alpha=1.0)), 30, range(20), options=("last",))
    assert r.diverged.any()
    assert np.isinf(r.final("last")[r.diverged]).all()
    assert not np.isnan(r.errors["last"]).any()
    # the healthy replicas match a run without the diverged ones
    ok = np.flatnonzero(~r.diverged)
    r2 = run(p, o, A.MirrorDescentSA(p.setup, Constant(0.0, alpha=1.0)), 30, r.seeds[ok], options=("last",))
    np.testing.assert_array_equal(r2.final("last"), r.final("last")[ok])


def test_checkpoints_and_table():
    cps = default_checkpoints(1000, stride=10)
    assert cps[-1] == 1000 and all(c % 10 == 0 for c in cps) and len(cps) >= 10
    p = quad()
    r = run(p, Oracle(p, SphereNoise(0.1)), am1(p, m=10), 100, range(3), options=("I", "II"),
            checkpoints=[0, 50, 100], config={"spec": "unit"})
    t = r.table
    assert len(t) == 3 * 3 * 2
    for col in ("problem", "algorithm", "m", "sigma", "K", "option", "seed", "checkpoint", "error", "diverged",
                "spec", "dtype", "device"):
        assert col in t.columns
    # at k = 0 both options report x0
    e0 = t[t["checkpoint"] == 0]["error"]
    assert np.allclose(e0, float(p.error(p.x0[None])[0]))


def test_table_csv_and_parquet_roundtrip(tmp_path):
    """CSV (for humans) and Parquet (raw results) both read back exactly: ints, floats to the last bit, ±inf, NaN,
    strings, booleans; writes leave no temporary file."""
    x = np.random.default_rng(0).random(5) * 1e-3
    t = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [0.1, math.inf, -math.inf, math.nan, 1 / 3], "c": list("xyzuv"),
                      "d": [True, False, True, True, False], "e": x})
    write_csv(t, tmp_path / "t.csv")
    write_parquet(t, tmp_path / "t.parquet")
    for u in (read_table(tmp_path / "t.csv"), read_table(tmp_path / "t.parquet")):
        assert list(u.columns) == list(t.columns)
        assert u["a"].tolist() == [1, 2, 3, 4, 5] and u["b"][0] == 0.1 and u["b"][1] == math.inf
        assert u["b"][2] == -math.inf and math.isnan(u["b"][3]) and u["b"][4] == 1 / 3
        assert u["c"].tolist() == list("xyzuv") and u["d"].tolist() == [True, False, True, True, False]
        assert np.array_equal(u["e"].to_numpy(), x)  # bit-exact
    assert "nan" in (tmp_path / "t.csv").read_text()
    assert not list(tmp_path.glob(".*tmp"))


def test_float32_iterates_with_float64_metric():
    p = quad()
    r32 = run(p, Oracle(p, SphereNoise(0.1)), am1(p), 60, range(4), dtype="float32")
    r64 = run(p, Oracle(p, SphereNoise(0.1)), am1(p), 60, range(4), dtype="float64")
    assert r32.errors["II"].dtype == np.float64
    np.testing.assert_allclose(r32.final("II"), r64.final("II"), rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    p_cpu, p_gpu = quad(), quad(device="cuda")
    for name in ("am1", "am2"):
        mk = lambda p: A.make(name, p.setup, Constant(0.9, alpha=2.0), m=5)
        a = run(p_cpu, Oracle(p_cpu, SphereNoise(0.5)), mk(p_cpu), 50, range(64))
        b = run(p_gpu, Oracle(p_gpu, SphereNoise(0.5)), mk(p_gpu), 50, range(64), device="cuda")
        np.testing.assert_allclose(a.errors["II"], b.errors["II"], rtol=1e-9, atol=1e-12)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@CUDA
@pytest.mark.parametrize("name", sorted(A.ALGORITHMS))
@pytest.mark.parametrize("noise", ["sphere", "gaussian", "student_t", "spike"])
def test_cuda_every_algorithm_and_noise_matches_cpu(name, noise):
    """Same seeds on CPU and CUDA: same trajectories up to rounding (counter-based noise is device-independent)."""
    from theorycheck.oracles import NOISES

    p_cpu, p_gpu = quad(), quad(device="cuda")
    m = 5 if name in A.NEEDS_M else None
    mk = lambda p: A.make(name, p.setup, Constant(0.9, alpha=2.0) if name != "mdsa" else
                          Constant(0.0, alpha=0.5), m)
    alg = mk(p_cpu)
    opt = alg.default_option
    a = run(p_cpu, Oracle(p_cpu, NOISES[noise](0.5)), alg, 50, range(64), options=(opt,))
    b = run(p_gpu, Oracle(p_gpu, NOISES[noise](0.5)), mk(p_gpu), 50, range(64), options=(opt,), device="cuda")
    np.testing.assert_allclose(a.errors[opt], b.errors[opt], rtol=1e-9, atol=1e-12)


@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kernel", ["embedding_bag", "csr"])
def test_cuda_binary_logistic_layout_and_minibatch_oracle(dtype, kernel):
    """The binary-feature layout (both kernels) and the minibatch oracle on CUDA match CPU."""
    import scipy.sparse as sp

    from theorycheck.problems.binary_logistic import BinaryRowsLogistic
    from theorycheck.problems.logistic import Logistic

    g = np.random.default_rng(0)
    cols = np.stack([g.integers(0, 5, 500), 5 + g.integers(0, 7, 500), 12 + g.integers(0, 9, 500)], 1)
    Am = sp.csr_matrix((np.full(1500, 1 / np.sqrt(3)), (np.repeat(np.arange(500), 3), cols.ravel())), shape=(500, 21))
    b = np.where(g.random(500) < 0.5, 1.0, -1.0)
    p_cpu, p_gpu = Logistic(Am, b, L="row"), Logistic(Am, b, L="row", device="cuda")
    assert p_gpu.layout == "binary"
    p_gpu._binary = BinaryRowsLogistic(Am, b, kernel=kernel)
    X = torch.randn(300, 21, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p_gpu.f_grad(X.to("cuda", dtype)).cpu(), p_cpu.f_grad(X.to(dtype)), **tol)
    torch.testing.assert_close(p_gpu.f_value(X.to("cuda", dtype)).cpu(), p_cpu.f_value(X.to(dtype)), **tol)
    for oracle in (lambda p: Oracle(p, SphereNoise(0.1)), lambda p: Oracle(p, batch=8)):
        a = run(p_cpu, oracle(p_cpu), am1(p_cpu, eta=1.0), 50, range(32), dtype=dtype)
        c = run(p_gpu, oracle(p_gpu), am1(p_gpu, eta=1.0), 50, range(32), dtype=dtype, device="cuda")
        np.testing.assert_allclose(a.errors["II"], c.errors["II"], rtol=1e-9 if dtype == torch.float64 else 1e-4,
                                   atol=1e-12 if dtype == torch.float64 else 1e-6)


def test_bad_parameters_give_documented_errors():
    p = quad()
    o = Oracle(p, SphereNoise(0.1))
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        am1(p, m=0)
    with pytest.raises(ValueError, match="beta must be in \\[0, 1\\)"):
        Constant(1.0, eta=0.1)
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        Constant(0.5, eta=0.0)
    with pytest.raises(ValueError, match="K must be divisible by m=7"):
        run(p, o, am1(p, m=7), 50, range(2))
    with pytest.raises(ValueError, match="momentum form"):
        from theorycheck.geometry import euclidean
        A.AM1Momentum(euclidean("l1", lam=0.1), Constant(0.5, eta=0.1), 2)
    with pytest.raises(ValueError, match="constant"):
        from theorycheck.schedules import Theorem1
        A.AM1Efficient(p.setup, Theorem1(1.0, 1.0, 0.1, 0.0, 2, 10), 2)
    with pytest.raises(ValueError, match="x0 must have shape"):
        am1(p).check_run(torch.zeros(6), torch.zeros(1, dtype=torch.int64), 10)
    with pytest.raises(ValueError, match="seeds must have shape"):
        am1(p).check_run(torch.zeros(2, 6), torch.zeros(3, dtype=torch.int64), 10)
    with pytest.raises(ValueError, match="one device"):
        am1(p).check_run(torch.zeros(2, 6), torch.zeros(2, dtype=torch.int64, device="meta"), 10)
    with pytest.raises(ValueError, match="option must be one of"):
        run(p, o, am1(p), 10, range(2), options=("III",))
    with pytest.raises(ValueError, match="dtype must be one of"):
        run(p, o, am1(p), 10, range(2), dtype="float16")
    with pytest.raises(ValueError, match="seeds must be non-negative"):
        run(p, o, am1(p), 10, [-1])
    with pytest.raises(ValueError, match="algorithm must be one of"):
        A.make("adam", p.setup, Constant(0.5, eta=0.1))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            run(p, o, am1(p), 10, range(2), device="cuda")
