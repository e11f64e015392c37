"""Executors (theorycheck/executors.py): every executor gives the bytes of an in-process run, finished chunks are
saved and reused one by one, a killed Dask worker loses and duplicates nothing, and bad options exit 2 before
anything is written."""
import os
import signal
import sys
import time

import numpy as np
import pytest

from theorycheck import cli, executors as ex
from theorycheck.experiment import run_config, run_or_load
from theorycheck.spec import parse_spec

SPEC = {"theorem": "thm1b", "name": "tiny_thm1b",
        "problem": {"family": "compact", "params": {"n": 8, "kind": "ball", "seed": 0}},
        "noise": {"model": "sphere", "sigma": [0.5]}, "algorithm": {"name": "am1", "m": [1, 5], "options": ["II"]},
        "schedule": {"kind": "theorem1"}, "run": {"K": 40, "seeds": 10, "seed0": 3}, "check": {"Lambda": [2.0]}}


def spec(**run):
    return parse_spec({**SPEC, "run": {**SPEC["run"], **run}}, "<test>")


def items(s):
    return [(s, c) for c in s.configs()]


def assert_tables_equal(a, b):
    assert list(a.columns) == list(b.columns)
    for n in a.columns:
        assert np.array_equal(a[n].to_numpy(), b[n].to_numpy()), n


class Counting(ex.InProcess):
    """In-process executor that records the units it runs and can stop (like Ctrl-C) after `stop_after`."""

    def __init__(self, stop_after=None):
        self.ran, self.stop_after = [], stop_after

    def map(self, units, on_result, fn=ex.run_unit):
        for u in units:
            if self.stop_after is not None and len(self.ran) == self.stop_after:
                raise KeyboardInterrupt
            self.ran.append((u.cfg.key, u.start, u.stop))
            on_result(u, fn(u))


def test_chunks_cover_seeds_in_order():
    assert ex.chunks(3, 10, 4) == [(3, 7), (7, 11), (11, 13)]
    assert ex.chunks(0, 3, 128) == [(0, 3)]


def test_chunked_run_matches_single_batch_run(tmp_path):
    """Merged chunks have the single-run table's rows, order and columns; errors agree to rounding."""
    s = spec()
    chunked = ex.run_sweep(items(s), tmp_path / "a", chunk_seeds=4)
    for (sp_, cfg), t in zip(items(s), chunked):
        whole = run_config(sp_, cfg)
        assert list(t.columns) == list(whole.columns)
        for n in t.columns:
            if n == "error":
                np.testing.assert_allclose(t[n], whole[n], rtol=1e-13, atol=0)
            else:
                assert np.array_equal(t[n].to_numpy(), whole[n].to_numpy()), n
    # what run_or_load reads back is what the sweep saved
    t2 = run_or_load(s, s.configs()[0], tmp_path / "a")
    assert_tables_equal(t2, chunked[0])


def test_processes_are_bit_identical_to_in_process(tmp_path):
    s = spec()
    a = ex.run_sweep(items(s), tmp_path / "a", chunk_seeds=4)
    with ex.Processes(2) as pool:
        b = ex.run_sweep(items(s), tmp_path / "b", chunk_seeds=4, executor=pool)
    auto = ex.Auto(cores=2, after_s=0.0, min_remaining_s=0.0)  # switches to processes after the first unit
    c = ex.run_sweep(items(s), tmp_path / "c", chunk_seeds=4, executor=auto)
    for x, y, z in zip(a, b, c):
        assert_tables_equal(x, y)
        assert_tables_equal(x, z)
    assert (tmp_path / "a/raw/tiny_thm1b/sigma=0.5_m=5.parquet").read_bytes() == \
        (tmp_path / "b/raw/tiny_thm1b/sigma=0.5_m=5.parquet").read_bytes()


def test_interrupted_sweep_resumes_chunk_by_chunk(tmp_path):
    s = spec()
    first = Counting(stop_after=4)  # 2 configurations x 3 chunks: stop after 4 chunks
    with pytest.raises(KeyboardInterrupt):
        ex.run_sweep(items(s), tmp_path, chunk_seeds=4, executor=first)
    saved = sorted(p.name for p in (tmp_path / "raw/tiny_thm1b").rglob("*.json"))
    assert len(saved) == 4 + 1  # four chunks, and the first configuration merged (all three of its chunks done)
    second = Counting()
    resumed = ex.run_sweep(items(s), tmp_path, chunk_seeds=4, executor=second)
    assert second.ran == [("sigma=0.5_m=5", 7, 11), ("sigma=0.5_m=5", 11, 13)]  # only the missing chunks
    fresh = ex.run_sweep(items(s), tmp_path / "fresh", chunk_seeds=4)
    for x, y in zip(resumed, fresh):
        assert_tables_equal(x, y)
    third = Counting()
    ex.run_sweep(items(s), tmp_path, chunk_seeds=4, executor=third)
    assert third.ran == []  # merged files are fresh: nothing runs
    # a different seed count changes the fingerprints of the merged file but reuses identical chunks
    fourth = Counting()
    ex.run_sweep(items(s), tmp_path, n_seeds=12, chunk_seeds=4, executor=fourth)
    assert sorted(r[1:] for r in fourth.ran) == [(11, 15), (11, 15)]


# --- bad input: exit 2, message names the option and the fix, nothing written ---------------------------------
def _cli(tmp_path, *extra):
    out = tmp_path / "out"
    code = cli.main(["check", "compact_thm1b", "--seeds", "4", "--out", str(out), "--no-progress", *extra])
    return code, out


@pytest.mark.parametrize("extra, needle", [
    (["--workers", "0"], "--workers must be an integer >= 1"),
    (["--dask-local", "0"], "--dask-local must be an integer >= 1"),
    (["--chunk-seeds", "0"], "--chunk-seeds must be an integer >= 1"),
    (["--workers", "2", "--dask-local", "2"], "choose one of"),
])
def test_bad_executor_options_exit_2(tmp_path, capsys, extra, needle):
    code, out = _cli(tmp_path, *extra)
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_missing_dask_exits_2_with_install_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    code, out = _cli(tmp_path, "--dask-local", "2")
    err = capsys.readouterr().err
    assert code == 2 and "--dask-local" in err and "pip install 'theorycheck[dask]'" in err
    assert not out.exists()


def test_unreachable_scheduler_exits_2(tmp_path, capsys):
    pytest.importorskip("distributed")
    code, out = _cli(tmp_path, "--dask-scheduler", "tcp://127.0.0.1:9", "--workers", "1")
    assert code == 2  # two executors chosen
    code, out = _cli(tmp_path, "--dask-scheduler", "tcp://127.0.0.1:9")
    err = capsys.readouterr().err
    assert code == 2 and "--dask-scheduler: cannot reach" in err and "Fix:" in err
    assert not out.exists()


# --- Dask ------------------------------------------------------------------------------------------------------
def _slow_unit(unit, threads=None):
    time.sleep(1.5)  # long enough to kill the worker while it holds the unit
    return ex.run_unit(unit, threads)


@pytest.mark.slow
def test_dask_killed_worker_loses_and_duplicates_nothing(tmp_path):
    pytest.importorskip("distributed")
    s = spec()
    ref = ex.run_sweep(items(s), tmp_path / "ref", chunk_seeds=4)
    got = []
    with ex.DaskExecutor(local=2) as d:
        client = d.client
        pids = client.run(os.getpid)
        units = []

        def record(u, t):
            got.append((u.cfg.key, u.start))
            units.append(u)

        orig_map = d.map

        def map_and_kill(us, on_result, fn=ex.run_unit):
            import threading

            def killer():  # SIGKILL the worker that holds a task, while it holds it
                for _ in range(200):
                    busy = [w for w, tasks in client.processing().items() if tasks]
                    if busy:
                        os.kill(pids[busy[0]], signal.SIGKILL)
                        return
                    time.sleep(0.05)

            threading.Thread(target=killer, daemon=True).start()
            return orig_map(us, lambda u, t: (record(u, t), on_result(u, t)), fn=_slow_unit)

        d.map = map_and_kill
        res = ex.run_sweep(items(s), tmp_path / "dask", chunk_seeds=4, executor=d)
        assert set(client.run(os.getpid).values()) != set(pids.values())  # a worker was really replaced
    assert sorted(got) == sorted(set(got)) and len(got) == 6  # every chunk once
    for x, y in zip(res, ref):
        assert_tables_equal(x, y)


def _dying_unit(unit, threads=None):
    os._exit(1)


@pytest.mark.slow
def test_dask_worker_dying_repeatedly_is_an_error(tmp_path):
    pytest.importorskip("distributed")
    s = spec()
    with ex.DaskExecutor(local=1) as d:
        d.map = lambda us, on_result, fn=None, _m=d.map: _m(us, on_result, fn=_dying_unit)
        with pytest.raises(ex.ExecutorError, match="--dask-local: Dask workers died repeatedly"):
            ex.run_sweep(items(s)[:1], tmp_path, chunk_seeds=10, executor=d)
    assert not list(tmp_path.rglob("*.parquet"))


def test_scaling_doc_commands_parse():
    from pathlib import Path
    import shlex

    doc = Path(__file__).resolve().parents[1] / "docs" / "scaling.md"
    lines = [ln.split("#")[0].strip() for ln in doc.read_text().splitlines() if ln.startswith("theorycheck ")]
    assert len(lines) >= 2
    for ln in lines:
        cli.build_parser().parse_args(shlex.split(ln)[1:])
