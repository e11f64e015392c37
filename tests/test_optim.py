"""AM1SGD / AM2SGD (theorycheck.optim) against torch.optim.SGD(nesterov=True) and hand-written references of
Algorithms 2 and 4 (THEORY §3.3, §3.6, §3.7)."""
import copy
import io

import numpy as np
import pytest
import torch
from torch import nn

from theorycheck.optim import AM1SGD, AM2SGD

TOL = 1e-12


# ---------------------------------------------------------------------------------------------------
# fixtures: a float64 MLP, and a linear least-squares model with a fixed gradient-noise sequence
# ---------------------------------------------------------------------------------------------------
def make_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()


def mlp_data(K, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 5, generator=g, dtype=torch.float64),
             torch.randn(8, 3, generator=g, dtype=torch.float64)) for _ in range(K)]


def run_mlp(model, opt, data, after_step=None):
    for k, (X, Y) in enumerate(data):
        opt.zero_grad()
        ((model(X) - Y) ** 2).mean().backward()
        opt.step()
        if after_step is not None:
            after_step(k)


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


class LSQ:
    """f(w, b) = ½ mean((A w + b − y)²) with x = [w, b]; gradients in numpy plus noise xi[k]."""

    def __init__(self, N=30, n=6, K=60, sigma=0.5, seed=3):
        rs = np.random.default_rng(seed)
        self.A = rs.standard_normal((N, n))
        self.y = rs.standard_normal(N)
        self.x0 = rs.standard_normal(n + 1)
        self.xi = sigma * rs.standard_normal((K, n + 1))
        self.n = n

    def grad(self, x, k):
        r = self.A @ x[:-1] + x[-1] - self.y
        return np.concatenate([r @ self.A / len(r), [r.mean()]]) + self.xi[k]

    def model(self):
        lin = nn.Linear(self.n, 1).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(self.x0[:-1])[None])
            lin.bias.copy_(torch.tensor(self.x0[-1:]))
        return lin

    def backward(self, lin, k):
        A, y = torch.tensor(self.A), torch.tensor(self.y)
        lin.zero_grad()
        (0.5 * ((lin(A)[:, 0] - y) ** 2).mean()).backward()
        with torch.no_grad():
            lin.weight.grad += torch.tensor(self.xi[k, :-1])[None]
            lin.bias.grad += torch.tensor(self.xi[k, -1:])

    @staticmethod
    def x(lin):
        return np.concatenate([lin.weight.detach().numpy()[0], lin.bias.detach().numpy()])


def alg2_reference(prob, K, etas, beta, m):
    """Algorithm 2 verbatim (THEORY §3.3): returns the lists of x and xt after every iteration."""
    x = prob.x0.copy()
    xt = prob.x0.copy()
    xtp = np.zeros_like(x)
    xs, xts = [], []
    for k in range(K):
        x = x - etas[k] * prob.grad(x, k)
        xtp = xtp + x / m
        if (k + 1) % m == 0:
            x = x + beta * (xtp - xt)
            xt = xtp
            xtp = np.zeros_like(x)
        xs.append(x.copy())
        xts.append(xt.copy())
    return xs, xts


def alg4_reference(prob, K, eta, beta, m, js):
    """Algorithm 4 verbatim (THEORY §3.6) with the index sequence js = (j_0, ..., j_K)."""
    phi = np.tile(prob.x0, (m, 1))
    phibar = prob.x0.copy()
    x = prob.x0.copy()
    xs, bars = [], []
    for k in range(K):
        j, jn = js[k], js[k + 1]
        old = phi[j].copy()
        phi[j] = x - eta * prob.grad(x, k)
        x = phi[j] + beta * (phi[jn] - old)
        phibar = phibar + (phi[j] - old) / m
        xs.append(x.copy())
        bars.append(phibar.copy())
    return xs, bars


def draws(seed, m, count):
    g = torch.Generator().manual_seed(seed)
    return [int(torch.randint(m, (1,), generator=g).item()) for _ in range(count)]


# ---------------------------------------------------------------------------------------------------
# m = 1: SGD with Nesterov momentum
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [AM1SGD, AM2SGD])
@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_m1_option_I_is_torch_sgd_nesterov(cls, wd):
    data = mlp_data(60)
    ref, mod = make_mlp(), make_mlp()
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=wd)
    opt = cls(mod.parameters(), lr=0.05, momentum=0.9, m=1, option="I", weight_decay=wd)
    gaps = []
    for X, Y in data:
        run_mlp(ref, opt_ref, [(X, Y)])
        run_mlp(mod, opt, [(X, Y)])
        gaps.append(float((flat(ref) - flat(mod)).abs().max()))
    assert max(gaps) <= TOL
    assert float((flat(ref) - flat(make_mlp())).abs().max()) > 0.1  # the run moved


# ---------------------------------------------------------------------------------------------------
# Algorithm 2 / Algorithm 4 references on least squares with fixed noise
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["I", "II"])
@pytest.mark.parametrize("m", [1, 3, 5])
def test_am1_matches_algorithm2(option, m):
    K, eta, beta = 47, 0.1, 0.9  # K not a multiple of m on purpose
    prob = LSQ(K=K)
    xs, xts = alg2_reference(prob, K, [eta] * K, beta, m)
    lin = prob.model()
    opt = AM1SGD(lin.parameters(), lr=eta, momentum=beta, m=m, option=option)
    for k in range(K):
        prob.backward(lin, k)
        opt.step()
        assert np.abs(LSQ.x(lin) - xs[k]).max() <= TOL, k
        with opt.evaluation_params():
            out = LSQ.x(lin)
        assert np.abs(out - (xts[k] if option == "II" else xs[k])).max() <= TOL, k
    assert np.abs(xs[-1] - xts[-1]).max() > 1e-3  # the two outputs differ, so the check above is not vacuous


@pytest.mark.parametrize("option", ["I", "II"])
@pytest.mark.parametrize("m", [1, 4])
def test_am2_matches_algorithm4(option, m):
    K, eta, beta, seed = 50, 0.1, 0.9, 123
    prob = LSQ(K=K)
    js = draws(seed, m, K + 1)
    xs, bars = alg4_reference(prob, K, eta, beta, m, js)
    lin = prob.model()
    opt = AM2SGD(lin.parameters(), lr=eta, momentum=beta, m=m, option=option, seed=seed)
    for k in range(K):
        prob.backward(lin, k)
        opt.step()
        assert np.abs(LSQ.x(lin) - xs[k]).max() <= TOL, k
        with opt.evaluation_params():
            out = LSQ.x(lin)
        assert np.abs(out - (bars[k] if option == "II" else xs[k])).max() <= TOL, k
    if m > 1:
        assert len(set(js)) > 1
        other = alg4_reference(prob, K, eta, beta, m, draws(seed + 1, m, K + 1))[0]
        assert np.abs(other[-1] - xs[-1]).max() > 1e-6  # the index sequence matters


def am1_lr_reference(prob, K, etas, betas, m):
    """AM1SGD's documented update (torch's lr convention, gradient-scale state), written out in numpy."""
    x = prob.x0.copy()
    q, t, a = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    xs, xts = [], []
    for k in range(K):
        g = prob.grad(x, k)
        a += (k % m) * g
        q += g
        if (k + 1) % m == 0:
            t = betas[k] * t + q - a / m
            x = x - etas[k] * (g + betas[k] * t)
            q, a = a / m, np.zeros_like(x)
        else:
            x = x - etas[k] * g
        xs.append(x.copy())
        xts.append(x + etas[k] * (q + betas[k] * t))
    return xs, xts


def am2_lr_reference(prob, K, etas, beta, m, js):
    """AM2SGD's documented update: Algorithm 4 with phi[i] = x + lr (T[i] - c), written out in numpy."""
    x = prob.x0.copy()
    T, c, b = np.zeros((m, len(x))), np.zeros_like(x), np.zeros_like(x)
    xs, bars = [], []
    for k in range(K):
        j, jn = js[k], js[k + 1]
        g = prob.grad(x, k)
        u = g + beta * ((T[j] - c + g) if jn == j else (T[j] - T[jn]))
        b = b - (T[j] - c + g) / m
        T[j] = c - g
        c = c - u
        x = x - etas[k] * u
        if (k + 1) % m == 0:
            T, b, c = T - c, b - c, np.zeros_like(x)
        xs.append(x.copy())
        bars.append(x + etas[k] * (b - c))
    return xs, bars


def test_lr_convention_references_are_the_paper_algorithms_at_constant_lr():
    """At a constant lr the torch-convention references are Algorithms 2 and 4 (positions = x + lr * offsets)."""
    K, m, seed = 47, 4, 3
    prob = LSQ(K=K)
    xs, xts = alg2_reference(prob, K, [0.1] * K, 0.9, m)
    ys, yts = am1_lr_reference(prob, K, [0.1] * K, [0.9] * K, m)
    assert max(np.abs(np.array(xs) - ys).max(), np.abs(np.array(xts) - yts).max()) <= TOL
    js = draws(seed, m, K + 1)
    xs, bars = alg4_reference(prob, K, 0.1, 0.9, m, js)
    ys, ybars = am2_lr_reference(prob, K, [0.1] * K, 0.9, m, js)
    assert max(np.abs(np.array(xs) - ys).max(), np.abs(np.array(bars) - ybars).max()) <= TOL


def test_scheduler_lr_read_each_step():
    """StepLR: the lr scales the whole update (torch's convention), not only the new gradient step."""
    K, beta, m = 40, 0.9, 4
    prob = LSQ(K=K)
    etas = [0.2 * 0.5 ** (k // 7) for k in range(K)]
    xs, xts = am1_lr_reference(prob, K, etas, [beta] * K, m)
    lin = prob.model()
    opt = AM1SGD(lin.parameters(), lr=0.2, momentum=beta, m=m, option="II")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)
    for k in range(K):
        prob.backward(lin, k)
        opt.step()
        with opt.evaluation_params():  # read with the lr of the step just taken
            assert np.abs(LSQ.x(lin) - xts[k]).max() <= TOL
        sched.step()
        assert np.abs(LSQ.x(lin) - xs[k]).max() <= TOL
    const = alg2_reference(prob, K, [0.2] * K, beta, m)[0]
    assert np.abs(const[-1] - xs[-1]).max() > 1e-4  # the schedule changed the trajectory
    old_convention = alg2_reference(prob, K, etas, beta, m)[0]  # lr kept inside the momentum term
    assert np.abs(old_convention[-1] - xs[-1]).max() > 1e-3


def test_am1_momentum_schedule():
    K, m = 30, 3
    prob = LSQ(K=K)
    betas = [0.9 if k < 12 else 0.5 for k in range(K)]
    xs, _ = am1_lr_reference(prob, K, [0.1] * K, betas, m)
    lin = prob.model()
    opt = AM1SGD(lin.parameters(), lr=0.1, momentum=0.9, m=m, option="I")
    for k in range(K):
        opt.param_groups[0]["momentum"] = betas[k]
        prob.backward(lin, k)
        opt.step()
        assert np.abs(LSQ.x(lin) - xs[k]).max() <= TOL


def test_am2_scheduler():
    K, m, seed = 30, 3, 7
    prob = LSQ(K=K)
    lin = prob.model()
    opt = AM2SGD(lin.parameters(), lr=0.1, momentum=0.9, m=m, option="II", seed=seed)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 if k < 10 else 0.1)
    js = draws(seed, m, K + 1)
    etas = [0.1 if k < 10 else 0.01 for k in range(K)]
    xs, bars = am2_lr_reference(prob, K, etas, 0.9, m, js)
    for k in range(K):
        prob.backward(lin, k)
        opt.step()
        with opt.evaluation_params():
            assert np.abs(LSQ.x(lin) - bars[k]).max() <= TOL
        sched.step()
        assert np.abs(LSQ.x(lin) - xs[k]).max() <= TOL
    # the position form (old lr kept inside the momentum term) is a different trajectory
    phi, x = np.tile(prob.x0, (m, 1)), prob.x0.copy()
    for k in range(K):
        old = phi[js[k]].copy()
        phi[js[k]] = x - etas[k] * prob.grad(x, k)
        x = phi[js[k]] + 0.9 * (phi[js[k + 1]] - old)
    assert np.abs(x - xs[-1]).max() > 1e-3


# ---------------------------------------------------------------------------------------------------
# foreach fast path == simple loop
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,m,option", [(AM1SGD, 3, "I"), (AM1SGD, 4, "II"), (AM2SGD, 3, "I"), (AM2SGD, 5, "II"),
                                          (AM2SGD, 1, "II")])
def test_foreach_equals_loop(cls, m, option):
    data = mlp_data(23)
    a, b = make_mlp(), make_mlp()
    kw = dict(lr=0.05, momentum=0.9, m=m, option=option, weight_decay=1e-3)
    if cls is AM2SGD:
        kw["seed"] = 5
    oa, ob = cls(a.parameters(), foreach=False, **kw), cls(b.parameters(), foreach=True, **kw)
    run_mlp(a, oa, data)
    run_mlp(b, ob, data)
    assert torch.equal(flat(a), flat(b))
    for pa, pb in zip(a.parameters(), b.parameters()):
        for key, va in oa.state[pa].items():
            vb = ob.state[pb][key]
            assert torch.equal(va, vb) if torch.is_tensor(va) else va == vb, key
    assert not torch.equal(flat(a), flat(make_mlp()))


# ---------------------------------------------------------------------------------------------------
# state_dict round trip, restart, validation, Option II swap
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,option", [(AM1SGD, "I"), (AM1SGD, "II"), (AM2SGD, "I"), (AM2SGD, "II")])
def test_state_dict_round_trip_mid_run(cls, option):
    data = mlp_data(30)
    kw = dict(lr=0.05, momentum=0.9, m=4, option=option)
    a = make_mlp()
    oa = cls(a.parameters(), **(dict(kw, seed=11) if cls is AM2SGD else kw))
    run_mlp(a, oa, data[:13])  # mid-epoch (13 % 4 != 0)
    buf = io.BytesIO()
    torch.save({"model": a.state_dict(), "opt": oa.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=False)
    b = make_mlp(seed=99)
    b.load_state_dict(saved["model"])
    ob = cls(b.parameters(), **(dict(kw, seed=12345) if cls is AM2SGD else kw))  # a different seed on purpose
    ob.load_state_dict(saved["opt"])
    run_mlp(a, oa, data[13:])
    run_mlp(b, ob, data[13:])
    assert torch.equal(flat(a), flat(b))
    with oa.evaluation_params(), ob.evaluation_params():
        assert torch.equal(flat(a), flat(b))


def test_am2_state_dict_without_generator_rejected():
    m = make_mlp()
    o = AM2SGD(m.parameters(), lr=0.1)
    sd = o.state_dict()
    del sd["am2_generator_state"]
    with pytest.raises(ValueError, match="am2_generator_state"):
        AM2SGD(make_mlp().parameters(), lr=0.1).load_state_dict(sd)


def test_am1_restart_equals_fresh_optimizer():
    data = mlp_data(30)
    a = make_mlp()
    oa = AM1SGD(a.parameters(), lr=0.05, momentum=0.9, m=4, option="II")
    run_mlp(a, oa, data[:10])
    oa.restart()
    for p in a.parameters():
        st = oa.state[p]
        assert st["step"] == 0 and all(not st[key].any() for key in ("q", "t", "a"))
    b = copy.deepcopy(a)
    ob = AM1SGD(b.parameters(), lr=0.05, momentum=0.9, m=4, option="II")
    run_mlp(a, oa, data[10:])
    run_mlp(b, ob, data[10:])
    assert torch.equal(flat(a), flat(b))
    with oa.evaluation_params(), ob.evaluation_params():
        assert torch.equal(flat(a), flat(b))
    # without the restart the trajectory is different
    c = make_mlp()
    oc = AM1SGD(c.parameters(), lr=0.05, momentum=0.9, m=4, option="II")
    run_mlp(c, oc, data)
    assert (flat(c) - flat(a)).abs().max() > 1e-6


def test_am2_restart_equals_fresh_optimizer():
    data = mlp_data(30)
    a = make_mlp()
    oa = AM2SGD(a.parameters(), lr=0.05, momentum=0.9, m=3, option="II", seed=1)
    run_mlp(a, oa, data[:10])
    gen_state = oa.generator.get_state()
    oa.restart()
    for p in a.parameters():
        st = oa.state[p]
        assert st["T"].shape == (3, *p.shape) and all(not st[key].any() for key in ("T", "c", "b"))
    b = copy.deepcopy(a)
    ob = AM2SGD(b.parameters(), lr=0.05, momentum=0.9, m=3, option="II", seed=2)
    ob.generator.set_state(gen_state)
    run_mlp(a, oa, data[10:])
    run_mlp(b, ob, data[10:])
    assert torch.equal(flat(a), flat(b))
    with oa.evaluation_params(), ob.evaluation_params():
        assert torch.equal(flat(a), flat(b))


def test_changing_m_requires_restart():
    data = mlp_data(6)
    a = make_mlp()
    o = AM1SGD(a.parameters(), lr=0.05, m=3)
    run_mlp(a, o, data[:2])
    o.param_groups[0]["m"] = 5
    with pytest.raises(RuntimeError, match="restart"):
        run_mlp(a, o, data[2:3])
    o.restart()
    run_mlp(a, o, data[3:])
    assert all(o.state[p]["m"] == 5 for p in a.parameters())


@pytest.mark.parametrize("cls", [AM1SGD, AM2SGD])
@pytest.mark.parametrize("kw,name", [
    (dict(lr=0.0), "lr"), (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(momentum=1.0), "momentum"), (dict(momentum=-0.1), "momentum"),
    (dict(m=0), "m"), (dict(m=2.5), "m"), (dict(m=True), "m"),
    (dict(option="III"), "option"), (dict(option=2), "option"),
    (dict(weight_decay=-1e-4), "weight_decay"), (dict(foreach="yes"), "foreach")])
def test_bad_hyperparameters(cls, kw, name):
    args = dict(lr=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        cls(make_mlp().parameters(), **args)


def test_bad_param_group_and_seed():
    model = make_mlp()
    o = AM1SGD(list(model.parameters())[:2], lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        o.add_param_group({"params": list(model.parameters())[2:], "momentum": 1.5})
    assert len(o.param_groups) == 1
    with pytest.raises(ValueError, match="seed"):
        AM2SGD(make_mlp().parameters(), lr=0.1, seed=-3)


def test_param_groups_use_their_own_hyperparameters():
    data = mlp_data(12)
    a, b = make_mlp(), make_mlp()
    la, lb = list(a.parameters()), list(b.parameters())
    oa = AM1SGD([{"params": la[:2]}, {"params": la[2:], "lr": 0.01, "m": 1, "option": "I"}], lr=0.05, m=3)
    run_mlp(a, oa, data)
    # reference: the second group alone behaves as SGD-Nesterov(0.01) given the same gradients
    ob1 = AM1SGD(lb[:2], lr=0.05, m=3)
    ob2 = torch.optim.SGD(lb[2:], lr=0.01, momentum=0.9, nesterov=True)
    for X, Y in data:
        ob1.zero_grad(), ob2.zero_grad()
        ((b(X) - Y) ** 2).mean().backward()
        ob1.step(), ob2.step()
    assert (flat(a) - flat(b)).abs().max() <= TOL


@pytest.mark.parametrize("cls", [AM1SGD, AM2SGD])
def test_evaluation_params_swap(cls):
    data = mlp_data(7)
    a = make_mlp()
    o = cls(a.parameters(), lr=0.05, m=3, option="II")
    run_mlp(a, o, data)
    before = flat(a).clone()
    with o.evaluation_params():
        inside = flat(a).clone()
        with pytest.raises(RuntimeError, match="swapped"):
            o.step()
    assert torch.equal(flat(a), before)
    assert (inside - before).abs().max() > 1e-6
    with pytest.raises(ZeroDivisionError):
        with o.evaluation_params():
            1 / 0
    assert torch.equal(flat(a), before)  # restored even after an exception
    with pytest.raises(RuntimeError):
        o.swap_back()
    # Option I: a no-op
    o1 = cls(a.parameters(), lr=0.05, m=3, option="I")
    run_mlp(a, o1, data)
    before = flat(a).clone()
    with o1.evaluation_params():
        assert torch.equal(flat(a), before)


def test_closure_returns_loss():
    a = make_mlp()
    X, Y = mlp_data(1)[0]
    o = AM1SGD(a.parameters(), lr=0.05)

    def closure():
        o.zero_grad()
        loss = ((a(X) - Y) ** 2).mean()
        loss.backward()
        return loss

    loss = o.step(closure)
    assert torch.is_tensor(loss) and loss.item() > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", [AM1SGD, AM2SGD])
def test_cuda_foreach_default_matches_cpu(cls):
    data = mlp_data(20)
    a, b = make_mlp(), make_mlp().cuda()
    kw = dict(lr=0.05, momentum=0.9, m=3, option="II", **({"seed": 4} if cls is AM2SGD else {}))
    oa, ob = cls(a.parameters(), **kw), cls(b.parameters(), **kw)  # foreach=None: loop on CPU, foreach on CUDA
    run_mlp(a, oa, data)
    run_mlp(b, ob, [(X.cuda(), Y.cuda()) for X, Y in data])
    assert float((flat(a) - flat(b).cpu()).abs().max()) <= 1e-10
