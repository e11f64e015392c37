"""Docs match the code: the README's test command is exactly what CI runs, and its CLI examples parse."""
import shlex
from pathlib import Path

import pytest

from theorycheck.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    lines = ROOT.joinpath("README.md").read_text().splitlines()
    return [ln for ln in lines if ln.startswith("python3 -m venv")]


def test_readme_first_screen_has_exactly_two_setup_commands():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert cmds[0].endswith("theorycheck check") and "pytest" in cmds[1]
    for c in cmds:
        assert "pip install -q torch==2.13.0 &&" in c  # the CPU wheel first, before anything pulls torch
    first_screen = "\n".join(ROOT.joinpath("README.md").read_text().splitlines()[:40])
    assert all(c in first_screen for c in cmds)


def test_ci_runs_the_readme_test_command_verbatim():
    ci = ROOT.joinpath(".ci", "run").read_text().splitlines()
    assert readme_commands()[1] in ci


@pytest.mark.parametrize("line", [ln.split("#")[0].strip() for ln in
                                  ROOT.joinpath("README.md").read_text().splitlines()
                                  if ln.startswith("theorycheck ")])
def test_readme_cli_examples_parse(line):
    build_parser().parse_args(shlex.split(line)[1:])
