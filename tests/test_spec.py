"""Spec validation: every malformed spec is rejected before anything runs, naming the file, key and range."""
import pytest

from theorycheck.cli import default_suite, main, spec_dirs
from theorycheck.spec import SpecError, load_spec

GOOD = """
theorem = "thm1a"
[problem]
family = "least_squares"
params = { n = 5, seed = 1 }
[noise]
model = "sphere"
sigma = [0.1]
[algorithm]
name = "am1"
m = [1, 2]
[schedule]
kind = "theorem1"
[run]
K = 20
seeds = 4
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_every_shipped_spec_is_valid():
    paths = [p for d in spec_dirs() for p in d.glob("*.toml")]
    assert len(paths) >= 7
    for p in paths:
        load_spec(p)
    assert len(default_suite()) >= 5


def test_good_spec_grid(tmp_path):
    s = load_spec(write(tmp_path, GOOD))
    assert s.name == "s" and [c.key for c in s.configs()] == ["sigma=0.1_m=1", "sigma=0.1_m=2"]


@pytest.mark.parametrize("old,new,key", [
    ('model = "sphere"', 'model = "sphere"\ncolour = 3', "noise.colour"),
    ("sigma = [0.1]", "sigma = [-0.1]", "noise.sigma"),
    ("m = [1, 2]", "m = [0]", "algorithm.m"),
    ("m = [1, 2]", "m = [3]", "run.K"),
    ("K = 20", 'K = "20"', "run.K"),
    ('kind = "theorem1"', 'kind = "theorem2"', "schedule.kind"),
    ('name = "am1"', 'name = "adam"', "algorithm.name"),
    ('family = "least_squares"', 'family = "mnist"', "problem.family"),
    ("seeds = 4", "seeds = 1", "run.seeds"),
    ('theorem = "thm1a"', 'theorem = "thm9"', "theorem"),
    ('[run]\nK = 20\nseeds = 4', "", "run"),
])
def test_bad_specs_name_the_key(tmp_path, old, new, key):
    p = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert str(p) in str(e.value) and f"[{key}]" in str(e.value)


def test_cli_rejects_bad_spec_with_exit_2_and_writes_nothing(tmp_path, capsys):
    p = write(tmp_path, GOOD.replace("sigma = [0.1]", "sigma = [-1.0]"))
    out = tmp_path / "out"
    assert main(["check", str(p), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "noise.sigma" in err and ">= 0" in err
    assert not out.exists()


def test_cli_unknown_spec_name(tmp_path, capsys):
    assert main(["check", "no_such_spec", "--out", str(tmp_path / "o")]) == 2
    assert "no spec of that name" in capsys.readouterr().err
