"""`theorycheck report RESULTS_DIR --html FILE`: a self-contained page, opened in headless Chromium.

Chromium comes from Debian's package (.ci/run installs it when absent); without it the rendering test skips with a
message. The console check has a negative control: a page with a script error must produce console lines.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from theorycheck import baseline
from theorycheck.cli import main
from theorycheck.experiment import raw_path
from theorycheck.spec import load_spec
from theorycheck.table import read_table, write_csv

from test_pytest_plugin import spec_toml

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def headless(url: str) -> tuple[str, list[str]]:
    """(DOM after scripts ran, console lines) of a page in headless Chromium."""
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                        "--dump-dom", url], capture_output=True, text=True, timeout=180)
    return r.stdout, [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    spec_file = d / "rep.toml"
    spec_file.write_text(spec_toml(sigma="[0.1]", m="[1, 10]", K=100, seeds=10, checkpoints="[20, 50, 100]"))
    out = d / "results"
    assert main(["check", str(spec_file), "--out", str(out), "--save-baseline", str(d / "base"),
                 "--no-progress"]) in (0, 3)
    spec = load_spec(spec_file)
    runs = [(spec, c, read_table(raw_path(out, spec, c))) for c in spec.configs()]
    write_csv(baseline.compare(d / "base", runs), out / "regressions.csv")  # a (bit-identical) baseline comparison
    return out


def test_report_is_self_contained(results, tmp_path):
    page = tmp_path / "r.html"
    assert main(["report", str(results), "--html", str(page)]) == 0
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from the network
    assert text.count("data:image/png;base64,") == 1  # the spec's convergence figure, inline
    assert "Baseline comparison" in text


def test_report_without_verdicts_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--html", str(tmp_path / "r.html")]) == 2
    assert "no verdicts" in capsys.readouterr().err and not (tmp_path / "r.html").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (.ci/run installs Debian's chromium "
                                             "as root; or: apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(results, tmp_path):
    page = tmp_path / "r.html"
    main(["report", str(results), "--html", str(page)])
    dom, console = headless(page.as_uri())
    assert 'data-ready="1"' in dom  # the page's script ran to the end
    assert console == [], console
    n_verdicts = len(read_table(results / "verdicts.csv"))
    n_reg = len(read_table(results / "regressions.csv"))
    rows = re.findall(r'<tr class="([a-z-]+)"', dom)
    assert len(rows) == n_verdicts + n_reg
    assert rows.count("holds") + rows.count("inconclusive") == n_verdicts and rows.count("ok") == n_reg
    assert "<img" in dom and "Convergence" in dom
    # negative control: a script error does reach the console log this test reads
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert any("undefinedFunction" in ln for ln in headless(bad.as_uri())[1])
