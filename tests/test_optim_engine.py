"""theorycheck.optim.AM1SGD / AM2SGD (torch optimizers, one replica at a time) against the batched engine
(theorycheck.algorithms: Algorithms 1, 2, 5 for AM1, Algorithms 3, 4 for AM2) on a linear least-squares model,
float64, with the engine's oracle noise (Oracle + SphereNoise: replica r's noise at step k is a pure function of
(seed_r, k)) and, for AM2, the engine's index sequence injected through ``index_fn`` (THEORY §3.2–3.6)."""

import numpy as np
import pytest
import torch
from torch import nn

from theorycheck import rng
from theorycheck.algorithms import AM1, AM2, AM1Efficient, AM1Momentum, AM2Momentum
from theorycheck.geometry import euclidean
from theorycheck.oracles import Oracle, SphereNoise
from theorycheck.optim import AM1SGD, AM2SGD, rng_index_fn
from theorycheck.problems.base import Constants, Problem
from theorycheck.run import run
from theorycheck.schedules import Constant

TOL = 1e-12
SEEDS = [0, 7, 123, 2**31 + 5]


class LeastSquares(Problem):
    """F(x) = ½ mean_i (a_iᵀx − y_i)², batched over rows of X; the same formula as the torch model below."""

    def __init__(self, N=40, n=6, seed=0):
        super().__init__()
        rs = np.random.default_rng(seed)
        self.A = torch.tensor(rs.standard_normal((N, n)))
        self.y = torch.tensor(rs.standard_normal(N))
        self.name, self.setup = "lsq", euclidean()
        self.x0 = torch.tensor(rs.standard_normal(n))
        x_star = torch.linalg.lstsq(self.A, self.y[:, None]).solution[:, 0]
        L = float(torch.linalg.eigvalsh(self.A.T @ self.A / N)[-1])
        F_ref = float(self.f_value(x_star[None])[0])
        self.constants = Constants(L=L, M=0.0, F_ref=F_ref, F_ref_method="lstsq", attained=True)

    def f_value(self, X):
        r = X @ self.A.T - self.y
        return 0.5 * (r * r).mean(-1)

    def f_grad(self, X):
        return (X @ self.A.T - self.y) @ self.A / self.A.shape[0]


@pytest.fixture(scope="module")
def lsq():
    return LeastSquares()


def model_for(problem):
    lin = nn.Linear(problem.n, 1, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(problem.x0[None])
    return lin


def torch_run(problem, oracle, make_opt, seed, K):
    """Drive one replica with a torch optimizer: autograd gradient of the model + the oracle's noise for
    (seed, k). Returns (query points x_k, Option outputs after each step) as (K, n) tensors."""
    lin = model_for(problem)
    opt = make_opt(lin.parameters())
    seeds = torch.tensor([seed])
    xs, outs = [], []
    for k in range(K):
        xs.append(lin.weight.detach()[0].clone())
        opt.zero_grad()
        (0.5 * ((lin(problem.A)[:, 0] - problem.y) ** 2).mean()).backward()
        lin.weight.grad.add_(oracle.noise.sample(seeds, k, problem.n, torch.float64))
        opt.step()
        with opt.evaluation_params():
            outs.append(lin.weight.detach()[0].clone())
    return torch.stack(xs), torch.stack(outs)


def engine_run(problem, oracle, alg, option, K, seeds=SEEDS):
    """Drive the batched engine by hand: (K, R, n) query points and outputs after each step."""
    seeds = torch.tensor(seeds)
    state = alg.init(problem.x0[None].repeat(len(seeds), 1), seeds)
    xs, outs = [], []
    for k in range(K):
        x = alg.query(state, k)
        xs.append(x)
        state = alg.step(state, oracle(x, seeds, k), k)
        outs.append(alg.output(state, option, k + 1))
    return torch.stack(xs), torch.stack(outs)


def assert_close(a, b, what):
    err = float((a - b).abs().max())
    assert err <= TOL, f"{what}: max |diff| = {err:.3e} > {TOL:g}"


def test_gradients_agree(lsq):
    """The model's autograd gradient and the problem's f_grad are the same function (to rounding)."""
    X = torch.randn(3, lsq.n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for x in X:
        lin = model_for(lsq)
        with torch.no_grad():
            lin.weight.copy_(x[None])
        (0.5 * ((lin(lsq.A)[:, 0] - lsq.y) ** 2).mean()).backward()
        assert_close(lin.weight.grad[0], lsq.f_grad(x[None])[0], "gradient")


# ---------------------------------------------------------------------------------------------------
# AM1SGD vs Algorithm 2 (AM1Momentum), Algorithm 5 (AM1Efficient) and Algorithm 1 (AM1)
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine_cls", [AM1Momentum, AM1Efficient, AM1])
@pytest.mark.parametrize("option", ["I", "II"])
@pytest.mark.parametrize("m", [1, 3, 5])
def test_am1sgd_equals_engine(lsq, engine_cls, option, m):
    K = 47  # not a multiple of m: the last, partial epoch is compared too
    sched = Constant(beta=0.9, eta=0.3 / lsq.constants.L)
    oracle = Oracle(lsq, SphereNoise(0.5))
    alg = engine_cls(lsq.setup, sched, m)
    X_eng, O_eng = engine_run(lsq, oracle, alg, option, K)
    for r, seed in enumerate(SEEDS):
        X, O = torch_run(lsq, oracle, lambda ps: AM1SGD(ps, lr=sched.eta(0), momentum=sched.beta(0), m=m,
                                                         option=option), seed, K)
        assert_close(X, X_eng[:, r], f"{engine_cls.name} query points, seed {seed}")
        assert_close(O, O_eng[:, r], f"{engine_cls.name} Option {option} output, seed {seed}")


def test_am1sgd_noise_matters(lsq):
    """Control: the replica's noise is what makes the trajectories agree (another seed's noise does not)."""
    sched = Constant(beta=0.9, eta=0.3 / lsq.constants.L)
    oracle = Oracle(lsq, SphereNoise(0.5))
    X_eng, _ = engine_run(lsq, oracle, AM1Efficient(lsq.setup, sched, 5), "II", 20)
    X, _ = torch_run(lsq, oracle, lambda ps: AM1SGD(ps, lr=sched.eta(0), momentum=0.9, m=5), SEEDS[1], 20)
    assert float((X - X_eng[:, 0]).abs().max()) > 1e-3


# ---------------------------------------------------------------------------------------------------
# AM2SGD (index_fn = the engine's j sequence) vs Algorithm 4 (AM2Momentum) and Algorithm 3 (AM2)
# ---------------------------------------------------------------------------------------------------
def test_rng_index_fn_is_the_engines_sequence():
    seeds = torch.tensor(SEEDS)
    for m in (1, 4, 7):
        for r, seed in enumerate(SEEDS):
            f = rng_index_fn(seed, m)
            want = [int(rng.integers(seeds, k, rng.STREAM_INDEX, m)[r, 0]) for k in range(30)]
            assert [f(k) for k in range(30)] == want
    js = [rng_index_fn(3, 4)(k) for k in range(400)]
    assert set(js) == {0, 1, 2, 3}  # not a constant sequence


@pytest.mark.parametrize("engine_cls", [AM2Momentum, AM2])
@pytest.mark.parametrize("option", ["I", "II"])
@pytest.mark.parametrize("m", [1, 4])
def test_am2sgd_equals_engine(lsq, engine_cls, option, m):
    K = 47
    sched = Constant(beta=0.9, eta=0.3 / lsq.constants.L)
    oracle = Oracle(lsq, SphereNoise(0.5))
    alg = engine_cls(lsq.setup, sched, m)
    X_eng, O_eng = engine_run(lsq, oracle, alg, option, K)
    for r, seed in enumerate(SEEDS):
        make = lambda ps: AM2SGD(ps, lr=sched.eta(0), momentum=sched.beta(0), m=m, option=option,
                                 index_fn=rng_index_fn(seed, m))
        X, O = torch_run(lsq, oracle, make, seed, K)
        assert_close(X, X_eng[:, r], f"{engine_cls.name} query points, seed {seed}")
        assert_close(O, O_eng[:, r], f"{engine_cls.name} Option {option} output, seed {seed}")


def test_am2sgd_generator_indices_differ_from_engine(lsq):
    """Control: without the injected sequence (AM2SGD's own generator) the trajectory is different."""
    sched = Constant(beta=0.9, eta=0.3 / lsq.constants.L)
    oracle = Oracle(lsq, SphereNoise(0.5))
    X_eng, _ = engine_run(lsq, oracle, AM2Momentum(lsq.setup, sched, 4), "II", 30)
    X, _ = torch_run(lsq, oracle, lambda ps: AM2SGD(ps, lr=sched.eta(0), momentum=0.9, m=4, seed=SEEDS[0]),
                     SEEDS[0], 30)
    assert float((X - X_eng[:, 0]).abs().max()) > 1e-3


# ---------------------------------------------------------------------------------------------------
# through the runner: F(output) - F_ref recorded by theorycheck.run.run
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["am1", "am2"])
def test_runner_errors_equal_optimizer_errors(lsq, which):
    m, K = 5, 40
    sched = Constant(beta=0.9, eta=0.3 / lsq.constants.L)
    oracle = Oracle(lsq, SphereNoise(0.5))
    alg = (AM1Efficient if which == "am1" else AM2Momentum)(lsq.setup, sched, m)
    cps = [5, 20, 40]
    res = run(lsq, oracle, alg, K, SEEDS, options=("I", "II"), checkpoints=cps, progress=False)
    for option in ("I", "II"):
        for r, seed in enumerate(SEEDS):
            if which == "am1":
                make = lambda ps: AM1SGD(ps, lr=sched.eta(0), momentum=0.9, m=m, option=option)
            else:
                make = lambda ps: AM2SGD(ps, lr=sched.eta(0), momentum=0.9, m=m, option=option,
                                         index_fn=rng_index_fn(seed, m))
            _, O = torch_run(lsq, oracle, make, seed, K)
            errs = lsq.error(O[[c - 1 for c in cps]]).numpy()
            np.testing.assert_allclose(errs, res.errors[option][:, r], rtol=0, atol=TOL)


# ---------------------------------------------------------------------------------------------------
# index_fn: validation, state_dict, restart
# ---------------------------------------------------------------------------------------------------
def test_index_fn_validation():
    p = [nn.Parameter(torch.zeros(3))]
    with pytest.raises(ValueError, match="^give seed or index_fn"):
        AM2SGD(p, lr=0.1, seed=1, index_fn=lambda k: 0)
    with pytest.raises(ValueError, match="^index_fn must be a callable"):
        AM2SGD(p, lr=0.1, index_fn=3)
    for bad in (4, -1, 1.0, True):
        opt = AM2SGD(p, lr=0.1, m=4, index_fn=lambda k, b=bad: b)
        p[0].grad = torch.ones(3)
        with pytest.raises(ValueError, match=r"^index_fn\(0\) must return an integer in \[0, m=4\)"):
            opt.step()
    with pytest.raises(ValueError, match="^seed must be"):
        rng_index_fn(-1, 4)
    with pytest.raises(ValueError, match="^m must be"):
        rng_index_fn(0, 0)


def test_index_fn_called_with_step_counter_and_tensor_accepted():
    calls = []

    def f(k):
        calls.append(k)
        return torch.tensor(k % 3)

    p = nn.Parameter(torch.zeros(2))
    opt = AM2SGD([p], lr=0.1, m=3, index_fn=f)
    for _ in range(4):
        p.grad = torch.ones(2)
        opt.step()
    assert calls == [0, 1, 2, 3, 4]  # j_0 at the first step, then j_{k+1} at step k
    assert opt.state[p]["k"] == 4 and opt.state[p]["j"] == 4 % 3


def _lsq_steps(opt, lin, problem, oracle, seed, k0, K):
    seeds = torch.tensor([seed])
    for k in range(k0, K):
        opt.zero_grad()
        (0.5 * ((lin(problem.A)[:, 0] - problem.y) ** 2).mean()).backward()
        lin.weight.grad.add_(oracle.noise.sample(seeds, k, problem.n, torch.float64))
        opt.step()


def test_index_fn_state_dict_round_trip(lsq):
    oracle = Oracle(lsq, SphereNoise(0.5))
    f = rng_index_fn(5, 4)
    ref = model_for(lsq)
    opt_ref = AM2SGD(ref.parameters(), lr=0.1, m=4, index_fn=f)
    _lsq_steps(opt_ref, ref, lsq, oracle, 5, 0, 30)

    a = model_for(lsq)
    opt_a = AM2SGD(a.parameters(), lr=0.1, m=4, index_fn=f)
    _lsq_steps(opt_a, a, lsq, oracle, 5, 0, 13)
    b = model_for(lsq)
    b.load_state_dict(a.state_dict())
    opt_b = AM2SGD(b.parameters(), lr=0.1, m=4, index_fn=f)
    opt_b.load_state_dict(opt_a.state_dict())
    _lsq_steps(opt_b, b, lsq, oracle, 5, 13, 30)
    assert torch.equal(b.weight, ref.weight)
    with opt_b.evaluation_params(), opt_ref.evaluation_params():
        assert torch.equal(b.weight, ref.weight)


def test_index_fn_restart_resets_counter(lsq):
    oracle = Oracle(lsq, SphereNoise(0.5))
    f = rng_index_fn(9, 5)
    a = model_for(lsq)
    opt_a = AM2SGD(a.parameters(), lr=0.1, m=5, index_fn=f)
    _lsq_steps(opt_a, a, lsq, oracle, 9, 0, 12)
    opt_a.restart()
    assert opt_a.state[a.weight]["k"] == 0 and opt_a.state[a.weight]["j"] == f(0)
    b = model_for(lsq)
    b.load_state_dict(a.state_dict())
    opt_b = AM2SGD(b.parameters(), lr=0.1, m=5, index_fn=f)  # a fresh optimizer at the current point
    _lsq_steps(opt_a, a, lsq, oracle, 9, 12, 25)
    _lsq_steps(opt_b, b, lsq, oracle, 9, 12, 25)
    assert torch.equal(a.weight, b.weight)
    with opt_a.evaluation_params(), opt_b.evaluation_params():
        assert torch.equal(a.weight, b.weight)
