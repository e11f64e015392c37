"""Provenance (theorycheck/provenance.py): the raw-results fingerprint covers the data file, the code, the
certified constants and every results-changing spec key; stale results are re-run; verdicts carry their origin."""
import json

import numpy as np

from theorycheck import experiment, provenance
from theorycheck.spec import parse_spec
import pandas as pd

ROWS_A = "".join(f"{'+1' if i % 3 else '-1'} {1 + i % 7}:1 {8 + i % 5}:0.5\n" for i in range(40))
ROWS_B = "".join(f"{'+1' if i % 2 else '-1'} {1 + i % 5}:1 {9 + i % 4}:0.7\n" for i in range(40))


def _spec(path, **check):
    return parse_spec({"theorem": "none", "problem": {"family": "svmlight", "file": str(path)},
                       "noise": {"model": "gaussian", "sigma": 0.1}, "algorithm": {"name": "am1", "m": 1},
                       "schedule": {"kind": "constant", "eta": 0.1}, "run": {"K": 4, "seeds": 2},
                       "check": check}, "<test>", "svm_spec")


def test_replacing_the_svmlight_file_reruns(tmp_path, monkeypatch):
    data = tmp_path / "d.svm"
    data.write_text(ROWS_A)
    spec = _spec(data)
    cfg = spec.configs()[0]
    calls = []

    def fake_run(spec, cfg, n_seeds=None, device="cpu", dtype=None, progress=None):
        calls.append(1)
        return pd.DataFrame({"seed": np.arange(2), "error": np.full(2, float(len(calls)))})

    monkeypatch.setattr(experiment, "run_config", fake_run)
    out = tmp_path / "out"
    experiment.run_or_load(spec, cfg, out)
    experiment.run_or_load(spec, cfg, out)
    assert len(calls) == 1  # reused
    meta = json.loads((out / "raw" / "svm_spec" / f"{cfg.key}.json").read_text())
    assert meta["theorycheck_version"] and meta["code_hash"] == provenance.code_hash()
    data.write_text(ROWS_B)  # same path, new contents
    experiment._build_problem.cache_clear()
    t = experiment.run_or_load(spec, cfg, out)
    assert len(calls) == 2 and float(t["error"][0]) == 2.0  # re-run, not the old errors


def test_fingerprint_covers_check_keys_and_code(tmp_path):
    data = tmp_path / "d.svm"
    data.write_text(ROWS_A)
    a, b = _spec(data), _spec(data, lemma1=True)
    cfg = a.configs()[0]
    assert a.fingerprint(cfg, 2, "float64", "cpu") != b.fingerprint(cfg, 2, "float64", "cpu")
    fa = provenance.results_fingerprint(a, cfg, 2, "float64", "cpu")
    assert fa == provenance.results_fingerprint(a, cfg, 2, "float64", "cpu")
    assert fa != provenance.results_fingerprint(a, cfg, 3, "float64", "cpu")
    assert len(provenance.code_hash()) == 16
    meta = provenance.run_metadata("cpu", "float64")
    assert {"theorycheck_version", "git_commit", "torch_version", "device", "dtype"} <= set(meta)
