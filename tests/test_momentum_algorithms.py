"""The momentum methods of theorycheck.methods, ported to the algorithm protocol, run through run.py and give the
iterates of their pure step functions driven by hand (same oracle, same seeds)."""
import pytest
import torch

from theorycheck import algorithms
from theorycheck.methods import baselines_a5 as a5
from theorycheck.methods import nadam as nd
from theorycheck.methods import normalized as nz
from theorycheck.methods import spa
from theorycheck.oracles import GaussianNoise, Oracle
from theorycheck.problems import synthetic
from theorycheck import rng
from theorycheck.run import run
from theorycheck.schedules import Constant
from theorycheck.theorems._cm import FixedStep

K, SEEDS = 25, range(4)


def by_hand(p, oracle, init, step, query=lambda s, k: s.x):
    seeds = rng.as_seeds(SEEDS, p.device)
    s = init(p.x0[None].repeat(len(SEEDS), 1))
    for k in range(K):
        s = step(s, oracle(query(s, k), seeds, k), k)
    return s


CASES = {
    "cm": (Constant(0.9, alpha=0.05), {}, lambda x0: a5.cm_init(x0), lambda s, g, k: a5.cm_step(s, g, 0.05, 0.9), "x"),
    "qhm": (Constant(0.9, alpha=0.05), {"nu": 0.7}, a5.qhm_init, lambda s, g, k: a5.qhm_step(s, g, 0.05, 0.9, 0.7), "x"),
    "aggmo": (Constant(0.0, alpha=0.05), {"betas": [0.0, 0.9]}, lambda x0: a5.aggmo_init(x0, 2),
              lambda s, g, k: a5.aggmo_step(s, g, 0.05, [0.0, 0.9]), "x"),
    "nadam": (Constant(0.9, alpha=0.01), {}, nd.nadam_init, lambda s, g, k: nd.nadam_step(s, g, k + 1, 0.01, 0.9), "x"),
    "spa": (Constant(0.0, eta=0.05), {"c": 0.2}, spa.spa_init, lambda s, g, k: spa.spa_step(s, g, 0.05, 0.2), "x"),
    "nsgdm": (FixedStep(0.05, 0.9), {}, nz.nsgdm_init, lambda s, g, k: nz.nsgdm_step(s, g, 0.05, 0.9), "w"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ported_algorithm_matches_its_step_function(name):
    p = synthetic.least_squares(n=6, seed=1)
    oracle = Oracle(p, GaussianNoise(0.3))
    sched, params, init, step, attr = CASES[name]
    alg = algorithms.make(name, p.setup, sched, **params)
    res = run(p, oracle, alg, K, SEEDS, options=(alg.default_option,), checkpoints=[K], progress=False)
    want = by_hand(p, oracle, init, step, query=(lambda s, k: getattr(s, attr)))
    got = alg.output(res.state, alg.default_option, K)
    assert torch.allclose(got, getattr(want, attr), rtol=0, atol=1e-13)


def test_nigt_through_run_matches_its_step_function():
    p = synthetic.least_squares(n=6, seed=1)
    oracle = Oracle(p, GaussianNoise(0.3))
    alg = algorithms.make("nigt", p.setup, FixedStep(0.05, 0.8))
    res = run(p, oracle, alg, K, SEEDS, checkpoints=[K], progress=False)
    want = by_hand(p, oracle, nz.nigt_init, lambda s, g, k: nz.nigt_step(s, g, 0.05, 0.8),
                   query=lambda s, k: nz.nigt_query(s, 0.8))
    assert torch.allclose(res.state["w"], want.w, rtol=0, atol=1e-13)
