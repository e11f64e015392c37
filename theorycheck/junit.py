"""Verdict tables for CI systems: JUnit XML (one ``testcase`` per verdict row) and JSON.

JUnit mapping: ``holds`` → passed; ``violated`` → ``<failure>``; ``inconclusive``, ``assumptions-failed`` and rows
whose bound is vacuous → ``<skipped>``. The message carries the numbers (value, one-sided limits, bound, ratio,
Holm-adjusted p-values, seeds needed); the element text lists every column of the row. A baseline comparison adds
a second ``testsuite`` with one ``testcase`` per compared (configuration, option, checkpoint).
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

from .table import atomic_write_text
from .testing import _fmt, _is_vacuous, records

__all__ = ["to_junit_xml", "write_junit_xml", "to_json", "jsonable"]


def _case_name(r: dict) -> str:
    return (f"{r.get('statistic')} [{r.get('bound_form')}] option={r.get('option')} sigma={_fmt(r.get('sigma'))} "
            f"m={_fmt(r.get('m'))} k={_fmt(r.get('checkpoint'))}")


def _message(r: dict) -> str:
    msg = (f"{r.get('verdict')}: {r.get('statistic')} = {_fmt(r.get('value'))}, one-sided limits "
           f"[{_fmt(r.get('ci_low'))}, {_fmt(r.get('ci_high'))}], bound = {_fmt(r.get('bound'))} "
           f"({r.get('bound_form')}), ratio bound/value = {_fmt(r.get('ratio'))}, p_holds = {_fmt(r.get('p_holds'))},"
           f" p_violated = {_fmt(r.get('p_violated'))}, n_seeds = {_fmt(r.get('n_seeds'))}")
    if r.get("verdict") == "inconclusive":
        msg += f", seeds needed = {_fmt(r.get('seeds_needed'))}"
    if "method" in r:
        msg += f", method = {r.get('method')}"
    if str(r.get("assumptions", "ok")) != "ok":
        msg += f"; assumptions: {r.get('assumptions')}"
    if _is_vacuous(r):
        msg += "; the bound is vacuous (holds for any algorithm)"
    return msg


def _suite(parent, name: str, cases: list) -> ET.Element:
    s = ET.SubElement(parent, "testsuite", name=name, tests=str(len(cases)),
                      failures=str(sum(c[1] == "failure" for c in cases)),
                      skipped=str(sum(c[1] == "skipped" for c in cases)), errors="0")
    for classname, kind, name_, msg, text in cases:
        tc = ET.SubElement(s, "testcase", classname=classname, name=name_, time="0")
        if kind:
            el = ET.SubElement(tc, kind, message=msg, type=kind)
            el.text = text
    return s


def to_junit_xml(verdicts, regressions=None, suite: str = "theorycheck check") -> str:
    """JUnit XML text for a verdict table (a DataFrame or a list of dicts) and, optionally, a regression table."""
    root = ET.Element("testsuites", name="theorycheck")
    cases = []
    for r in records(verdicts):
        v = r.get("verdict")
        kind = None if v == "holds" and not _is_vacuous(r) else "failure" if v == "violated" else "skipped"
        text = "\n".join(f"{k} = {_fmt(x)}" for k, x in r.items())
        cases.append((f"theorycheck.{r.get('spec')}.{r.get('theorem')}", kind, _case_name(r), _message(r), text))
    _suite(root, suite, cases)
    if regressions is not None:
        rc = []
        for r in records(regressions):
            reg = r.get("regression") == "regression"
            msg = (f"{r.get('regression')}: mean error {_fmt(r.get('mean'))} vs baseline {_fmt(r.get('baseline_mean'))}"
                   f" (change {_fmt(100 * float(r.get('change')))} %, tolerance {_fmt(100 * float(r.get('tolerance')))}"
                   f" %), p = {_fmt(r.get('p_value'))}, Holm-adjusted p = {_fmt(r.get('p_holm'))}, "
                   f"n_pairs = {_fmt(r.get('n_pairs'))}")
            rc.append((f"theorycheck.baseline.{r.get('spec')}", "failure" if reg else None,
                       f"option={r.get('option')} sigma={_fmt(r.get('sigma'))} m={_fmt(r.get('m'))} "
                       f"k={_fmt(r.get('checkpoint'))}", msg, msg))
        _suite(root, "theorycheck baseline", rc)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit_xml(path, verdicts, regressions=None) -> None:
    """Write :func:`to_junit_xml` atomically to ``path``."""
    atomic_write_text(path, to_junit_xml(verdicts, regressions))


def jsonable(v):
    """numpy scalars → Python; NaN / ±inf → None / "inf" / "-inf" (JSON has no NaN)."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return v


def to_json(verdicts, regressions=None, **meta) -> str:
    """``{"version", ..meta, "verdicts": [rows], "regressions": [rows] | null}``; NaN is null, ±inf "inf"/"-inf"."""
    from . import __version__

    d = {"theorycheck_version": __version__, **meta,
         "verdicts": [{k: jsonable(x) for k, x in r.items()} for r in records(verdicts)],
         "regressions": None if regressions is None else
         [{k: jsonable(x) for k, x in r.items()} for r in records(regressions)]}
    return json.dumps(d, indent=1)
