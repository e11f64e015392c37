"""theorycheck.testing with objects instead of a spec: check_spec / assert_holds(problem=..., oracle=...,
algorithm=..., theorem=..., K=...) give the verdicts of the equivalent dict spec, and the negative control (bound
scaled by 0.01) is violated with a readable AssertionError."""
import numpy as np
import pytest

from theorycheck.algorithms.am1 import AM1
from theorycheck.oracles import Oracle, SphereNoise
from theorycheck.problems.synthetic import least_squares
from theorycheck.spec import SpecError
from theorycheck.testing import assert_holds, check_spec
from theorycheck.theorems.zhou_thm1a import ZhouThm1a

RUN = dict(sigma=0.1, m=1, K=100, seeds=20, options="II", checkpoints=[100])
DICT_SPEC = {"name": "ls_dict", "theorem": "thm1a", "problem": {"family": "least_squares", "params": {"n": 20, "seed": 0}},
             "noise": {"model": "sphere", "sigma": [0.1]}, "algorithm": {"name": "am1", "m": [1], "options": ["II"]},
             "schedule": {"kind": "theorem1"}, "run": {"K": 100, "seeds": 20, "checkpoints": [100]}}
NUMBERS = ["value", "ci_low", "ci_high", "bound", "ratio"]


@pytest.fixture(scope="module")
def from_dict():
    return check_spec(DICT_SPEC)


def test_objects_give_the_dict_specs_verdicts(from_dict):
    v = check_spec(problem=least_squares(n=20, seed=0), algorithm="am1", theorem=ZhouThm1a(), **RUN)
    assert v["verdict"].tolist() == from_dict["verdict"].tolist() and "holds" in v["verdict"].tolist()
    assert set(v["theorem"]) == {"thm1a"} and set(v["algorithm"]) == {"am1"}
    for c in NUMBERS:
        np.testing.assert_array_equal(v[c].to_numpy(), from_dict[c].to_numpy())
    assert assert_holds(v) is v


def test_noise_oracle_and_algorithm_class_objects(from_dict):
    """A Noise object, an Oracle object (its problem is used) and an Algorithm subclass whose name is taken by the
    built-in (registered under a fresh name, the theorem copied to cover it) all give the same numbers."""
    class MyAM1(AM1):  # same maths, another class: registered as am1__objN
        pass

    P = least_squares(n=20, seed=0)
    a = check_spec(problem=P, oracle=SphereNoise(0.1), algorithm=MyAM1, theorem=ZhouThm1a,
                   **{k: v for k, v in RUN.items() if k != "sigma"})
    b = check_spec(oracle=Oracle(P, SphereNoise(0.1)), algorithm="am1", theorem="thm1a",
                   **{k: v for k, v in RUN.items() if k != "sigma"})
    for v in (a, b):
        for c in NUMBERS:
            np.testing.assert_array_equal(v[c].to_numpy(), from_dict[c].to_numpy())
    assert a["theorem"].iloc[0].startswith("thm1a__obj") and a["verdict"].tolist() == from_dict["verdict"].tolist()


def test_negative_control_is_violated_and_assert_holds_raises():
    kw = dict(problem=least_squares(n=20, seed=0), algorithm="am1", theorem=ZhouThm1a(), check={"bound_scale": 0.01},
              **RUN)
    v = check_spec(**kw)
    assert v["verdict"].tolist() == ["violated"] * len(v) and len(v) >= 1
    assert (v["ci_low"] > v["bound"]).all()
    with pytest.raises(AssertionError) as e:
        assert_holds(**kw)
    msg = str(e.value)
    for word in ("violated", "bound", "lower", "upper", "ratio", "seeds needed", "sigma=0.1,m=1"):
        assert word in msg, (word, msg)


def test_bad_object_arguments_are_refused_before_running():
    P = least_squares(n=8, seed=0)
    with pytest.raises(TypeError, match="either a spec or objects"):
        check_spec(DICT_SPEC, problem=P, algorithm="am1", theorem="thm1a", K=10)
    with pytest.raises(TypeError, match="Algorithm \\*class\\*"):
        check_spec(problem=P, algorithm=AM1(P.setup, None, 1), theorem="thm1a", K=10)
    with pytest.raises(TypeError, match="theorem must be"):
        check_spec(problem=P, algorithm="am1", theorem=3.0, K=10)
    with pytest.raises(ValueError, match="another problem"):
        check_spec(problem=P, oracle=Oracle(least_squares(n=8, seed=1), SphereNoise(0.1)), algorithm="am1",
                   theorem="thm1a", K=10)
    with pytest.raises(SpecError, match="run.K"):
        check_spec(problem=P, algorithm="am1", theorem="thm1a", sigma=0.1, K=0)
    with pytest.raises(TypeError, match="give a spec"):
        check_spec()


def test_library_runs_use_one_cpu_thread_and_restore_the_setting(monkeypatch):
    """theorycheck.testing (and so the pytest plugin) applies the CLI's thread policy: one torch thread while it
    runs (with torch's default a busy 2-core machine ran check_spec 9x slower), the caller's setting afterwards."""
    import torch

    from theorycheck import testing

    seen = []
    real = testing.fresh_run

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    monkeypatch.setattr(testing, "fresh_run", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        testing.check_spec("ls_thm1a", seeds=2)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
