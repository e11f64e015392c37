"""theorycheck in a user's own test suite: theorycheck.testing and the pytest plugin (entry point pytest11).

The acceptance test builds a temporary project with check_*.toml spec files and a test_*.py using assert_holds,
runs pytest on it in a subprocess and checks the pass / fail / skip / error counts: a true bound passes, the bound
scaled by 0.01 fails (the negative control), a bound set at 1.5× the observed mean with 3 seeds is inconclusive,
a bad spec and a crashing configuration are errors.
"""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from theorycheck.spec import SpecError
from theorycheck.testing import (TheoremCheckFailed, assert_holds, check_spec, format_report, load, outcome,
                                 parametrize_with_theorems, records)

ROOT = Path(__file__).resolve().parents[1]


def spec_toml(sigma="[0.1]", m="[1, 10]", K=100, seeds=20, checkpoints="[100]", check="", extra_run=""):
    """A small least-squares Theorem 1(a) spec (about a second per configuration)."""
    return textwrap.dedent(f"""\
        theorem = "thm1a"
        [problem]
        family = "least_squares"
        params = {{ n = 10, seed = 0 }}
        [noise]
        model = "sphere"
        sigma = {sigma}
        [algorithm]
        name = "am1"
        m = {m}
        options = ["II"]
        [schedule]
        kind = "theorem1"
        [run]
        K = {K}
        seeds = {seeds}
        checkpoints = {checkpoints}
        {extra_run}
        [check]
        form = "comparator"
        {check}
        """)


# σ = 0: every seed gives the same error, so the upper limit with 3 seeds is about 2.6× the mean (Maurer's bound)
# and a bound at 1.5× the mean can be neither confirmed nor refuted: inconclusive, deterministically.
INCONCLUSIVE = dict(sigma="[0.0]", m="[1]", seeds=3)


def _ratio_at_sigma0(tmp_path):
    import tomllib

    from theorycheck.spec import parse_spec

    t = check_spec(parse_spec(tomllib.loads(spec_toml(**INCONCLUSIVE)), "x", "probe"))
    return float(records(t)[0]["ratio"])


def counts(stdout: str) -> dict:
    last = [ln for ln in stdout.splitlines() if re.search(r"\d+ (passed|failed|skipped|error|xfailed)", ln)][-1]
    return {k.rstrip("s") if k.startswith("error") else k: int(n)
            for n, k in re.findall(r"(\d+) (passed|failed|skipped|xfailed|errors?)", last)}


def run_pytest(project: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=project,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = tmp_path_factory.mktemp("userproject")
    scale = 1.5 / _ratio_at_sigma0(d)
    (d / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    t = d / "tests"
    t.mkdir()
    (t / "check_true.toml").write_text(spec_toml())
    (t / "check_scaled.toml").write_text(spec_toml(check="bound_scale = 0.01"))
    (t / "check_inconclusive.toml").write_text(spec_toml(**INCONCLUSIVE, check=f"bound_scale = {scale!r}"))
    (t / "other.toml").write_text("not a spec: only check_*.toml files are collected\n")
    (t / "test_user.py").write_text(textwrap.dedent("""\
        from pathlib import Path
        from theorycheck.testing import assert_holds

        HERE = Path(__file__).parent

        def test_true_bound_holds():
            assert_holds(HERE / "check_true.toml", seeds=20)

        def test_scaled_bound_is_caught():
            assert_holds(HERE / "check_scaled.toml")

        def test_inconclusive_is_skipped():
            assert_holds(HERE / "check_inconclusive.toml", inconclusive="skip")
        """))
    bad = d / "bad"
    bad.mkdir()
    (bad / "check_bad.toml").write_text(spec_toml().replace('kind = "theorem1"', 'kind = "theorem9"'))
    # m = 10 needs checkpoints that are multiples of 10: the run raises (a crash, not a failed bound)
    (bad / "check_crash.toml").write_text(spec_toml(m="[10]", checkpoints="[5, 100]"))
    return d


def test_plugin_counts_pass_fail_skip(project):
    r = run_pytest(project)
    c = counts(r.stdout)
    # items: check_true 2 pass, check_scaled 2 fail, check_inconclusive 1 skip; test_user.py: 1 pass, 1 fail, 1 skip
    assert c == {"passed": 3, "failed": 3, "skipped": 2}, r.stdout[-3000:]
    assert r.returncode == 1
    out = r.stdout
    assert "check_scaled.toml::thm1a[sigma=0.1,m=10]" in out  # ids name spec, theorem and configuration
    assert "violated" in out and "bound" in out and "ratio" in out and "seeds needed" in out  # the readable report
    assert "Holm family: the spec file" in out
    # results are saved where `theorycheck figures` reads them, and a verdict table per spec file
    assert (project / "results" / "raw" / "check_true" / "sigma=0.1_m=10.parquet").is_file()
    assert (project / "results" / "verdicts_check_scaled.csv").is_file()


def test_plugin_inconclusive_policies_and_k(project):
    spec = "tests/check_inconclusive.toml"
    c = counts(run_pytest(project, spec, "--theorycheck-inconclusive=xfail").stdout)
    assert c == {"xfailed": 1}
    r = run_pytest(project, spec, "--theorycheck-inconclusive=fail")
    assert counts(r.stdout) == {"failed": 1} and "inconclusive" in r.stdout
    r = run_pytest(project, "tests/check_true.toml", "-k", "thm1a and 10", "--theorycheck-seeds", "10",
                   "--theorycheck-out", "elsewhere")
    assert counts(r.stdout) == {"passed": 1}, r.stdout
    assert (project / "elsewhere" / "verdicts_check_true.csv").is_file()


def _collected(r) -> list:
    return [ln for ln in r.stdout.splitlines() if "::" in ln]


def test_selecting_one_configuration(project):
    """pytest's -k grammar rejects '=' and ',' (usage error, exit 4), so an id's configuration is selected by its
    numbers (case-insensitive substrings; ']' anchors the last one), or exactly by the node id (docs/testing.md)."""
    want = ["tests/check_true.toml::thm1a[sigma=0.1,m=10]"]
    r = run_pytest(project, "--co", "-k", "thm1a[sigma=0.1,m=10]")
    assert r.returncode == 4 and "Wrong expression passed to '-k'" in r.stdout + r.stderr, r.stdout + r.stderr
    assert _collected(run_pytest(project, "--co", "tests/check_true.toml", "-k", "thm1a and 0.1 and 10]")) == want
    assert _collected(run_pytest(project, "--co", "tests/check_true.toml", "-k", "0.1 and not 10]")) == \
        ["tests/check_true.toml::thm1a[sigma=0.1,m=1]"]
    assert _collected(run_pytest(project, "--co", want[0])) == want  # the node id itself: exact


def test_plugin_bad_spec_and_crash_are_errors(project):
    r = run_pytest(project, "bad/check_bad.toml")
    c = counts(r.stdout)
    assert c == {"error": 1}, r.stdout[-3000:]  # a collection error, not a failure
    assert "invalid theorycheck spec" in r.stdout and "schedule.kind" in r.stdout  # the message names the field
    r = run_pytest(project, "bad/check_crash.toml")
    c = counts(r.stdout)
    assert c == {"error": 1}, r.stdout[-3000:]  # the configuration crashed in setup: an error, not a failure
    assert "multiples of 10" in r.stdout


def _collect(cwd, *args):
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                       capture_output=True, text=True, cwd=cwd, timeout=300)
    return [ln for ln in r.stdout.splitlines() if "::" in ln], r


def test_explicit_spec_path_is_collected_and_repo_is_not(tmp_path):
    # `pytest path/to/spec.toml` collects any spec file, one item per (configuration, theorem)
    ids, r = _collect(tmp_path, str(ROOT / "problems" / "ls_thm1a.toml"))
    assert len(ids) == 6, r.stdout  # 3 sigmas x 2 m
    assert any(i.endswith("ls_thm1a.toml::thm1a[sigma=0.1,m=10]") for i in ids)
    # a folder of specs not named check_*.toml is not collected (this repository's problems/ and tests/)
    ids, r = _collect(tmp_path, str(ROOT / "problems"))
    assert ids == [] and "error" not in r.stdout.lower(), r.stdout


# --- the Python API -----------------------------------------------------------------------------------------------
def test_check_spec_accepts_dict_path_and_spec(tmp_path):
    import tomllib

    p = tmp_path / "s.toml"
    p.write_text(spec_toml(m="[10]"))
    t = check_spec(p, out=tmp_path / "out")
    rows = records(t)
    assert [r["verdict"] for r in rows] == ["holds"] and (tmp_path / "out" / "verdicts.csv").is_file()
    t2 = check_spec(tomllib.loads(spec_toml(m="[10]")))  # a dict: same numbers
    assert records(t2)[0]["value"] == rows[0]["value"]
    assert records(check_spec(load(p)))[0]["bound"] == rows[0]["bound"]
    assert assert_holds(t) is t  # a verdict table is accepted as is


def test_assert_holds_report_names_the_numbers(tmp_path):
    p = tmp_path / "scaled.toml"
    p.write_text(spec_toml(m="[10]", check="bound_scale = 0.01"))
    with pytest.raises(AssertionError) as e:
        assert_holds(p)
    msg = str(e.value)
    assert isinstance(e.value, TheoremCheckFailed) and e.value.rows[0]["verdict"] == "violated"
    for word in ("statistic", "lower", "upper", "bound", "ratio", "seeds needed", "violated", "sigma=0.1,m=10"):
        assert word in msg


def test_bad_input_is_refused():
    with pytest.raises(SpecError, match="run.K"):
        check_spec({"theorem": "thm1a", "problem": {"family": "least_squares"}, "noise": {"model": "none"},
                    "algorithm": {"name": "am1"}, "schedule": {"kind": "theorem1"}, "run": {"K": 0}})
    with pytest.raises(ValueError, match="seeds"):
        check_spec("ls_thm1a", seeds=1)
    with pytest.raises(TypeError, match="objects as keyword arguments"):
        check_spec(object())
    with pytest.raises(ValueError, match="inconclusive"):
        assert_holds([], inconclusive="maybe")


def test_outcome_and_report():
    rows = [{"verdict": "holds", "bound_form": "theorem"}, {"verdict": "inconclusive", "bound_form": "comparator"}]
    assert outcome(rows[:1]) == "pass" and outcome(rows) == "inconclusive"
    assert outcome(rows + [{"verdict": "violated"}]) == "fail"
    assert outcome([{"verdict": "holds", "bound_form": "theorem (vacuous)"}]) == "inconclusive"
    rep = format_report([{"spec": "s", "sigma": 0.1, "m": 10, "verdict": "violated", "method": "Hall-t"}])
    assert "method" in rep and "Hall-t" in rep and "sigma=0.1,m=10" in rep


SPEC_DIR = Path(__file__).resolve().parents[1] / "problems"


@parametrize_with_theorems([{**__import__("tomllib").loads(spec_toml(m="[1, 10]")), "name": "param_demo"}])
def test_parametrize_with_theorems(spec, check):
    check(spec)


def test_parametrize_ids():
    mark = parametrize_with_theorems([{**__import__("tomllib").loads(spec_toml()), "name": "demo"}])
    ids = [p.id for p in mark.args[1]]
    assert ids == ["demo-thm1a-sigma=0.1,m=1", "demo-thm1a-sigma=0.1,m=10"]


def _readme_python_blocks():
    import re as _re

    text = (ROOT / "README.md").read_text()
    return [b for b in _re.findall(r"```python\n(.*?)```", text, flags=_re.S) if "theorycheck.testing" in b]


def test_readme_testing_examples_run(capsys):
    blocks = _readme_python_blocks()
    assert len(blocks) == 2
    ns = {}
    exec(blocks[0], ns)  # the five-line test file: the decorator collects one test per configuration
    marks = ns["test_theorem"].pytestmark
    assert len(blocks[0].strip().splitlines()) == 5 and len(marks[0].args[1]) == 6 + 6
    exec(blocks[1], {})  # a verdict from Python
    out = capsys.readouterr().out
    assert out.count("holds") == 3 and "ratio" in out
