"""Progress bars (tqdm, stderr): a bar over the work units of a sweep and, in-process, each unit's bar over its K
steps; shown only on a TTY (never in CI logs or pipes) and never with --no-progress."""
import io
import sys

from theorycheck import cli, executors as ex
from theorycheck.spec import parse_spec

SPEC = {"theorem": "thm1b", "name": "tiny_progress",
        "problem": {"family": "compact", "params": {"n": 4, "kind": "ball", "seed": 0}},
        "noise": {"model": "sphere", "sigma": [0.5]}, "algorithm": {"name": "am1", "m": [1], "options": ["II"]},
        "schedule": {"kind": "theorem1"}, "run": {"K": 20, "seeds": 6}, "check": {"Lambda": [2.0]}}


class TTY(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def _sweep(tmp_path, monkeypatch, tty, **kw):
    err = TTY(tty)
    monkeypatch.setattr(sys, "stderr", err)
    s = parse_spec(SPEC, "<test>")
    ex.run_sweep([(s, c) for c in s.configs()], tmp_path, chunk_seeds=3, **kw)
    return err.getvalue()


def test_unit_and_step_bars_on_a_tty(tmp_path, monkeypatch):
    out = _sweep(tmp_path / "a", monkeypatch, True, executor=ex.InProcess(progress=None))
    assert "work units" in out and "2/2" in out  # two chunks of three seeds
    assert "step" in out and "20/20" in out  # each unit's bar over its K = 20 steps (in-process)


def test_no_bars_off_a_tty_or_when_disabled(tmp_path, monkeypatch):
    assert _sweep(tmp_path / "a", monkeypatch, False, executor=ex.InProcess(progress=None)) == ""
    assert _sweep(tmp_path / "b", monkeypatch, True, executor=ex.InProcess(progress=False), progress=False) == ""


def test_cli_shows_bars_on_a_tty_unless_no_progress(tmp_path, monkeypatch):
    p = tmp_path / "tiny_progress.toml"
    p.write_text('theorem = "thm1b"\n[problem]\nfamily = "compact"\nparams = {n = 4, kind = "ball", seed = 0}\n'
                 '[noise]\nmodel = "sphere"\nsigma = [0.5]\n[algorithm]\nname = "am1"\nm = [1]\noptions = ["II"]\n'
                 '[schedule]\nkind = "theorem1"\n[run]\nK = 20\nseeds = 6\n[check]\nLambda = [2.0]\n')
    for flag, shown in (([], True), (["--no-progress"], False)):
        err = TTY(True)
        monkeypatch.setattr(sys, "stderr", err)
        out = tmp_path / f"out{len(flag)}"
        assert cli.main(["check", str(p), "--out", str(out), "--workers", "1", "--chunk-seeds", "3", *flag]) in (0, 3)
        assert ("work units" in err.getvalue()) is shown
        assert ("20/20" in err.getvalue()) is shown
