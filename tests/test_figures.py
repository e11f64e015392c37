"""`theorycheck figures`: draws from saved results only, names the missing `theorycheck run` command, and plots
exactly the statistics of the results table."""
import math

import numpy as np
import pytest

from theorycheck import figures as F
from theorycheck.check import evaluate
from theorycheck.cli import main
from theorycheck.spec import load_spec
from theorycheck.table import read_table
from theorycheck.theory import bounds

TINY = """
description = "tiny spec for the figure tests"
theorem = "{theorem}"
[problem]
family = "{family}"
params = {params}
[noise]
model = "sphere"
sigma = [0.0, 0.3]
[algorithm]
name = "{alg}"
m = [1, 2]
options = {options}
[schedule]
kind = "{kind}"
[run]
K = 8
seeds = {seeds}
"""


def tiny(tmp_path, theorem="thm1a", family="least_squares", params="{ n = 4, seed = 0 }", alg="am1",
         kind="theorem1", seeds=4, name="tiny.toml", options=None):
    # Theorems 1 and 2 bound Option II only (a spec asking them about Option I is refused); 'none' records both
    options = options or (["I", "II"] if theorem == "none" else ["II"])
    p = tmp_path / name
    p.write_text(TINY.format(theorem=theorem, family=family, params=params, alg=alg, kind=kind, seeds=seeds,
                             options=str(options).replace("'", '"')))
    return p


def run_tiny(tmp_path, **kw):
    spec = tiny(tmp_path, **kw)
    out = tmp_path / "results"
    assert main(["run", str(spec), "--out", str(out), "--no-progress"]) == 0
    return spec, out


def test_figures_from_saved_results(tmp_path, capsys):
    spec, out = run_tiny(tmp_path)
    figs = tmp_path / "figs"
    assert main(["figures", str(spec), "--results", str(out), "--out", str(figs)]) == 0
    for ext in ("png", "pdf"):
        f = figs / f"tiny.{ext}"
        assert f.is_file() and f.stat().st_size > 1000
    assert f"{figs / 'tiny.png'}" in capsys.readouterr().out


def test_missing_results_exit_2_names_the_run_command(tmp_path, capsys):
    spec = tiny(tmp_path)
    empty = tmp_path / "nothing"
    assert main(["figures", str(spec), "--results", str(empty), "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert f"theorycheck run {spec} --out {empty}" in err
    assert not (tmp_path / "figs").exists()  # nothing is drawn (and nothing is run) without results


def test_committed_figures_name_every_missing_spec(tmp_path, capsys):
    assert main(["figures", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    for name in F.figure_specs():
        assert f"theorycheck run {name} --out {tmp_path / 'none'}" in err


def test_stale_results_are_refused(tmp_path, capsys):
    spec, out = run_tiny(tmp_path)
    spec.write_text(spec.read_text().replace("K = 8", "K = 10"))  # same configurations, different experiment
    assert main(["figures", str(spec), "--results", str(out), "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert "stale" in err and "theorycheck run" in err


def test_plotted_curve_is_the_table_mean_and_the_bound_is_checks(tmp_path):
    spec_path, out = run_tiny(tmp_path)
    spec = load_spec(spec_path)
    res = F.load_results(spec, out)
    data = F.convergence_data(res)
    assert len(data) == 4  # 2 sigma x 2 m x option II
    for d in data:
        cfg, c = d["config"], d["curve"]
        t = read_table(out / "raw" / spec.name / f"{cfg.key}.parquet")
        t = t[t["option"] == c.option]
        for k, mean, sd in zip(c.k, c.mean, c.sd):
            e = t[t["checkpoint"] == int(k)]["error"].to_numpy().astype(float)
            assert e.size == 4
            assert mean == pytest.approx(e.mean(), rel=1e-12, abs=1e-300)
            assert sd == pytest.approx(e.std(ddof=1), rel=1e-12, abs=1e-300)
        # the dashed bound at K is the bound `theorycheck check` tests there
        rows = [r for r in evaluate(spec, cfg, res.table(cfg))
                if r["checkpoint"] == spec.K and r["option"] == c.option and r["bound_form"] == "comparator"]
        assert len(rows) == 1
        assert d["bound"].value[-1] == pytest.approx(rows[0]["test"].bound, rel=1e-12)


def test_tightness_uses_the_printed_theorem_bound(tmp_path):
    spec_path, out = run_tiny(tmp_path)
    res = F.load_results(load_spec(spec_path), out)
    d = F.tightness_data(res)
    assert d["forms"] == ["theorem"]
    p = res.build(res.configs[0])[0]
    c = p.constants
    cfg = res.config(0.3, 2)
    e = F.final_errors(res, cfg, "II")  # the default option is the table's first one
    K0 = bounds.thm1a_bound(c.L, p.V0(), 0.3, c.M, 2, 8)
    assert d["ratio"][d["sigma"].index(0.3), d["m"].index(2)] == pytest.approx(K0 / e.mean(), rel=1e-12)


def test_quantile_bound_of_theorem_1b(tmp_path):
    spec_path, out = run_tiny(tmp_path, theorem="thm1b", family="compact", params="{ n = 4, kind = 'ball', seed = 0 }",
                              seeds=40)
    res = F.load_results(load_spec(spec_path), out)
    cfg = res.config(0.3, 2)
    d = F.quantile_data(res, cfg, probs=[0.5, 0.9])
    p = res.build(cfg)[0]
    c = p.constants
    lam = bounds.thm1b_lambda_for_prob(0.1)
    assert math.exp(-lam * lam / 3) + math.exp(-lam) == pytest.approx(0.1)
    K1 = bounds.thm1b_K1(0.3, p.V0(), c.D_X, 2, 8, lam)
    assert d["thm1b"][1] == pytest.approx(bounds.thm1a_bound(c.L, p.V0(), 0.3, c.M, 2, 8) + K1, rel=1e-10)
    e = np.sort(F.final_errors(res, cfg))
    assert d["q"][0] == e[19]  # inverted-cdf median of 40 values
    assert d["markov"] is None


def test_paired_difference_interval():
    rng = np.random.default_rng(0)
    b = rng.exponential(size=50)
    d = F.paired_difference(b + 0.5, b)  # constant shift: the interval collapses onto it
    assert d["mean"] == pytest.approx(0.5) and d["low"] == pytest.approx(0.5) and d["high"] == pytest.approx(0.5)
    a = b + rng.normal(0.2, 0.05, size=50)
    d = F.paired_difference(a, b)
    assert d["low"] < d["mean"] < d["high"] and d["low"] > 0
    assert F._cmp(d) == "a > b" and F._cmp(F.paired_difference(b, a)) == "a < b"
