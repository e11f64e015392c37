"""Smoke test of bench/digits_mlp.py (the digits MLP robustness experiment) and its statistics helpers."""
import importlib.util
import json
import pathlib

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "bench" / "digits_mlp.py"


@pytest.fixture(scope="module")
def dm():
    spec = importlib.util.spec_from_file_location("digits_mlp", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_script_runs_two_seeds_one_epoch(dm, tmp_path, capsys):
    import torch

    js = tmp_path / "r.json"
    threads = torch.get_num_threads()
    dm.main(["--seeds", "2", "--epochs", "1", "--out", str(tmp_path), "--workers", "1", "--json", str(js)])
    assert torch.get_num_threads() == threads  # the in-process run restores the caller's thread count
    for ext in ("png", "pdf"):
        f = tmp_path / f"digits_mlp.{ext}"
        assert f.is_file() and 1000 < f.stat().st_size < 300_000
    out = capsys.readouterr().out
    for m in dm.METHODS:
        assert f"{m}: final test accuracy" in out
    res = json.loads(js.read_text())["results"]
    assert set(res) == set(dm.METHODS)
    for r in res.values():
        acc = np.array(r["test_acc"])
        assert acc.shape == (2, 1) and np.all((acc > 10) & (acc <= 100))  # better than chance after one epoch
        assert np.all(np.isfinite(r["train_loss"]))


def test_same_seed_same_run_and_seeds_differ(dm):
    cfg = dict(epochs=1, batch=64, lr=0.1, momentum=0.9, m=5, weight_decay=5e-4)
    a = dm.train_one(("AM1-SGD-II", 0, cfg))
    b = dm.train_one(("AM1-SGD-II", 0, cfg))
    c = dm.train_one(("AM1-SGD-II", 1, cfg))
    assert a["train_loss"] == b["train_loss"]
    assert a["train_loss"] != c["train_loss"]


def test_pitman_morgan(dm):
    rs = np.random.default_rng(0)
    z = rs.standard_normal(200)
    x = z + 0.3 * rs.standard_normal(200)
    assert dm.pitman_morgan(x, 3 * z) < 1e-6  # paired, variances 1.09 vs 9
    p = [dm.pitman_morgan(rs.standard_normal(20), rs.standard_normal(20)) for _ in range(400)]
    assert 0.02 < np.mean(np.array(p) < 0.05) < 0.09  # about 5% under H0


def test_summarize_and_bootstrap(dm):
    rs = np.random.default_rng(1)
    S, E = 30, 4
    base = 90 + 2.0 * rs.standard_normal((S, E))
    results = {"M-SGD": {"test_acc": base, "train_loss": np.abs(rs.standard_normal((S, E)))},
               "AM1-SGD-II": {"test_acc": 90 + 0.5 * rs.standard_normal((S, E)),
                              "train_loss": np.abs(rs.standard_normal((S, E)))}}
    s = dm.summarize(results, n_boot=2000)
    c = s["comparisons"][0]
    assert c["method"] == "AM1-SGD-II" and c["vs"] == "M-SGD"
    lo, hi = c["final_sd_ratio_ci"]
    assert lo < c["final_sd_ratio"] < hi and hi < 0.5  # true ratio 0.25
    assert c["avg_sd_ratio_ci"][1] < 0.5 and c["pitman_morgan_p_holm"] < 1e-3
    md = dm.markdown(s, dict(seeds=S, epochs=E, batch=32, lr=0.1, momentum=0.9, m=5, weight_decay=0, workers=1), 1.0)
    assert "| AM1-SGD-II |" in md and "Pitman" in md
