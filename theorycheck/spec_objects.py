"""A spec from objects: a problem, an oracle (or noise), an algorithm class and a theorem given as Python objects
instead of registry names (``theorycheck.testing.check_spec(problem=P, algorithm=..., theorem=...)``).

:func:`spec_from_objects` registers each object at run time in its registry (``theorycheck.registries.PROBLEMS``,
``NOISES``, ``theorycheck.algorithms.REGISTRY``, ``theorycheck.theorems.REGISTRY``; the plug-in API of
docs/plugins.md) and returns an ordinary :class:`~theorycheck.spec.Spec`, validated by
:func:`~theorycheck.spec.parse_spec` like a spec file (a bad value raises ``SpecError`` naming the key), so the run,
the tests, Holm's correction and the saved results are exactly those of a spec file.

Names. A problem or noise object is registered under a fresh name of this process (``<name>__objN``): its code
is not part of the results' fingerprint, so results of objects are never reused from one call to the next. An
algorithm class or a theorem whose ``name`` is free (or already names the same class / an equal theorem, e.g.
``ZhouThm1a()``) keeps its name; one whose name is taken by something else (a modified subclass of a built-in)
gets a fresh name too, and the theorem is then registered as a copy that also covers that fresh algorithm name
(the verdict rows show the fresh names). Objects stay registered for the rest of the process.
"""
from __future__ import annotations

import copy
import itertools
import re

_COUNTER = itertools.count(1)


def _ident(s) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", str(s)).strip("_") or "obj"


def _fresh(base) -> str:
    return f"{_ident(base)}__obj{next(_COUNTER)}"


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _problem(problem, params):
    """(problem.family, problem.params) for a family name, a factory(device=..., **params) or a Problem."""
    from .problems.base import Problem
    from .registries import PROBLEMS

    if isinstance(problem, str):
        return problem, params
    if isinstance(problem, Problem):
        if params:
            raise ValueError("problem_params applies to a problem family name or factory, not to a Problem object")

        def make(device=None, _p=problem):
            return _p  # on its own device; the engine refuses another one with a message naming problem.to()

        name = _fresh(problem.name)
        PROBLEMS.register(name, make, f"object {type(problem).__name__} (theorycheck.spec_objects)")
        return name, None
    if callable(problem):
        name = _fresh(getattr(problem, "__name__", "problem"))
        PROBLEMS.register(name, problem, f"factory {getattr(problem, '__qualname__', name)} (theorycheck.spec_objects)")
        return name, params
    raise TypeError(f"problem must be a theorycheck Problem, a factory(device=..., **params) -> Problem or a family "
                    f"name, got {type(problem).__name__}")


def _noise(oracle, sigma) -> tuple[dict, object]:
    """(the spec's [noise] table, the problem object an Oracle was built on or None)."""
    from .oracles import Noise, Oracle
    from .registries import NOISES

    bound = None
    if isinstance(oracle, Oracle):
        bound = oracle.problem
        if oracle.batch is not None:
            return {"model": "minibatch", "batch": [int(oracle.batch)]}, bound
        oracle = oracle.noise
    if oracle is None or isinstance(oracle, str):
        model = oracle or ("sphere" if sigma is not None else "none")
        return {"model": model, "sigma": [float(s) for s in _as_list(0.0 if sigma is None else sigma)]}, bound
    if isinstance(oracle, Noise):
        if sigma is not None and [float(s) for s in _as_list(sigma)] != [float(oracle.sigma)]:
            raise ValueError(f"sigma={sigma!r} disagrees with the noise object's sigma {oracle.sigma!r}; give one")
        name = _fresh(getattr(oracle, "name", "noise"))
        NOISES.register(name, lambda sigma=None, _n=oracle, **kw: _n,
                        f"object {type(oracle).__name__} (theorycheck.spec_objects)")
        return {"model": name, "sigma": [float(oracle.sigma)]}, bound
    raise TypeError(f"oracle must be a theorycheck Oracle, a Noise, a noise model name or None, got "
                    f"{type(oracle).__name__}")


def _registered_name(registry, obj, same) -> str | None:
    """The name under which ``registry`` already holds ``obj`` (or something ``same`` as it), else None when its
    name is free; raises KeyError when the name is taken by something else."""
    name = getattr(obj, "name", "")
    if not name or name not in registry.names():
        return None
    if same(registry.get(name), obj):
        return name
    raise KeyError(name)


def _algorithm(algorithm):
    """(algorithm name, the class or None, the name the class was registered under before an alias)."""
    from . import algorithms as A
    from .algorithms.base import Algorithm

    if isinstance(algorithm, str):
        return algorithm, None
    if isinstance(algorithm, Algorithm):
        raise TypeError("algorithm must be an Algorithm *class* (or a name): theorycheck builds it per "
                        "configuration with the problem's setup and the theorem's schedule")
    if not (isinstance(algorithm, type) and issubclass(algorithm, Algorithm)):
        raise TypeError(f"algorithm must be a theorycheck Algorithm subclass or a name, got {algorithm!r}")
    try:
        name = _registered_name(A.REGISTRY, algorithm, lambda a, b: a is b)
    except KeyError as e:  # the name belongs to another class: a fresh name, same needs_m
        base = str(e.args[0])
        alias = _fresh(base)
        needs_m = A.needs_m(base) or getattr(algorithm, "needs_m", False)
        sub = type(algorithm.__name__, (algorithm,), {"needs_m": needs_m})
        A.REGISTRY.register(alias, sub, f"class {algorithm.__qualname__} (theorycheck.spec_objects)")
        return alias, base
    if name is None:
        name = algorithm.name or _fresh(algorithm.__name__)
        A.REGISTRY.register(name, algorithm, f"class {algorithm.__qualname__} (theorycheck.spec_objects)")
    return name, None


def _theorem(theorem, alias_of=None, alias=None) -> str:
    """The theorem's registry name; ``alias`` (a fresh algorithm name standing for ``alias_of``) is added to the
    algorithms it covers (as a registered copy) when it covers ``alias_of``."""
    from . import theorems as T

    if isinstance(theorem, str):
        if theorem == T.NONE or alias is None:
            return theorem
        theorem = T.get(theorem)
    if isinstance(theorem, type) and issubclass(theorem, T.Theorem):
        theorem = theorem()
    if not isinstance(theorem, T.Theorem):
        raise TypeError(f"theorem must be a theorycheck Theorem (instance or class) or a name, got {theorem!r}")
    if alias is not None and theorem.algorithms is not None and alias_of in theorem.algorithms:
        th = copy.copy(theorem)
        th.algorithms = tuple(theorem.algorithms) + (alias,)
        th.name = _fresh(theorem.name or type(theorem).__name__)
        T.REGISTRY.register(th.name, th,
                            f"copy of theorem {theorem.name!r} covering {alias} (theorycheck.spec_objects)")
        return th.name
    same = lambda a, b: a is b or (type(a) is type(b) and vars(a) == vars(b))
    try:
        name = _registered_name(T.REGISTRY, theorem, same)
    except KeyError:
        name = None
        theorem = copy.copy(theorem)
        theorem.name = _fresh(theorem.name)
        T.REGISTRY.register(theorem.name, theorem, f"object {type(theorem).__name__} (theorycheck.spec_objects)")
        return theorem.name
    if name is None:
        if not theorem.name:
            theorem = copy.copy(theorem)
            theorem.name = _fresh(type(theorem).__name__)
        T.REGISTRY.register(theorem.name, theorem, f"object {type(theorem).__name__} (theorycheck.spec_objects)")
        name = theorem.name
    return name


def spec_from_objects(*, problem=None, algorithm, theorem, K: int, oracle=None, sigma=None, m=None, seeds=None,
                      schedule: dict | None = None, options=None, checkpoints=None, check: dict | None = None,
                      name: str | None = None, problem_params: dict | None = None,
                      algorithm_params: dict | None = None):
    """A validated :class:`~theorycheck.spec.Spec` for the given objects (see the module docstring).

    problem: a :class:`~theorycheck.problems.base.Problem`, a factory ``factory(device=..., **problem_params)``
    or a family name (may be omitted when ``oracle`` is an Oracle: its problem). oracle: an
    :class:`~theorycheck.oracles.Oracle` (its noise and σ; a minibatch oracle gives ``noise.model =
    "minibatch"``), a :class:`~theorycheck.oracles.Noise`, a noise model name, or None (``"sphere"`` when ``sigma``
    is given, else no noise). sigma: σ or a list of σ (the configuration grid) for a model name; with a Noise or
    Oracle object it must be omitted or equal to the object's σ. algorithm: an Algorithm subclass or a name; m: its
    m (an int or a list: the grid) when it takes one. theorem: a Theorem instance or class, or a name. K: iterations;
    seeds: seeds per configuration (default 20). schedule: the ``[schedule]`` table (default ``{"kind":
    theorem.schedule}``, the schedule the theorem prescribes). options, checkpoints, check (e.g.
    ``{"bound_scale": 0.01}`` for a negative control), name: the spec keys of the same names (docs/spec_format.md).

    Raises ``TypeError`` for an object of the wrong kind, ``ValueError`` for inconsistent arguments, and
    ``SpecError`` (a ``ValueError`` naming the spec key) for a value the spec format refuses.
    """
    from . import theorems as T
    from .spec import parse_spec

    noise, bound = _noise(oracle, sigma)
    if problem is None:
        if bound is None:
            raise ValueError("problem is required (a Problem, a factory or a family name) unless oracle is an Oracle")
        problem = bound
    elif bound is not None and bound is not problem:
        raise ValueError("the oracle was built on another problem than the one given: pass Oracle(problem, noise) "
                         "for this problem, or its Noise")
    family, params = _problem(problem, problem_params)
    alg_name, base = _algorithm(algorithm)
    th_name = _theorem(theorem, base, alg_name if base else None)
    th = T.get(th_name)
    if schedule is None:
        if th is None or th.schedule is None:
            raise ValueError(f"schedule is required: theorem {th_name!r} prescribes no schedule kind (give e.g. "
                             "schedule={'kind': 'constant', 'alpha': 0.5})")
        schedule = {"kind": th.schedule}
    raw = {"name": name or _ident(f"{th_name}_{alg_name}"), "theorem": th_name,
           "problem": {"family": family, **({"params": dict(params)} if params else {})},
           "noise": noise, "algorithm": {"name": alg_name}, "schedule": dict(schedule),
           "run": {"K": K, "seeds": 20 if seeds is None else seeds}}
    if m is not None:
        raw["algorithm"]["m"] = _as_list(m)
    if options is not None:
        raw["algorithm"]["options"] = _as_list(options)
    if algorithm_params:
        raw["algorithm"]["params"] = dict(algorithm_params)
    if checkpoints is not None:
        raw["run"]["checkpoints"] = checkpoints if isinstance(checkpoints, str) else _as_list(checkpoints)
    if check:
        raw["check"] = dict(check)
    return parse_spec(raw, path=f"<objects: {th_name}, {alg_name}, {family}>", default_name=raw["name"])
