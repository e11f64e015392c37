"""Issue 13, items 7-12: exit codes distinguish a crash from a verdict, everything is validated before computing,
empty grids and path-like names are refused, minibatch runs are labelled, the terminal report tells the whole story.
Item 13 (figures from saved results only) is in tests/test_cli_figures.py."""
import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest

import theorycheck.experiment as experiment
from theorycheck import errors, report
from theorycheck.check import COLUMNS, finalize
from theorycheck.cli import build_parser, first_sentence, main
from theorycheck.oracles import Oracle
from theorycheck.spec import SpecError, load_spec, parse_spec
import pandas as pd

SPEC = """
theorem = "{theorem}"
{extra_top}
[problem]
family = "least_squares"
params = {{ n = 4, seed = 0 }}
[noise]
model = "{noise}"
{noise_extra}
[algorithm]
name = "{alg}"
m = {m}
[schedule]
kind = "{kind}"
[run]
K = 8
seeds = 4
{run_extra}
{check}
"""


def spec_file(tmp_path, name="tiny", theorem="thm1a", noise="sphere", noise_extra="sigma = [0.1]", alg="am1",
              m="[1, 2]", kind="theorem1", run_extra="", extra_top="", check=""):
    p = tmp_path / f"{name}.toml"
    p.write_text(SPEC.format(theorem=theorem, noise=noise, noise_extra=noise_extra, alg=alg, m=m, kind=kind,
                             run_extra=run_extra, extra_top=extra_top, check=check))
    return p


def files_under(d: Path) -> list:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


@pytest.fixture
def no_run(monkeypatch):
    """Fails the test if any configuration is computed."""
    calls = []

    def boom(*a, **k):
        calls.append(a)
        raise AssertionError("a configuration was run although the input is invalid")

    monkeypatch.setattr(experiment, "run_config", boom)
    return calls


@pytest.fixture
def crash_dir(tmp_path, monkeypatch):
    d = tmp_path / "crashes"
    monkeypatch.setenv("THEORYCHECK_CRASH_DIR", str(d))
    return d


# --- item 7: a crash has its own exit code, one line, the traceback in a file, no partial output -------------------
@pytest.mark.parametrize("exc", [MemoryError("cannot allocate 80 GB for 10**9 seeds"), ValueError("a bug"),
                                 RuntimeError("CUDA out of memory")])
def test_crash_exits_5_with_one_line_and_saved_traceback(tmp_path, monkeypatch, capsys, crash_dir, exc):
    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(experiment, "run_config", boom)
    out = tmp_path / "o"
    code = main(["check", str(spec_file(tmp_path)), "--out", str(out), "--no-progress"])
    assert code == errors.EXIT_INTERNAL == 5 and code != 1  # 1 means "violated", 2 "bad input"
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("theorycheck:")]
    assert len(err) == 1 and type(exc).__name__ in err[0] and "internal error" in err[0]
    saved = list(crash_dir.glob("theorycheck-crash-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in err[0]
    text = saved[0].read_text()
    assert "Traceback" in text and type(exc).__name__ in text and "boom" in text
    assert not (out / "verdicts.csv").exists() and not (out / "results.csv").exists()


def test_crash_after_the_runs_writes_no_verdicts(tmp_path, monkeypatch, crash_dir):
    """A crash while the report is produced leaves no verdicts.csv / results.csv (they are written last, together);
    the finished raw configurations stay, as reusable caches."""
    def boom(*a, **k):
        raise KeyError("report bug")

    monkeypatch.setattr(report, "format_verdicts", boom)
    out = tmp_path / "o"
    assert main(["check", str(spec_file(tmp_path)), "--out", str(out), "--no-progress"]) == 5
    left = files_under(out)
    assert "verdicts.csv" not in left and "results.csv" not in left
    assert not [f for f in left if ".tmp" in f]
    assert any(f.startswith("raw/tiny/") and f.endswith(".parquet") for f in left)


def test_crash_message_is_one_line():
    e = RuntimeError("first line\nsecond line")
    m = errors.crash_message(e, Path("/x/y.txt"))
    assert "\n" not in m and "first line" in m and "/x/y.txt" in m and "second" not in m


# --- item 8: validate everything before computing -------------------------------------------------------------------
def test_out_is_an_existing_file(tmp_path, capsys, no_run):
    f = tmp_path / "taken"
    f.write_text("keep me")
    assert main(["check", str(spec_file(tmp_path)), "--out", str(f), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "existing file" in err and "allowed" in err
    assert f.read_text() == "keep me" and not no_run


def test_out_below_a_file(tmp_path, capsys, no_run):
    f = tmp_path / "taken"
    f.write_text("x")
    assert main(["run", str(spec_file(tmp_path)), "--out", str(f / "sub"), "--no-progress"]) == 2
    assert "--out" in capsys.readouterr().err and not no_run


def test_out_unwritable_folder(tmp_path, capsys, no_run):
    target = Path("/proc/theorycheck-test-out")  # not writable even for root
    if not Path("/proc").is_dir():
        pytest.skip("no /proc")
    assert main(["check", str(spec_file(tmp_path)), "--out", str(target), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "not writable" in err and not no_run


def test_output_name_of_wrong_kind(tmp_path, capsys, no_run):
    out = tmp_path / "o"
    (out / "verdicts.csv").mkdir(parents=True)
    assert main(["check", str(spec_file(tmp_path)), "--out", str(out), "--no-progress"]) == 2
    assert "verdicts.csv" in capsys.readouterr().err and not no_run


def test_missing_svmlight_file_in_second_spec_runs_nothing(tmp_path, capsys, no_run):
    good = spec_file(tmp_path, name="good")
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('family = "least_squares"\nparams = { n = 4, seed = 0 }',
                                            f'family = "svmlight"\nfile = "{tmp_path / "absent.svm"}"'))
    out = tmp_path / "o"
    assert main(["check", str(good), str(bad), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "problem.file" in err and "absent.svm" in err
    assert not out.exists() and not no_run


def test_missing_a9a_in_second_spec_runs_nothing(tmp_path, monkeypatch, capsys, no_run):
    monkeypatch.setenv("THEORYCHECK_DATA", str(tmp_path / "empty"))
    good = spec_file(tmp_path, name="good")
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('family = "least_squares"\nparams = { n = 4, seed = 0 }',
                                            'family = "a9a"'))
    out = tmp_path / "o"
    assert main(["check", str(good), str(bad), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "a9a" in err and "theorycheck data fetch a9a" in err
    assert not out.exists() and not no_run


def test_checkpoints_not_multiples_of_m_run_nothing(tmp_path, capsys, no_run):
    p = spec_file(tmp_path, m="[1, 2]", run_extra="checkpoints = [3, 8]")
    out = tmp_path / "o"
    assert main(["check", str(p), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "run.checkpoints" in err and "[3]" in err and "multiples of 2" in err
    assert not out.exists() and not no_run  # m = 1 (valid) was not run before m = 2 was found invalid


def test_bad_problem_params_found_before_running(tmp_path, capsys, no_run):
    p = spec_file(tmp_path, name="good")
    bad = tmp_path / "bad.toml"
    bad.write_text(p.read_text().replace("n = 4, seed = 0", "n = 4, seed = 0, bogus = 1"))
    out = tmp_path / "o"
    assert main(["check", str(p), str(bad), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "problem.params" in err and not out.exists() and not no_run
    assert "'bogus'" in err and "allowed: [" in err and "'seed'" in err  # names the bad key and the allowed ones


# --- item 9: empty grids are spec errors; no verdict is not success -------------------------------------------------
@pytest.mark.parametrize("kw, field", [({"noise_extra": "sigma = []"}, "noise.sigma"),
                                       ({"m": "[]"}, "algorithm.m"),
                                       ({"run_extra": "checkpoints = [0]"}, "run.checkpoints"),
                                       ({"run_extra": "checkpoints = []"}, "run.checkpoints"),
                                       ({"noise": "minibatch", "noise_extra": "batch = []"}, "noise.batch")])
def test_empty_grid_is_a_spec_error(tmp_path, capsys, no_run, kw, field):
    p = spec_file(tmp_path, **kw)
    out = tmp_path / "o"
    assert main(["check", str(p), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"[{field}]" in err and not out.exists() and not no_run


def test_thm1b_empty_lambda_and_missing_K_checkpoint(tmp_path):
    base = dict(theorem="thm1b", kind="theorem1")
    with pytest.raises(SpecError, match=r"\[check.Lambda\]"):
        load_spec(spec_file(tmp_path, check="[check]\nLambda = []", **base))
    with pytest.raises(SpecError, match=r"\[run.checkpoints\].*K=8"):
        load_spec(spec_file(tmp_path, run_extra="checkpoints = [4]", **base))


def test_no_verdict_exits_3_and_says_why(tmp_path, capsys):
    p = spec_file(tmp_path, theorem="none", kind="constant", alg="msgd", m="1")
    p.write_text(p.read_text().replace('kind = "constant"', 'kind = "constant"\neta = 0.1\nbeta = 0.5'))
    out = tmp_path / "o"
    assert main(["check", str(p), "--out", str(out), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "no verdict" in err and "theorem = 'none'" in err


def test_exit_code_of_an_empty_verdict_table():
    from theorycheck.check import exit_code

    assert exit_code(finalize([], 0.05)) == 3


# --- item 10: spec names are plain identifiers; outputs stay inside --out -------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".hidden", "x\\y", "a..b", "", "-x", "sp ace"])
def test_path_like_names_are_refused(tmp_path, capsys, no_run, name):
    p = spec_file(tmp_path, extra_top=f"name = {name!r}".replace("'", '"'))
    out = tmp_path / "deep" / "o"
    assert main(["check", str(p), "--out", str(out), "--no-progress"]) == 2
    assert "[name]" in capsys.readouterr().err
    assert files_under(tmp_path) == ["tiny.toml"] and not no_run


@pytest.mark.parametrize("name", ["ls_thm1a", "fig14_a9a_am1", "v1.2-run", "A_b"])
def test_plain_names_are_accepted(tmp_path, name):
    assert load_spec(spec_file(tmp_path, extra_top=f'name = "{name}"')).name == name


# --- item 11: minibatch runs are labelled with B and the σ the oracle satisfies ------------------------------------
def test_minibatch_rows_show_batch_and_true_sigma(tmp_path, capsys):
    p = spec_file(tmp_path, noise="minibatch", noise_extra="batch = [1, 10]", m="[1]")
    out = tmp_path / "o"
    assert main(["check", str(p), "--out", str(out), "--no-progress"]) in (0, 3)
    stdout = capsys.readouterr().out
    with open(out / "verdicts.csv") as f:
        rows = list(csv.DictReader(f))
    assert "batch" in COLUMNS and "batch" in rows[0]
    spec = load_spec(p)
    problem = experiment.build_problem(spec)
    want = {B: Oracle(problem, batch=B).sigma for B in (1, 10)}
    assert want[1] > want[10] > 0
    got = {(int(r["batch"]), float(r["sigma"])) for r in rows}
    assert got == {(1, want[1]), (10, want[10])}
    header = stdout.splitlines()[0]
    assert "batch" in header.split()
    assert any(ln.split()[4] == "10" for ln in stdout.splitlines()[2:] if ln.startswith("tiny"))


def test_additive_noise_rows_have_batch_0(tmp_path):
    out = tmp_path / "o"
    main(["check", str(spec_file(tmp_path)), "--out", str(out), "--no-progress"])
    with open(out / "verdicts.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["batch"] for r in rows} == {"0"} and {float(r["sigma"]) for r in rows} == {0.1}


# --- item 12: the terminal report tells the whole story -------------------------------------------------------------
def _row(k, verdict, **kw):
    r = {"spec": "s", "theorem": "thm1a", "algorithm": "am1", "option": "II", "m": 2, "sigma": 0.1, "K": 8,
         "checkpoint": k, "n_seeds": 30, "statistic": "mean", "value": 1.0, "ci_low": 0.8, "ci_high": 1.3,
         "bound": 1.2, "ratio": 1.2, "correction": "holm", "verdict": verdict, "bound_form": "comparator",
         "comparator": "x_star", "p_holds": 0.2, "p_violated": 0.4, "seeds_needed": 640, "n_diverged": 0,
         "assumptions": "ok", "batch": 0, "vacuity_level": float("nan"), "threshold": float("nan"),
         "method": "asymptotic", "note": ""}
    r.update(kw)
    return r


def test_report_lists_every_non_holding_verdict_with_its_reason():
    rows = [_row(2, "inconclusive"), _row(4, "violated", ci_low=1.25, n_diverged=3),
            _row(8, "holds", ci_high=1.1),
            _row(8, "assumptions-failed", statistic="P(error>K0+K1(Lambda=2))", bound_form="theorem",
                 assumptions="light-tail condition fails for noise 'student_t'")]
    t = pd.DataFrame({c: np.array([r[c] for r in rows], dtype=object) for c in COLUMNS})
    text = report.format_verdicts(t)
    assert "k=2/8" in text and "inconclusive" in text and "about 640 seeds" in text and "[0.8, 1.3]" in text
    assert "k=4/8" in text and "lower limit 1.25 > bound 1.2" in text and "3 of 30 seeds diverged" in text
    assert "not tested: light-tail condition fails" in text
    assert "k=8/8 mean" not in text  # holds: in the table, not in the list of reasons
    for word in ("legend", "opt", "form", "ratio", "comparator", "sigma", "batch"):
        assert word in text


def test_report_reasons_from_a_real_check(tmp_path, capsys):
    """Theorem 1(b) with heavy-tailed noise: assumptions-failed, and the reason is on the terminal."""
    p = spec_file(tmp_path, theorem="thm1b", noise="student_t", noise_extra="sigma = [0.1]", m="[1]",
                  check="[check]\nLambda = [2.0]")
    p.write_text(p.read_text().replace('family = "least_squares"\nparams = { n = 4, seed = 0 }',
                                       'family = "compact"\nparams = { n = 4, seed = 0 }'))
    code = main(["check", str(p), "--out", str(tmp_path / "o"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 3
    assert "assumptions-failed: not tested:" in out and "light-tail" in out


def test_help_is_complete():
    text = build_parser().format_help()
    assert "Thin: parse" not in text and not text.rstrip().endswith(",")
    desc = build_parser().description
    assert desc.endswith(".") and "verdict" in desc
    for code in ("0", "1", "2", "3", "5"):
        assert f"\n  {code}  " in text or f"\n{code}  " in text


def test_list_descriptions_are_whole_sentences(capsys):
    from theorycheck.algorithms import ALGORITHMS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    algos = out.split("\nalgorithms:\n", 1)[1]  # names may repeat in other sections (theorem 'mdsa', algorithm 'mdsa')
    for name, cls in ALGORITHMS.items():
        line = next(ln for ln in algos.splitlines() if ln.startswith(f"  {name} "))
        desc = first_sentence(cls.__doc__)
        assert line.rstrip().endswith(desc) and desc.endswith((".", ")"))
        assert desc.count("(") == desc.count(")")


def test_first_sentence():
    assert first_sentence("Mirror SA (Nemirovski et al. 2009): z = 1,\n  beta ignored. More.") == \
        "Mirror SA (Nemirovski et al. 2009): z = 1, beta ignored."
    assert first_sentence("Form (6), i.e. Torch form. Second.") == "Form (6), i.e. Torch form."


def test_report_shows_the_last_checkpoint_and_says_when_K_is_not_tested():
    """run.checkpoints without K (found by a fresh-user trial: the table came out empty and nothing warned)."""
    rows = [_row(2, "holds", ci_high=1.1), _row(4, "holds", ci_high=1.05)]
    t = pd.DataFrame({c: np.array([r[c] for r in rows], dtype=object) for c in COLUMNS})
    text = report.format_verdicts(t)
    table = text.split("\n\n")[0].splitlines()[2:]
    assert len([ln for ln in table if ln.startswith("s ")]) == 1 and "1.05]" in text  # k = 4 is shown
    assert "not tested in s (K = 8)" in text
    full = [_row(4, "holds"), _row(8, "holds", ci_high=1.05)]
    t = pd.DataFrame({c: np.array([r[c] for r in full], dtype=object) for c in COLUMNS})
    assert "after K steps is not tested" not in report.format_verdicts(t)
