"""theorycheck check --until-decided: batches of seeds, anytime-valid tests, verdicts.json with provenance."""
import json

import numpy as np

from theorycheck import sequential as Q
from theorycheck.cli import main


def test_cli_until_decided(tmp_path):
    out = tmp_path / "o"
    code = main(["check", "ls_thm1a", "--until-decided", "--batch", "10", "--max-seeds", "20", "--out", str(out),
                 "--no-progress"])
    assert code in (0, 3)
    j = json.loads((out / "verdicts.json").read_text())
    assert j["provenance"]["theorycheck_version"] and j["provenance"]["device"] == "cpu"
    assert {r["method"] for r in j["rows"]} <= {"asymptotic", "exact-bounded", "pathwise"}
    assert all(r["n_seeds"] in (10, 20) for r in j["rows"])
    header = (out / "verdicts.csv").read_text().splitlines()[0].split(",")
    assert header[-5:] == ["theorycheck_version", "git_commit", "torch_version", "device", "dtype"]
    assert "method" in header and "note" in header


def test_bad_batch_is_exit_2(tmp_path, capsys):
    assert main(["check", "ls_thm1a", "--until-decided", "--batch", "1", "--out", str(tmp_path)]) == 2
    assert "--batch" in capsys.readouterr().err
    assert not (tmp_path / "verdicts.csv").exists()


def test_anytime_verdicts_negative_control():
    x = np.random.default_rng(0).random(200)  # mean 0.5
    looks = [50, 100, 150, 200]
    assert Q.anytime_test(x, 0.8, 200, looks, err_range=(0.0, 1.0)).verdict == "holds"
    assert Q.anytime_test(x, 0.2, 200, looks, err_range=(0.0, 1.0)).verdict == "violated"
    assert Q.anytime_test(x, 0.8, 200, looks).verdict == "holds"
    assert Q.anytime_test(x, 0.2, 200, looks).verdict == "violated"
    lo, hi = Q.asymptotic_cs_limits(x, 0.05, 200, looks)
    assert lo < 0.5 < hi
