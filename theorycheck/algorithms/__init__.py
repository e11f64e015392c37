"""Algorithms as pure functions on batched state; see base.py for the protocol."""
from .am1 import AM1, AM1Efficient, AM1Momentum
from .am2 import AM2, AM2Momentum
from .base import Algorithm
from .baselines import ACSA, MirrorDescentSA, Nesterov, NesterovPyTorch

ALGORITHMS = {cls.name: cls for cls in (AM1, AM1Momentum, AM1Efficient, AM2, AM2Momentum, ACSA, Nesterov,
                                        NesterovPyTorch, MirrorDescentSA)}
NEEDS_M = {"am1", "am1_momentum", "am1_efficient", "am2", "am2_momentum"}


def make(name: str, setup, schedule, m: int | None = None) -> Algorithm:
    """Build an algorithm by name; m is required for AM1/AM2 and must be absent (or 1) otherwise."""
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}, got {name!r}")
    cls = ALGORITHMS[name]
    if name in NEEDS_M:
        return cls(setup, schedule, 1 if m is None else m)
    if m not in (None, 1):
        raise ValueError(f"m applies only to {sorted(NEEDS_M)}; {name} takes no m (got m={m})")
    return cls(setup, schedule)
