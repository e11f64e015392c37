"""Result files: raw results are Parquet (exact), CSV raw results of an older theorycheck are stale (re-run, never
read), and a CSV-era regression baseline (format 1) is refused."""
import json

import numpy as np
import pandas as pd
import pytest

from theorycheck import baseline, experiment, figures
from theorycheck.spec import parse_spec
from theorycheck.table import read_table, write_csv

SPEC = {"theorem": "thm1b", "name": "tiny_files",
        "problem": {"family": "compact", "params": {"n": 4, "kind": "ball", "seed": 0}},
        "noise": {"model": "sphere", "sigma": [0.5]}, "algorithm": {"name": "am1", "m": [1], "options": ["II"]},
        "schedule": {"kind": "theorem1"}, "run": {"K": 20, "seeds": 4}, "check": {"Lambda": [2.0]}}


def test_raw_results_are_parquet_and_exact(tmp_path):
    s = parse_spec(SPEC, "<test>")
    cfg = s.configs()[0]
    t = experiment.run_or_load(s, cfg, tmp_path)
    assert isinstance(t, pd.DataFrame)
    p = experiment.raw_path(tmp_path, s, cfg)
    assert p.suffix == ".parquet" and p.is_file() and not list(p.parent.glob(".*tmp"))
    back = read_table(p)
    assert list(back.columns) == list(t.columns) and np.array_equal(back["error"].to_numpy(), t["error"].to_numpy())
    assert back["diverged"].dtype == bool and back["seed"].dtype.kind == "i"


def test_legacy_csv_raw_results_are_stale_and_rerun(tmp_path, monkeypatch):
    s = parse_spec(SPEC, "<test>")
    cfg = s.configs()[0]
    t = experiment.run_or_load(s, cfg, tmp_path)
    p = experiment.raw_path(tmp_path, s, cfg)
    legacy = p.with_suffix(".csv")
    write_csv(t, legacy)  # what theorycheck wrote before Parquet, next to a fingerprint that still matches
    p.unlink()
    with pytest.raises(figures.ResultsError, match="saved as CSV by an older theorycheck"):
        figures.load_results(s, tmp_path)
    calls = []
    real = experiment.run_config
    monkeypatch.setattr(experiment, "run_config", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = experiment.run_or_load(s, cfg, tmp_path)
    assert calls == [1]  # not read: run again
    assert p.is_file() and not legacy.exists()  # saved as Parquet, the old CSV removed
    np.testing.assert_array_equal(again["error"].to_numpy(), t["error"].to_numpy())
    experiment.run_or_load(s, cfg, tmp_path)
    assert calls == [1]  # the Parquet file is reused


def test_csv_era_baseline_is_refused(tmp_path):
    s = parse_spec(SPEC, "<test>")
    runs = [(s, c, experiment.run_or_load(s, c, tmp_path / "r")) for c in s.configs()]
    baseline.save(tmp_path / "base", runs)
    assert list((tmp_path / "base" / "errors").rglob("*.parquet"))
    baseline.validate(tmp_path / "base", [s])  # this format: accepted
    meta = json.loads((tmp_path / "base" / "baseline.json").read_text())
    meta["format"] = 1
    (tmp_path / "base" / "baseline.json").write_text(json.dumps(meta))
    with pytest.raises(baseline.BaselineError, match="format 1, expected 2.*re-create it with --save-baseline"):
        baseline.validate(tmp_path / "base", [s])
