"""Registries of theorems, algorithms, problem families and noise models, with plug-in discovery.

Each registry holds the built-in entries and, on first use, the entries of installed distributions found through
Python entry points (``importlib.metadata``), in the groups

    theorycheck.theorems    name = "package.module:THEOREM"        (a Theorem instance or class)
    theorycheck.algorithms  name = "package.module:MyAlgorithm"   (an Algorithm subclass)
    theorycheck.problems    name = "package.module:make_problem"  (a factory(device=..., **params) -> Problem)
    theorycheck.noises      name = "package.module:MyNoise"       (a factory(sigma, **params) -> Noise)

A spec may also name an object directly by reference, ``"package.module:object"`` (imported on use).

A plug-in that fails to import is recorded with its error (``Registry.broken``) and does not affect the other
entries; asking for it raises :class:`PluginError` naming the plug-in, its entry point and the error.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import re

GROUPS = {"theorems": "theorycheck.theorems", "algorithms": "theorycheck.algorithms",
          "problems": "theorycheck.problems", "noises": "theorycheck.noises"}
REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class PluginError(ValueError):
    """A plug-in (entry point or ``package.module:object`` reference) could not be loaded."""


def load_reference(ref: str, what: str = "object"):
    """Import ``package.module:attr[.attr]``; PluginError naming the reference when that fails."""
    if not REFERENCE.match(ref):
        raise PluginError(f"{what} reference {ref!r} is not of the form 'package.module:object'")
    mod_name, attr = ref.split(":", 1)
    try:
        obj = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as e:  # noqa: BLE001 - any import-time failure of a plug-in is reported, not raised raw
        raise PluginError(f"{what} {ref!r} could not be loaded: {type(e).__name__}: {e}") from None
    return obj


class Registry:
    """name -> object, with where each comes from (``source``)."""

    def __init__(self, kind: str, builtins: dict | None = None, adapt=None):
        self.kind = kind
        self.group = GROUPS[kind]
        self._entries: dict = {}
        self._sources: dict = {}
        self.broken: dict = {}  # name -> error message
        self._adapt = adapt or (lambda obj, name: obj)
        self._discovered = False
        for name, obj in (builtins or {}).items():
            self.register(name, obj, "theorycheck (built-in)")

    def register(self, name: str, obj, source: str = "registered at run time"):
        self._entries[name] = obj
        self._sources[name] = source

    def _discover(self):
        if self._discovered:
            return
        self._discovered = True
        try:
            eps = importlib.metadata.entry_points(group=self.group)
        except Exception:  # noqa: BLE001 - a broken metadata install must not break the built-ins
            return
        for ep in eps:
            dist = getattr(ep, "dist", None)
            where = f"entry point {self.group}:{ep.name} = {ep.value}" + (
                f" (distribution {dist.name} {dist.version})" if dist is not None else "")
            if ep.name in self._entries:
                self.broken[ep.name] = f"{where}: name already taken by {self._sources[ep.name]}"
                continue
            try:
                obj = self._adapt(ep.load(), ep.name)
            except Exception as e:  # noqa: BLE001
                self.broken[ep.name] = f"{where}: {type(e).__name__}: {e}"
                continue
            self.register(ep.name, obj, where)

    def names(self) -> list:
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name) -> bool:
        self._discover()
        return name in self._entries or (isinstance(name, str) and bool(REFERENCE.match(name)))

    def source(self, name: str) -> str:
        self._discover()
        return self._sources.get(name, f"reference {name}")

    def get(self, name: str):
        """The entry called ``name``, or the object a ``package.module:object`` reference names."""
        self._discover()
        if name in self._entries:
            return self._entries[name]
        if name in self.broken:
            raise PluginError(f"{self.kind[:-1]} plug-in {name!r} is broken: {self.broken[name]}")
        if isinstance(name, str) and REFERENCE.match(name):
            obj = self._adapt(load_reference(name, self.kind[:-1]), name)
            self.register(name, obj, f"reference {name}")
            return obj
        raise PluginError(f"unknown {self.kind[:-1]} {name!r}; known: {self.names()}"
                          + (f"; broken plug-ins: {sorted(self.broken)}" if self.broken else ""))

    def items(self):
        """[(name, object, source)] of every loaded entry."""
        self._discover()
        return [(n, self._entries[n], self._sources[n]) for n in sorted(self._entries)]
