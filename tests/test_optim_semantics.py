"""Issue 13, items 1–5: AM1SGD/AM2SGD under changing lr (torch's convention), float32 accuracy of their state,
copy/pickle/state_dict round trips, unknown param-group keys, complex parameters (optimizers and NAdam)."""
import copy
import io
import pickle

import pytest
import torch
from torch import nn

from theorycheck.methods import baselines_a5 as a5
from theorycheck.methods import nadam as na
from theorycheck.optim import AM1SGD, AM2SGD, rng_index_fn

CLASSES = [AM1SGD, AM2SGD]


# ---------------------------------------------------------------------------------------------------
# 1. changing learning rate: m = 1, Option I is torch's Nesterov SGD step for step
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("foreach", [False, True])
def test_issue_values_under_changing_lr(cls, foreach):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = cls([p], lr=0.1, momentum=0.9, m=1, option="I", foreach=foreach)
    got = []
    for lr in (0.1, 0.1, 0.01, 0.01):
        opt.param_groups[0]["lr"] = lr
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        got.append(p.item())
    assert got == pytest.approx([-0.19, -0.461, -0.49539, -0.536341], abs=1e-14)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()


def _groups(model, lrs=(0.05, 0.02)):
    ps = list(model.parameters())
    return [{"params": ps[:2], "lr": lrs[0]}, {"params": ps[2:], "lr": lrs[1], "weight_decay": 1e-3}]


def _sched(kind, opt):
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.3)
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.2, 0.1], total_steps=40,
                                               cycle_momentum=kind == "onecycle_momentum",
                                               base_momentum=0.8, max_momentum=0.95)


@pytest.mark.parametrize("cls,kind", [(AM1SGD, "step"), (AM1SGD, "onecycle_momentum"), (AM2SGD, "step"),
                                      (AM2SGD, "onecycle")])
@pytest.mark.parametrize("foreach", [False, True])
def test_m1_equals_torch_nesterov_under_schedulers(cls, kind, foreach):
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(8, 5, generator=g, dtype=torch.float64), torch.randn(8, 3, generator=g, dtype=torch.float64))
            for _ in range(40)]
    ref, mod = _mlp(), _mlp()
    o_ref = torch.optim.SGD(_groups(ref), lr=0.05, momentum=0.9, nesterov=True)
    o = cls(_groups(mod), lr=0.05, momentum=0.9, m=1, option="I", foreach=foreach)
    s_ref, s = _sched(kind, o_ref), _sched(kind, o)
    lrs, gap = set(), 0.0
    for X, Y in data:
        for model, opt, sch in ((ref, o_ref, s_ref), (mod, o, s)):
            opt.zero_grad()
            ((model(X) - Y) ** 2).mean().backward()
            opt.step()
            sch.step()
        lrs.add(round(o.param_groups[0]["lr"], 12))
        gap = max(gap, max(float((a - b).detach().abs().max()) for a, b in zip(ref.parameters(), mod.parameters())))
    assert len(lrs) > 3  # the schedule really changed lr
    assert gap <= 1e-12


def test_am2_momentum_schedule_lags_one_step_documented():
    """AM2SGD applies beta when writing its table: under a momentum change it differs from torch (documented)."""
    p, q = (torch.zeros(3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    o_ref = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    o = AM2SGD([q], lr=0.1, momentum=0.9, m=1, option="I")
    for k in range(6):
        for opt in (o_ref, o):
            opt.param_groups[0]["momentum"] = 0.9 if k < 3 else 0.5
        p.grad = torch.ones(3, dtype=torch.float64)
        q.grad = torch.ones(3, dtype=torch.float64)
        o_ref.step()
        o.step()
    assert float((p - q).detach().abs().max()) > 1e-3


# ---------------------------------------------------------------------------------------------------
# 2. float32 accuracy: drift from the float64 run within 2x of torch's Nesterov SGD
# ---------------------------------------------------------------------------------------------------
def _drift(make, offset, n=1000, K=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x0 = offset + torch.randn(n, generator=gen, dtype=torch.float64)
    noise = torch.randn(K, n, generator=gen, dtype=torch.float64)
    out = []
    for dt in (torch.float32, torch.float64):
        p = x0.to(dt).clone().requires_grad_(True)
        opt = make([p])
        for k in range(K):
            p.grad = (noise[k] + 0.1 * (p.detach().double() - offset)).to(dt)
            opt.step()
        out.append(p.detach().double())
    return float((out[0] - out[1]).abs().max())


@pytest.mark.parametrize("offset", [0.0, 1.0, 100.0, 1e4])
def test_float32_drift_within_2x_of_torch_sgd(offset):
    sgd = _drift(lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, nesterov=True), offset)
    am1 = _drift(lambda ps: AM1SGD(ps, lr=1e-3, momentum=0.9, m=5, option="I"), offset)
    am2 = _drift(lambda ps: AM2SGD(ps, lr=1e-3, momentum=0.9, m=5, option="I", seed=0), offset)
    assert sgd > 0
    assert am1 <= 2 * sgd, (am1, sgd)
    assert am2 <= 2 * sgd, (am2, sgd)


# ---------------------------------------------------------------------------------------------------
# 3. deepcopy, pickle and state_dict round trips continue bit-identically
# ---------------------------------------------------------------------------------------------------
def _make(cls, p, **kw):
    kw = dict(dict(lr=0.05, momentum=0.9, m=3, option="II"), **kw)
    return cls([p], **kw)


def _steps(opt, K, seed):
    g = torch.Generator().manual_seed(seed)
    p = opt.param_groups[0]["params"][0]
    for _ in range(K):
        p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
        opt.step()
    with opt.evaluation_params():
        out = p.detach().clone()
    return p.detach().clone(), out


def _fresh_param():
    return torch.linspace(-1, 1, 10, dtype=torch.float64).requires_grad_(True)


@pytest.mark.parametrize("cls,kw", [(AM1SGD, {}), (AM2SGD, {"seed": 4}), (AM2SGD, {"index_fn": rng_index_fn(5, 3)})])
@pytest.mark.parametrize("how", ["deepcopy", "pickle", "state_dict"])
def test_round_trip_continues_bit_identically(cls, kw, how):
    p = _fresh_param()
    opt = _make(cls, p, **kw)
    _steps(opt, 7, seed=0)  # mid-epoch
    if how == "deepcopy":
        other = copy.deepcopy(opt)
    elif how == "pickle":
        other = pickle.loads(pickle.dumps(opt))
    else:
        buf = io.BytesIO()
        torch.save(opt.state_dict(), buf)
        q = p.detach().clone().requires_grad_(True)
        other = _make(cls, q, **({"seed": 999} if "seed" in kw else kw))
        buf.seek(0)
        other.load_state_dict(torch.load(buf, weights_only=False))
    q = other.param_groups[0]["params"][0]
    assert q is not p and torch.equal(q, p)
    if cls is AM2SGD:
        assert (other.index_fn is None) == (opt.index_fn is None)
    a, b = _steps(opt, 11, seed=1), _steps(other, 11, seed=1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_deepcopy_keeps_a_lambda_index_fn_and_pickle_refuses_it():
    p = _fresh_param()
    opt = AM2SGD([p], lr=0.05, m=3, index_fn=lambda k: k % 3)
    _steps(opt, 4, seed=0)
    other = copy.deepcopy(opt)
    assert other.index_fn is opt.index_fn
    assert torch.equal(_steps(other, 5, seed=2)[0], _steps(opt, 5, seed=2)[0])
    with pytest.raises(pickle.PicklingError, match="index_fn"):
        pickle.dumps(opt)


# ---------------------------------------------------------------------------------------------------
# 4. unknown / unsupported param-group keys
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("key,value", [("maximize", True), ("nesterov", False), ("dampening", 0.1), ("betas", (0.9, 0.99)),
                                       ("differentiable", True)])
def test_unknown_group_key_raises(cls, key, value):
    p, q = _fresh_param(), _fresh_param()
    with pytest.raises(ValueError, match=repr(key)):
        cls([{"params": [p], key: value}], lr=0.1)
    opt = cls([p], lr=0.1)
    with pytest.raises(ValueError, match=repr(key)):
        opt.add_param_group({"params": [q], key: value})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("cls", CLASSES)
def test_scheduler_bookkeeping_keys_accepted(cls):
    p = _fresh_param()
    opt = cls([{"params": [p], "initial_lr": 0.1, "lr": 0.1}], lr=0.1)
    torch.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=0)  # needs initial_lr when resuming
    assert opt.param_groups[0]["initial_lr"] == 0.1


# ---------------------------------------------------------------------------------------------------
# 5. complex parameters: pairs of reals, as torch does
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,m", [(AM1SGD, 1), (AM1SGD, 4), (AM2SGD, 1), (AM2SGD, 4)])
def test_complex_params_are_pairs_of_reals(cls, m):
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(6, dtype=torch.complex128, generator=gen)
    pc = z0.clone().requires_grad_(True)
    pr = torch.view_as_real(z0).clone().requires_grad_(True)
    kw = dict(lr=0.05, momentum=0.9, m=m, option="II", weight_decay=1e-2, **({"seed": 3} if cls is AM2SGD else {}))
    oc, orr = cls([pc], **kw), cls([pr], **kw)
    ref = torch.optim.SGD([z0.clone().requires_grad_(True)], lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)
    for k in range(20):
        gc = torch.randn(6, dtype=torch.complex128, generator=gen)
        pc.grad, pr.grad = gc.clone(), torch.view_as_real(gc).clone()
        ref.param_groups[0]["params"][0].grad = gc.clone()
        oc.step(), orr.step(), ref.step()
    assert torch.allclose(torch.view_as_real(pc.detach()), pr.detach(), rtol=0, atol=1e-14)
    if m == 1:
        assert torch.allclose(ref.param_groups[0]["params"][0].detach(), pc.detach(), rtol=0, atol=1e-14)
    with oc.evaluation_params(), orr.evaluation_params():
        assert torch.allclose(torch.view_as_real(pc.detach()), pr.detach(), rtol=0, atol=1e-14)


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def test_nadam_complex_matches_torch_and_view_as_real(float64_default):
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(2, 5, dtype=torch.complex128, generator=gen)
    grads = [torch.randn(2, 5, dtype=torch.complex128, generator=gen) for _ in range(20)]
    p = torch.nn.Parameter(z0.clone())
    opt = torch.optim.NAdam([p], lr=1e-2, betas=(0.99, 0.999), eps=1e-8, momentum_decay=0.004)
    st, sr = na.nadam_init(z0), na.nadam_init(torch.view_as_real(z0).clone())
    for k, g in enumerate(grads):
        p.grad = g.clone()
        opt.step()
        st = na.nadam_step(st, g, k + 1, 1e-2)
        sr = na.nadam_step(sr, torch.view_as_real(g), k + 1, 1e-2)
    assert st.x.is_complex()
    assert torch.equal(torch.view_as_real(st.x), sr.x)
    assert float((st.x - p.detach()).abs().max()) <= 1e-12
    with pytest.raises(ValueError, match="complex"):
        na.nadam_step(na.nadam_init(z0), torch.view_as_real(grads[0]).reshape(2, 10), 1, 1e-2)


@pytest.mark.parametrize("which", ["cm", "qhm", "aggmo"])
def test_a5_baselines_complex_are_pairs_of_reals(which):
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(2, 4, dtype=torch.complex128, generator=gen)
    init = {"cm": a5.cm_init, "qhm": a5.qhm_init, "aggmo": lambda x: a5.aggmo_init(x, 2)}[which]
    step = {"cm": lambda s, g: a5.cm_step(s, g, 0.1, 0.9), "qhm": lambda s, g: a5.qhm_step(s, g, 0.1, 0.9, 0.7),
            "aggmo": lambda s, g: a5.aggmo_step(s, g, 0.1, [0.0, 0.9])}[which]
    sc, sr = init(z0), init(torch.view_as_real(z0).clone())
    for _ in range(10):
        g = torch.randn(2, 4, dtype=torch.complex128, generator=gen)
        sc, sr = step(sc, g), step(sr, torch.view_as_real(g).clone())
    assert torch.allclose(torch.view_as_real(sc.x), sr.x, rtol=0, atol=1e-14)
