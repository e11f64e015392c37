"""CI outputs of `theorycheck check`: JUnit XML, --format json/csv, and regression baselines (exit 4)."""
import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from theorycheck import baseline, schedules
from theorycheck.cli import main
from theorycheck.table import read_table

from test_pytest_plugin import spec_toml


def _verdicts(out):
    with open(Path(out) / "verdicts.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_junit_xml_and_json_one_entry_per_verdict_row(tmp_path, capsys):
    xml = tmp_path / "out.xml"
    code = main(["check", "ls_thm1a", "--junit-xml", str(xml), "--format", "json", "--out", str(tmp_path / "r"),
                 "--no-progress"])
    rows = _verdicts(tmp_path / "r")
    doc = json.loads(capsys.readouterr().out)  # stdout holds the JSON only
    assert doc["exit_code"] == code and len(doc["verdicts"]) == len(rows) > 0
    root = ET.parse(xml).getroot()
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(rows)
    verdicts = [r["verdict"] for r in rows]
    assert len(root.findall("./testsuite/testcase/failure")) == verdicts.count("violated")
    assert len(root.findall("./testsuite/testcase/skipped")) == sum(v not in ("holds", "violated") for v in verdicts)
    # issue 9: a holding bound at or above the vacuity level reads "vacuous"
    assert code in (0, 3) and verdicts.count("holds") + verdicts.count("vacuous") >= len(rows) - 2


def test_junit_failure_message_has_numbers_and_csv_format(tmp_path, capsys):
    p = tmp_path / "scaled.toml"
    p.write_text(spec_toml(m="[10]", check="bound_scale = 0.01"))
    code = main(["check", str(p), "--junit-xml", str(tmp_path / "j.xml"), "--format", "csv", "--out",
                 str(tmp_path / "r"), "--no-progress"])
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["verdict"] for r in rows] == ["violated"]
    f = ET.parse(tmp_path / "j.xml").getroot().find("./testsuite/testcase/failure")
    msg = f.get("message")
    for word in ("violated", "one-sided limits", "bound", "ratio", rows[0]["n_seeds"]):
        assert word in msg


# --- regression baselines -----------------------------------------------------------------------------------------
BASE = dict(sigma="[0.1]", m="[1, 10]", K=100, seeds=20, checkpoints="[50, 100]")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("baseline")
    spec = d / "b.toml"
    spec.write_text(spec_toml(**BASE))
    code = main(["check", str(spec), "--out", str(d / "o0"), "--save-baseline", str(d / "base"), "--no-progress"])
    assert code == 0 and (d / "base" / "baseline.json").is_file()
    return d, spec


def _scale_steps(monkeypatch, factor):
    orig = schedules._TheoremSchedule._set_step

    def scaled(self, *a, **k):
        orig(self, *a, **k)
        self.eta_const *= factor

    monkeypatch.setattr(schedules._TheoremSchedule, "_set_step", scaled)


def _compare(d, spec, out, *extra):
    code = main(["check", str(spec), "--out", str(d / out), "--baseline", str(d / "base"), "--no-progress", *extra])
    reg = read_table(d / out / "regressions.csv") if (d / out / "regressions.csv").exists() else None
    return code, reg


def test_bit_identical_rerun_is_not_flagged(saved):
    d, spec = saved
    code, reg = _compare(d, spec, "same")
    assert code == 0 and len(reg) == 4 and set(reg["regression"].tolist()) == {"ok"}
    assert all(abs(c) == 0.0 for c in reg["change"])  # bit-identical errors


def test_unchanged_algorithm_is_not_flagged(saved, monkeypatch):
    d, spec = saved
    _scale_steps(monkeypatch, 1 + 1e-9)  # not bit-identical, same algorithm
    code, reg = _compare(d, spec, "perturbed")
    assert code == 0 and set(reg["regression"].tolist()) == {"ok"}
    assert any(c != 0.0 for c in reg["change"])


def test_slowed_algorithm_is_caught_while_its_bound_holds(saved, monkeypatch, capsys):
    d, spec = saved
    _scale_steps(monkeypatch, 0.9)  # step η × 0.9: slower, still within Theorem 1(a)'s conditions
    code, reg = _compare(d, spec, "slow")
    verdicts = [r["verdict"] for r in _verdicts(d / "slow")]
    assert set(verdicts) == {"holds"}  # the theorem is satisfied ...
    assert code == baseline.EXIT_REGRESSION == 4  # ... but the regression is caught
    flagged = [r for r in reg.to_dict("records") if r["regression"] == "regression"]
    assert flagged and all(r["change"] > 0.01 and r["p_holm"] <= 0.05 for r in flagged)
    assert "regressions against the baseline" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["spec", "seeds", "version", "dtype", "missing"])
def test_incompatible_baseline_is_refused(saved, case, capsys):
    d, spec = saved
    args, base = [], d / "base"
    if case == "spec":
        spec = d / "b_other" / "b.toml"  # same name, other content (K)
        spec.parent.mkdir(exist_ok=True)
        spec.write_text(spec_toml(**{**BASE, "K": 200}))
    elif case == "seeds":
        args = ["--seeds", "10"]
    elif case == "dtype":
        args = ["--dtype", "float32"]
    elif case == "version":
        base = d / "base_v"
        import shutil

        shutil.copytree(d / "base", base, dirs_exist_ok=True)
        meta = json.loads((base / "baseline.json").read_text())
        meta["theorycheck_version"] = "0.0.1"
        (base / "baseline.json").write_text(json.dumps(meta))
    elif case == "missing":
        base = d / "nowhere"
    out = d / f"refused_{case}"
    code = main(["check", str(spec), "--out", str(out), "--baseline", str(base), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2 and "--baseline" in err
    assert {"spec": "differs", "seeds": "invocation uses seeds", "version": "theorycheck 0.0.1", "dtype": "dtype",
            "missing": "no baseline.json"}[case] in err
    assert not out.exists()  # refused before anything ran or was written


def test_bad_tolerance_is_refused(saved, capsys):
    d, spec = saved
    assert main(["check", str(spec), "--out", str(d / "x"), "--baseline", str(d / "base"),
                 "--baseline-tolerance", "-0.1"]) == 2
    assert "--baseline-tolerance" in capsys.readouterr().err and not (d / "x").exists()


def test_paired_test_directions():
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, 50)
    assert baseline.paired_test(base, base, 0.01)[0] > 0.5  # identical: not worse
    assert baseline.paired_test(base * 1.2, base, 0.01)[0] < 1e-6  # 20 % worse at every seed
    assert baseline.paired_test(base * 0.8, base, 0.01)[0] > 0.5  # better
    new = base.copy()
    new[3] = np.inf
    assert baseline.paired_test(new, base, 0.01)[0] == 0.0  # diverged now, not before
