"""theorycheck.methods.checks: verdict rows for Cutkosky–Mehta Theorems 1 and 3 (THEORY §6) in the format of
theorycheck.check (same columns, verdict_mean + Holm), with a negative control and the vacuity flag."""

import numpy as np
import pytest

from theorycheck import stats
from theorycheck.check import COLUMNS
from theorycheck.methods import checks
from theorycheck.methods import normalized as nz


@pytest.fixture(scope="module")
def rr():
    return nz.RobustRegression.random(N=200, n=10, seed=0)


@pytest.fixture(scope="module")
def table(rr):
    return checks.check_cutkosky_mehta(rr, sigmas=(0.1, 1.0, 3.0), T=100, seeds=range(20))


def test_columns_and_rows(table):
    assert list(table.columns) == COLUMNS
    assert len(table) == 6
    rows = list(table.to_dict("records"))
    assert [(r["theorem"], r["algorithm"], r["sigma"]) for r in rows] == [
        ("cm_thm1", "nsgdm", 0.1), ("cm_thm1", "nsgdm", 1.0), ("cm_thm1", "nsgdm", 3.0),
        ("cm_thm3", "nigt", 0.1), ("cm_thm3", "nigt", 1.0), ("cm_thm3", "nigt", 3.0)]
    for r in rows:
        assert r["statistic"] == checks.STATISTIC and r["correction"] == "holm"
        assert r["n_seeds"] == 20 and r["n_diverged"] == 0 and r["K"] == r["checkpoint"] == 100
        assert r["assumptions"] == "ok" and r["m"] == 1


def test_theorem_bounds_hold(table):
    for r in table.to_dict("records"):
        assert r["verdict"] == "holds", r
        assert r["ci_high"] < r["bound"] and r["p_holds"] <= 0.05


def test_value_is_mean_over_seeds_of_time_average(rr, table):
    out = nz.run_normalized(rr, range(20), 100, 1.0, "nigt")
    want = float(out["grad_norm"].mean(0).mean())
    r = next(r for r in table.to_dict("records") if r["theorem"] == "cm_thm3" and r["sigma"] == 1.0)
    assert abs(r["value"] - want) < 1e-14
    assert r["bound"] == pytest.approx(nz.thm3_bound(out["R"], rr.L, rr.rho, 1.0, 100), rel=1e-15)


def test_negative_control_bound_over_100_is_violated(rr):
    t = checks.check_cutkosky_mehta(rr, sigmas=(0.1, 1.0), T=100, seeds=range(20), bound_scale=0.01,
                                    spec="cm_negative_control")
    assert len(t) == 4
    for r in t.to_dict("records"):
        assert r["verdict"] == "violated", r
        assert r["ci_low"] > r["bound"] and r["bound_form"] == "theorem x 0.01"


def test_finding_bound_is_over_100x_loose_at_large_sigma(table):
    """At σ = 3 the bounds exceed the observed mean by more than 100×, so bound/100 is not a negative control."""
    for r in table.to_dict("records"):
        if r["sigma"] == 3.0:
            assert r["ratio"] > 100


def test_vacuity_flag(rr, table):
    # T = 100: every Theorem 1 bound and the Theorem 3 bounds at σ >= 0.1 exceed sup ||∇F|| (0.707)
    for r in table.to_dict("records"):
        assert r["bound_form"] == "theorem (vacuous)"
        assert r["bound"] >= rr.grad_sup
    small = checks.check_cutkosky_mehta(rr, sigmas=(0.01,), T=100, seeds=range(10), theorems=("cm_thm3",))
    r = next(iter(small.to_dict("records")))
    assert r["bound_form"] == "theorem" and r["bound"] < rr.grad_sup and r["verdict"] == "holds"


def test_holm_matches_stats_verdicts_family(rr):
    rows = [checks.evaluate(rr, th, s, 60, range(12)) for th in ("cm_thm1", "cm_thm3") for s in (0.1, 1.0)]
    fam = stats.verdicts_family([r["test"] for r in rows])
    t = checks.check_cutkosky_mehta(rr, sigmas=(0.1, 1.0), T=60, seeds=range(12))
    for v, r, raw in zip(fam, t.to_dict("records"), rows):
        assert (r["verdict"], r["p_holds"], r["p_violated"]) == (v.verdict, v.p_holds_adj, v.p_violated_adj)
        assert r["p_holds"] >= raw["test"].p_holds  # Holm never lowers a p-value


def test_seeds_are_deterministic_and_batch_invariant(rr):
    a, _ = checks.per_seed_statistic(rr, "cm_thm1", 0.5, 40, range(8))
    b, _ = checks.per_seed_statistic(rr, "cm_thm1", 0.5, 40, [3, 5])
    np.testing.assert_allclose(a[[3, 5]], b, rtol=1e-12, atol=0)  # same noise; matmul rounding may differ
    c, _ = checks.per_seed_statistic(rr, "cm_thm1", 0.5, 40, range(8))
    assert np.array_equal(a, c)
    assert np.unique(a).size == 8  # the seeds really differ


def test_multiple_T_and_info(rr):
    t = checks.check_cutkosky_mehta(rr, sigmas=(0.1,), T=(20, 40), seeds=range(6), theorems=("cm_thm1",))
    assert [int(k) for k in t["K"]] == [20, 40]
    row = checks.evaluate(rr, "cm_thm1", 0.1, 20, range(6))
    a, e = nz.thm1_params(row["info"]["R"], rr.L, 0.1, 20)
    assert row["info"]["alpha"] == a and row["info"]["eta"] == e
    assert row["info"]["min_lemma2_slack"] >= -1e-12


@pytest.mark.parametrize("kw,name", [
    (dict(theorem="thm9"), "theorem"), (dict(T=0), "T"), (dict(sigma=-1.0), "sigma"),
    (dict(bound_scale=0.0), "bound_scale")])
def test_validation(rr, kw, name):
    args = dict(theorem="cm_thm1", sigma=0.1, T=10, seeds=range(3))
    args.update(kw)
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        checks.evaluate(rr, args.pop("theorem"), args.pop("sigma"), args.pop("T"), args.pop("seeds"), **args)


def test_validation_problem_and_grid(rr):
    with pytest.raises(ValueError, match="^problem must be a RobustRegression"):
        checks.evaluate(object(), "cm_thm1", 0.1, 10, range(3))
    with pytest.raises(ValueError, match="^sigmas"):
        checks.check_cutkosky_mehta(rr, sigmas=(), T=10, seeds=range(3))
    with pytest.raises(ValueError, match="^theorem"):
        checks.check_cutkosky_mehta(rr, sigmas=(0.1,), T=10, seeds=range(3), theorems=("nope",))


def test_check_cm_command(tmp_path, capsys):
    from theorycheck.cli import main

    assert main(["check-cm", "--sigmas", "0.1", "--T", "50", "--seeds", "5", "--out", str(tmp_path)]) in (0, 3)
    assert (tmp_path / "verdicts_cm.csv").exists()
    assert main(["check-cm", "--seeds", "1", "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
