"""Data side: data_dir resolution, checksum-verified download against a local HTTP server, svmlight parsing,
and the `data` CLI subcommands (through a local argparse harness)."""
from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import json
import os
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from theorycheck import data as D
from theorycheck.commands import data as cmd

SHARED = os.environ.get("THEORYCHECK_DATA")


def _need_data(*names):
    if not SHARED:
        pytest.skip("THEORYCHECK_DATA is not set (point it at the folder holding a9a, a9a.t)")
    missing = [n for n in names if not (Path(SHARED) / n).is_file()]
    if missing:
        pytest.skip(f"missing data files in THEORYCHECK_DATA={SHARED}: {missing}")
    return Path(SHARED)


@pytest.fixture(autouse=True, scope="module")
def _isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    shared = tmp_path_factory.getbasetemp() / "theorycheck-cert-cache"  # one cache for the test session
    shared.mkdir(exist_ok=True)
    mp.setenv("THEORYCHECK_CACHE", str(shared))
    yield
    mp.undo()


# --- a local HTTP server --------------------------------------------------------------------------

TINY = b"".join(f"{1 if i % 3 else -1} {1 + i % 5}:1 {7 + i % 4}:0.5\n".encode() for i in range(2000))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `directory`; /truncated/NAME announces the full length but sends half the body;
    /corrupt/NAME sends the file with one byte changed (correct length)."""

    hits: list = []

    def log_message(self, *a):  # keep test output clean
        pass

    def do_GET(self):
        type(self).hits.append(self.path)
        for prefix in ("/truncated/", "/corrupt/"):
            if self.path.startswith(prefix):
                body = (Path(self.directory) / self.path[len(prefix):]).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if prefix == "/truncated/":
                    self.wfile.write(body[: len(body) // 2])
                else:
                    self.wfile.write(body[:-2] + bytes([body[-2] ^ 1]) + body[-1:])
                self.wfile.flush()
                self.close_connection = True
                return
        return super().do_GET()


@pytest.fixture
def server(tmp_path, monkeypatch):
    root = tmp_path / "srv"
    root.mkdir()
    (root / "tiny").write_bytes(TINY)
    monkeypatch.setitem(D.DATASETS, "tiny", D.Dataset("tiny", "http://127.0.0.1:9/unused/tiny",
                                                     hashlib.sha256(TINY).hexdigest(), 12, 2000, 0))
    _Handler.hits = []
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(d: Path):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_fetch_success_base_url_and_skip_when_present(server, tmp_path):
    root, base = server
    dest = tmp_path / "dest"
    p = D.fetch("tiny", dest_dir=dest, url=base + "/", progress=False)
    assert p == dest / "tiny" and p.read_bytes() == TINY
    assert _leftovers(dest) == ["tiny"]  # no temp file left
    assert _Handler.hits == ["/tiny"]
    D.fetch("tiny", dest_dir=dest, url=base + "/", progress=False)  # present with the right checksum: no request
    assert _Handler.hits == ["/tiny"]


def test_fetch_full_url_replaces_corrupt_local_copy(server, tmp_path):
    root, base = server
    (root / "elsewhere.bin").write_bytes(TINY)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "tiny").write_bytes(b"stale")
    p = D.fetch("tiny", dest_dir=dest, url=base + "/elsewhere.bin", progress=False)
    assert p.read_bytes() == TINY and _Handler.hits == ["/elsewhere.bin"]


def test_fetch_truncated_leaves_nothing(server, tmp_path):
    root, base = server
    dest = tmp_path / "dest"
    with pytest.raises(D.DataError, match=r"was truncated: got \d+"):
        D.fetch("tiny", dest_dir=dest, url=base + "/truncated/tiny", progress=False)
    assert _leftovers(dest) == []


def test_fetch_checksum_mismatch_leaves_nothing(server, tmp_path):
    root, base = server
    dest = tmp_path / "dest"
    with pytest.raises(D.DataError, match="checksum mismatch.*expected"):
        D.fetch("tiny", dest_dir=dest, url=base + "/corrupt/tiny", progress=False)
    assert _leftovers(dest) == []


def test_fetch_http_error_and_unknown_name(server, tmp_path):
    root, base = server
    dest = tmp_path / "dest"
    with pytest.raises(D.DataError, match="failed.*404"):
        D.fetch("tiny", dest_dir=dest, url=base + "/nope", progress=False)
    assert _leftovers(dest) == []
    with pytest.raises(D.DataError, match="unknown data set 'a10a'"):
        D.fetch("a10a", dest_dir=dest)


def test_progress_bar_only_on_a_tty(server, tmp_path, monkeypatch):
    root, base = server

    class TTY(io.StringIO):
        def __init__(self, tty):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty

    for tty in (True, False):
        err = TTY(tty)
        monkeypatch.setattr(sys, "stderr", err)
        D.fetch("tiny", dest_dir=tmp_path / f"d{tty}", url=base + "/tiny")
        assert ("100%" in err.getvalue()) is tty


def test_fetch_real_a9a_from_local_server(tmp_path):
    src = _need_data("a9a")
    root = tmp_path / "srv"
    root.mkdir()
    shutil.copy(src / "a9a", root / "a9a")
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        p = D.fetch("a9a", dest_dir=tmp_path / "d", url=base, progress=False)
        assert D.sha256_file(p) == D.DATASETS["a9a"].sha256
        with pytest.raises(D.DataError, match=r"was truncated: got \d+"):
            D.fetch("a9a", dest_dir=tmp_path / "e", url=base + "truncated/a9a", progress=False)
        assert _leftovers(tmp_path / "e") == []
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_registry_checksums_match_reference_copy():
    src = _need_data("a9a", "a9a.t")
    sums = dict(reversed(line.split()) for line in (src / "SHA256SUMS").read_text().splitlines() if line.strip()) \
        if (src / "SHA256SUMS").is_file() else {}
    for name in ("a9a", "a9a.t"):
        assert D.DATASETS[name].sha256 == D.sha256_file(src / name)
        if sums:
            assert sums[name] == D.DATASETS[name].sha256


# --- data_dir --------------------------------------------------------------------------------------

def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THEORYCHECK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.data_dir() == tmp_path / "xdg" / "theorycheck"  # no ./data yet -> user cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert D.data_dir() == Path.home() / ".cache" / "theorycheck"
    (tmp_path / "data").mkdir()
    assert D.data_dir() == tmp_path / "data"  # ./data wins over the cache
    monkeypatch.setenv("THEORYCHECK_DATA", str(tmp_path / "env"))
    assert D.data_dir() == tmp_path / "env"  # the environment wins over everything


def test_locate_missing_and_corrupt(tmp_path):
    with pytest.raises(D.DataError, match="theorycheck data fetch a9a"):
        D.locate("a9a", tmp_path)
    (tmp_path / "a9a").write_text("1 1:1\n")
    with pytest.raises(D.DataError, match="SHA-256 does not match"):
        D.locate("a9a", tmp_path)


# --- svmlight parsing -----------------------------------------------------------------------------

def _write(tmp_path, text, name="f.svm"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_svmlight_normalises_rows_and_keeps_zero_rows(tmp_path):
    p = _write(tmp_path, "+1 1:3 4:4\n-1\n-1 2:2 # comment\n\n# only a comment\n+1 123:0.5\n")
    A, b = D.load_svmlight(p)
    assert A.shape == (4, 123) and A.dtype == np.float64
    np.testing.assert_array_equal(b, [1, -1, -1, 1])
    np.testing.assert_allclose(A.toarray()[0, [0, 3]], [0.6, 0.8])
    norms = np.sqrt(np.asarray(A.multiply(A).sum(1)).ravel())
    np.testing.assert_allclose(norms, [1, 0, 1, 1])
    A_raw, _ = D.load_svmlight(p, normalize=False)
    assert A_raw[3, 122] == 0.5


def test_load_svmlight_maps_01_labels(tmp_path):
    _, b = D.load_svmlight(_write(tmp_path, "0 1:1\n1 2:1\n0 3:1\n"))
    np.testing.assert_array_equal(b, [-1, 1, -1])


@pytest.mark.parametrize("text, pattern", [
    ("1 1:1\n-1 2:1\nabc 3:1\n", r"f\.svm:3: label 'abc' is not a number"),
    ("1 1:1\n-1 0:1 3:1\n", r"f\.svm:2: feature index 0 outside 1\.\.123"),
    ("1 1:1\n1 124:1\n", r"f\.svm:2: feature index 124 outside 1\.\.123"),
    ("1 3:1 2:1\n", r"f\.svm:1: feature indices must be strictly increasing"),
    ("1 1:x\n", r"f\.svm:1: feature value in '1:x' is not a number"),
    ("1 1:nan\n", r"f\.svm:1: feature value in '1:nan' is not finite"),
    ("", r"f\.svm: no data rows"),
    ("# nothing\n\n", r"f\.svm: no data rows"),
    ("1 1:1\n2 2:1\n", r"labels must be two classes"),
    ("-1 1:1\n0 2:1\n1 3:1\n", r"labels must be two classes"),
])
def test_load_svmlight_bad_input(tmp_path, text, pattern):
    with pytest.raises(D.DataError, match=pattern):
        D.load_svmlight(_write(tmp_path, text))


def test_load_svmlight_missing_file_and_bad_n_features(tmp_path):
    with pytest.raises(D.DataError, match="no such file"):
        D.load_svmlight(tmp_path / "nope")
    with pytest.raises(ValueError, match="n_features must be an integer >= 1"):
        D.load_svmlight(_write(tmp_path, "1 1:1\n"), n_features=0)


# --- CLI harness ----------------------------------------------------------------------------------

def _cli(argv):
    p = argparse.ArgumentParser(prog="theorycheck")
    cmd.register(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_fetch_ok_and_error(server, tmp_path, capsys):
    root, base = server
    assert _cli(["data", "fetch", "tiny", "--url", base + "/", "--dest", str(tmp_path / "d")]) == 0
    assert "SHA-256 verified" in capsys.readouterr().out
    assert _cli(["data", "fetch", "tiny", "--url", base + "/corrupt/tiny", "--dest", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and err.count("\n") == 1
    assert _leftovers(tmp_path / "e") == []


def test_cli_info_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THEORYCHECK_DATA", str(tmp_path))
    assert _cli(["data", "info", "a9a"]) == 2
    assert "theorycheck data fetch a9a" in capsys.readouterr().err
    bad = _write(tmp_path, "1 0:1\n", "bad.svm")
    assert _cli(["data", "info", "mine", "--file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.svm:1: feature index 0" in err and err.count("\n") == 1


def test_cli_info_small_file(tmp_path, capsys):
    # attained problem: labels are not separable along any direction
    rng = np.random.default_rng(0)
    lines = [f"{rng.choice([-1, 1])} 1:{rng.normal():.6f} 2:{rng.normal():.6f} 3:1" for _ in range(60)]
    f = _write(tmp_path, "\n".join(lines) + "\n", "small.svm")
    assert _cli(["data", "info", "small", "--file", str(f), "--n-features", "3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["N"] == 60 and d["n"] == 3 and d["positives"] + d["negatives"] == 60
    assert d["attained"] is True and d["removed_rows"] == 0 and d["removed_features_1based"] == []
    assert abs(d["F_x0"] - np.log(2)) < 1e-15 and d["F_inf"] <= d["F_x0"]
    assert abs(d["L_row"] - 0.25) < 1e-12 and 0 < d["L_tight"] <= d["L_row"]


def test_cli_info_a9a(capsys):
    _need_data("a9a")
    assert _cli(["data", "info", "a9a", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["N"], d["n"], d["nnz"], d["positives"]) == (32561, 123, 451592, 7841)
    assert abs(d["F_inf"] - 0.3226160787417926) < 1e-10 and d["attained"] is False
    assert d["removed_features_1based"] == [12, 13, 34, 89, 123] and d["removed_rows"] == 87
    assert _cli(["data", "info", "a9a"]) == 0
    out = capsys.readouterr().out
    assert "NOT attained" in out and "L_tight = 0.113206" in out and "0.5 ||w*||^2 = 349.88" in out
