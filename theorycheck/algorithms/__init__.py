"""Algorithms as pure functions on batched state; see base.py for the protocol.

``REGISTRY`` (theorycheck.plugins.Registry) maps names to Algorithm classes: the built-ins below plus those of the
entry-point group ``theorycheck.algorithms`` and ``package.module:Class`` references. ``ALGORITHMS`` is the
built-in table (kept for callers that iterate over it).
"""
from ..plugins import PluginError, Registry
from .am1 import AM1, AM1Efficient, AM1Momentum
from .am2 import AM2, AM2Momentum
from .base import Algorithm
from .baselines import ACSA, MirrorDescentSA, Nesterov, NesterovPyTorch
from .momentum import NIGT, QHM, SPA, AggMo, ClassicalMomentum, NAdam, NormalizedSGDM

ALGORITHMS = {cls.name: cls for cls in (AM1, AM1Momentum, AM1Efficient, AM2, AM2Momentum, ACSA, Nesterov,
                                        NesterovPyTorch, MirrorDescentSA, NormalizedSGDM, NIGT, ClassicalMomentum,
                                        QHM, AggMo, NAdam, SPA)}
NEEDS_M = {"am1", "am1_momentum", "am1_efficient", "am2", "am2_momentum"}


def _adapt(obj, name):
    if not (isinstance(obj, type) and issubclass(obj, Algorithm)):
        raise PluginError(f"algorithm plug-in {name!r} is a {type(obj).__name__}, not an Algorithm subclass")
    return obj


REGISTRY = Registry("algorithms", ALGORITHMS, adapt=_adapt)


def get(name: str) -> type:
    """The Algorithm class called ``name`` (built-in, entry point or ``package.module:Class``)."""
    return REGISTRY.get(name)


def needs_m(name: str) -> bool:
    return name in NEEDS_M or bool(getattr(get(name), "needs_m", False))


def make(name: str, setup, schedule, m: int | None = None, **params) -> Algorithm:
    """Build an algorithm by name; m is required for AM1/AM2 (and plug-ins with ``needs_m = True``) and must be
    absent (or 1) otherwise; params are further constructor arguments (spec table ``algorithm.params``)."""
    if name not in REGISTRY:
        raise ValueError(f"algorithm must be one of {REGISTRY.names()}, got {name!r}")
    cls = get(name)
    if needs_m(name):
        return cls(setup, schedule, 1 if m is None else m, **params)
    if m not in (None, 1):
        raise ValueError(f"m applies only to {sorted(NEEDS_M)}; {name} takes no m (got m={m})")
    return cls(setup, schedule, **params)
