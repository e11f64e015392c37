"""Theorems as plug-in units (see :mod:`.base`). ``REGISTRY.get(name)`` returns the Theorem object; built-ins:

* ``thm1a``, ``thm1b``, ``thm2``, ``lemma1`` — Zhou et al. (amortized Nesterov momentum), THEORY §4;
* ``cm_thm1``, ``cm_thm3``, ``cm_lemma2`` — Cutkosky & Mehta 2020 (normalized SGD with momentum, NIGT), THEORY §6;
* ``mdsa`` — Nemirovski, Juditsky, Lan & Shapiro 2009, mirror-descent SA with averaging.

More come from the entry-point group ``theorycheck.theorems`` or a ``package.module:object`` reference in a spec.
"""
from __future__ import annotations

from ..plugins import PluginError, Registry
from . import cm_lemma2, cm_thm1, cm_thm3, nemirovski_mdsa, zhou_lemma1, zhou_thm1a, zhou_thm1b, zhou_thm2
from .base import Context, ExpectationTheorem, HighProbabilityTheorem, PathwiseTheorem, Test, Theorem

BUILTIN = [zhou_thm1a.THEOREM, zhou_thm1b.THEOREM, zhou_thm2.THEOREM, zhou_lemma1.THEOREM, cm_thm1.THEOREM,
           cm_thm3.THEOREM, cm_lemma2.THEOREM, nemirovski_mdsa.THEOREM]
NONE = "none"  # results only


def _adapt(obj, name):
    """An entry point may give a Theorem instance or class."""
    if isinstance(obj, type) and issubclass(obj, Theorem):
        obj = obj()
    if not isinstance(obj, Theorem):
        raise PluginError(f"theorem plug-in {name!r} is a {type(obj).__name__}, not a theorycheck Theorem")
    if not obj.name:
        obj.name = name
    return obj


REGISTRY = Registry("theorems", {t.name: t for t in BUILTIN}, adapt=_adapt)


def get(name: str) -> Theorem | None:
    """The theorem called ``name`` (None for "none"); PluginError when unknown or broken."""
    return None if name == NONE else REGISTRY.get(name)


def schedule_kinds() -> dict:
    """Schedule kinds defined by theorems: kind -> factory(spec, cfg, problem, oracle)."""
    out = {}
    for _, t, _ in REGISTRY.items():
        out.update(t.schedule_kinds)
    return out


__all__ = ["REGISTRY", "get", "schedule_kinds", "Theorem", "ExpectationTheorem", "HighProbabilityTheorem",
           "PathwiseTheorem", "Context", "Test", "NONE"]
