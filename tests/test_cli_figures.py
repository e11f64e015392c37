"""Issue 13, item 13: the README's `theorycheck figures --results DIR --out DIR` works as written (no spec names),
and drawing needs nothing but the saved results (no spec file, no data set)."""
import json
import math

import numpy as np
import pytest

from theorycheck import figures as F
from theorycheck import saved
from theorycheck.check import COLUMNS, evaluate, finalize
from theorycheck.cli import main
from theorycheck.spec import load_spec

TINY = """
description = "tiny spec for the figure tests"
theorem = "thm1a"
[problem]
{problem}
[noise]
model = "sphere"
sigma = [0.0, 0.3]
[algorithm]
name = "am1"
m = [1, 2]
options = ["II"]  # Theorem 1(a) bounds Option II only
[schedule]
kind = "theorem1"
{schedule}
[run]
K = 8
seeds = 4
"""
LS = 'family = "least_squares"\nparams = { n = 4, seed = 0 }'


def write_svmlight(path, N=60, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, n))
    y = np.where(X @ rng.normal(size=n) + 0.8 * rng.normal(size=N) > 0, 1, -1)  # not separable: a minimiser
    path.write_text("".join(f"{y[i]} " + " ".join(f"{j + 1}:{X[i, j]:.6f}" for j in range(n)) + "\n"
                            for i in range(N)))
    return path


def run_spec(tmp_path, name, problem=LS, schedule=""):
    p = tmp_path / f"{name}.toml"
    p.write_text(TINY.format(problem=problem, schedule=schedule))
    out = tmp_path / "results"
    assert main(["run", str(p), "--out", str(out), "--no-progress"]) == 0
    return p, out


def test_readme_command_without_spec_names(tmp_path, capsys):
    """`theorycheck figures --results DIR --out DIR` draws the specs found in DIR; the spec file is not needed."""
    spec, out = run_spec(tmp_path, "tiny_fig")
    spec.unlink()  # the results are self-describing: raw/tiny_fig/spec.json
    figs = tmp_path / "figs"
    assert main(["figures", "--results", str(out), "--out", str(figs)]) == 0
    for ext in ("png", "pdf"):
        assert (figs / f"tiny_fig.{ext}").stat().st_size > 1000
    assert not (figs / "claims.md").exists()  # the claims need every committed figure's results
    assert str(figs / "tiny_fig.png") in capsys.readouterr().out


def test_figures_need_no_data_set(tmp_path, monkeypatch):
    """A logistic problem read from an svmlight file: after the run, the file (and the spec) are deleted, and the
    figures are drawn from the saved results alone."""
    data = write_svmlight(tmp_path / "tiny.svm")
    problem = f'family = "svmlight"\nfile = "{data}"\nparams = {{ n_features = 5, cache = false }}'
    spec, out = run_spec(tmp_path, "svm_fig", problem=problem)
    data.unlink()
    spec.unlink()
    monkeypatch.setenv("THEORYCHECK_DATA", str(tmp_path / "no_data_here"))
    figs = tmp_path / "figs"
    assert main(["figures", "--results", str(out), "--out", str(figs)]) == 0
    assert (figs / "svm_fig.png").stat().st_size > 1000
    # naming the spec works too (the saved spec is used when no spec file of that name exists)
    assert main(["figures", "svm_fig", "--results", str(out), "--out", str(tmp_path / "figs2")]) == 0


def test_saved_context_reproduces_the_built_objects(tmp_path):
    spec_path, out = run_spec(tmp_path, "tiny_ctx")
    spec = load_spec(spec_path)
    res_saved = F.load_results(spec, out)
    assert res_saved.self_contained
    res_built = F.SpecResults(spec, res_saved.tables)  # no contexts: builds the problem
    for cfg in spec.configs():
        ks = [2, 4, 8]
        a, b = F.expectation_bound(res_saved, cfg, ks), F.expectation_bound(res_built, cfg, ks)
        np.testing.assert_allclose(a.value, b.value, rtol=1e-14)
        assert a.comparators == b.comparators and a.label == b.label
        assert F.theorem_bound(res_saved, cfg) == pytest.approx(F.theorem_bound(res_built, cfg), rel=1e-14)
        assert F.initial_gap(res_saved.build(cfg)[0]) == pytest.approx(F.initial_gap(res_built.build(cfg)[0]),
                                                                       rel=1e-14)


def test_saved_tests_give_the_same_verdicts_as_check(tmp_path):
    """The claims table's verdicts come from the saved test recipes: identical to check.evaluate + finalize."""
    spec_path, out = run_spec(tmp_path, "tiny_tests")
    spec = load_spec(spec_path)
    res = F.load_results(spec, out)
    rows_a, rows_b = [], []
    for cfg in spec.configs():
        rows_a += evaluate(spec, cfg, res.table(cfg))
        rows_b += saved.tests_from_context(spec, cfg, res.table(cfg), res.contexts[cfg.key])
    ta, tb = finalize(rows_a, 0.05), finalize(rows_b, 0.05)
    assert len(ta) == len(tb) > 0
    for c in COLUMNS:
        if c == "batch":
            continue
        for x, y in zip(ta[c], tb[c]):
            if isinstance(x, float) and math.isnan(x):
                assert isinstance(y, float) and math.isnan(y), c
            else:
                assert x == y, (c, x, y)


def test_stale_context_is_ignored(tmp_path):
    spec_path, out = run_spec(tmp_path, "tiny_stale")
    spec = load_spec(spec_path)
    cfg = spec.configs()[0]
    p = saved.context_path(out, spec, cfg)
    d = json.loads(p.read_text())
    d["fingerprint"] = "0" * 16
    p.write_text(json.dumps(d))
    res = F.load_results(spec, out)
    assert res.contexts[cfg.key] is None and not res.self_contained
    assert res.build(cfg)[0].x0 is not None  # falls back to building the problem


def test_saved_spec_round_trip(tmp_path):
    spec_path, out = run_spec(tmp_path, "tiny_rt")
    spec = load_spec(spec_path)
    back = saved.load_saved_spec(out, "tiny_rt")
    for cfg in spec.configs():
        assert back.fingerprint(cfg, 4, "float64", "cpu") == spec.fingerprint(cfg, 4, "float64", "cpu")
    assert saved.saved_spec_names(out) == ["tiny_rt"]


def test_figures_out_is_an_existing_file(tmp_path, capsys):
    spec, out = run_spec(tmp_path, "tiny_out")
    f = tmp_path / "taken"
    f.write_text("keep")
    assert main(["figures", "--results", str(out), "--out", str(f)]) == 2
    assert "--out" in capsys.readouterr().err and f.read_text() == "keep"
