"""Lemma 1 (THEORY §4.1) as a pathwise certificate: never negative when α(1−β) < 1/L, negative when broken."""
import pytest
import torch

from theorycheck import algorithms as A
from theorycheck.oracles import Oracle, SphereNoise
from theorycheck.problems import synthetic
from theorycheck.run import run
from theorycheck.schedules import Constant, Theorem1
from theorycheck.theory.lemma1 import Lemma1Certificate


def certify(problem, alg, K=150, sigma=0.5, u=None, seeds=range(8)):
    cert = Lemma1Certificate(problem, u)
    run(problem, Oracle(problem, SphereNoise(sigma)), alg, K, seeds, monitor=cert, checkpoints=[K])
    return cert


@pytest.mark.parametrize("frac", [0.5, 0.999])
@pytest.mark.parametrize("name", ["am1", "am2", "acsa"])
def test_lemma1_holds_pathwise_under_the_step_condition(name, frac):
    p = synthetic.least_squares()
    beta = 0.9
    sched = Constant(beta, alpha=frac / (p.constants.L * (1 - beta)))
    cert = certify(p, A.make(name, p.setup, sched, m=5 if name != "acsa" else None))
    assert cert.step_condition_ok and cert.holds(), cert.summary()


@pytest.mark.parametrize("family", ["l1_composite", "compact_problem", "simplex_problem", "mad_regression"])
def test_lemma1_holds_in_every_setup(family):
    p = getattr(synthetic, family)()
    c = p.constants
    sched = Theorem1(c.L, p.V0(), 0.5, c.M, 5, 150)
    cert = certify(p, A.AM1(p.setup, sched, 5))
    assert cert.holds(), cert.summary()


def test_lemma1_holds_for_an_arbitrary_reference_point():
    p = synthetic.least_squares()
    u = p.x_star + 0.3 * torch.ones_like(p.x_star)
    cert = certify(p, A.AM1(p.setup, Constant(0.5, alpha=1.0 / p.constants.L), 5), u=u)
    assert cert.holds(), cert.summary()


@pytest.mark.parametrize("frac", [3.0, 10.0])
def test_lemma1_fails_when_the_step_condition_is_broken(frac):
    """Negative control: α(1−β) = 3/L or 10/L makes the inequality fail."""
    p = synthetic.least_squares()
    beta = 0.5
    cert = certify(p, A.AM1(p.setup, Constant(beta, alpha=frac / (p.constants.L * (1 - beta))), 4), K=40)
    assert not cert.step_condition_ok
    assert not cert.holds()
    assert cert.summary()["min_slack"] < 0


def test_lemma1_rejects_non_scheme2_algorithms():
    p = synthetic.least_squares()
    with pytest.raises(ValueError, match="scheme-\\(2\\)"):
        certify(p, A.Nesterov(p.setup, Constant(0.5, eta=0.1)), K=2)
