"""The theorem unit: everything a check needs to know about one theorem, in one object.

A :class:`Theorem` declares its name and reference; the algorithms and output options it covers (a spec asking for
any other is refused before running); the schedule kind it prescribes (built from the problem's declared
constants); its assumptions (a function returning failures with reasons); its bound; the statistic it is about;
and a **vacuity level** — the value of that statistic for the trivial method that never moves and reports x0.
A bound at or above that level is met by doing nothing, so a "holds" there says nothing about the method: the
verdict is then ``vacuous`` (see :func:`theorycheck.check.finalize`).

Kinds of bounds (subclasses):

* :class:`ExpectationTheorem` — ``bounds(ctx, k) -> [(bound_form, comparator, value)]``: bounds on the mean of the
  per-seed statistic after k iterations (a function of the checkpoint, the constants and a comparator point),
  tested with :func:`theorycheck.stats.verdict_mean`.
* :class:`HighProbabilityTheorem` — ``thresholds(ctx, k) -> [(label, threshold, allowed probability)]``, tested
  with the exact binomial :func:`theorycheck.stats.exceedance_test`.
* :class:`PathwiseTheorem` — a per-step slack computed by a run monitor; the certificate holds iff the minimum
  slack is ≥ −tol (no sampling error).

``check.py`` only calls these methods; it never branches on a theorem's name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .. import stats

ERROR = "error"  # statistic: F(x_k) − F_ref per seed (raw-table column "error")


@dataclass
class Context:
    """Everything a theorem may look at for one configuration: the spec, its grid point and the built objects."""

    spec: object
    cfg: object
    problem: object
    oracle: object
    schedule: object
    alg: object
    _comparators: list | None = None
    cache: dict = field(default_factory=dict)

    @property
    def comparators(self) -> list:
        """Comparator points (declared + segment to x_star), fixed before the run; computed once."""
        if self._comparators is None:
            self._comparators = self.problem.comparators + self.problem.segment_comparators()
        return self._comparators


@dataclass
class Test:
    """One unadjusted test of a theorem (Holm is applied later over the whole invocation).

    info: the row's ``statistic``, ``bound_form`` and ``comparator`` columns; test: a :class:`stats.Verdict`;
    threshold: for exceedance tests the error threshold (the quantity compared with the vacuity level), else nan."""

    info: dict
    test: object
    threshold: float = math.nan


def _algorithm_name(ref: str) -> str:
    """The registered name of a spec's algorithm: a 'package.module:Class' reference (a plug-in used without
    installing it) is compared with theorems' coverage lists by its class's ``name``."""
    if ":" not in ref:
        return ref
    from .. import algorithms
    from ..plugins import PluginError
    try:
        return getattr(algorithms.get(ref), "name", "") or ref
    except PluginError:
        return ref  # the parser reports the import failure itself


class Theorem:
    """Base class; see the module docstring. Subclasses set the class attributes and implement ``tests``."""

    name: str = ""
    reference: str = ""  # paper, theorem/equation number
    summary: str = ""  # one line: the statement in symbols
    algorithms: tuple | None = None  # algorithm names it covers (None: any)
    options: tuple | None = None  # output options it covers (None: any option of a covered algorithm)
    schedule: str | None = None  # the schedule kind it prescribes (None: any)
    kind: str = "expectation"  # 'expectation' | 'high_probability' | 'pathwise'
    statistic: str = ERROR  # raw-table column holding the per-seed statistic
    statistic_label: str = "mean"  # the row's ``statistic`` column
    needs_divisible_K: bool = False  # K must be a multiple of every m
    schedule_kinds: dict = {}  # schedule kinds this theorem defines: kind -> factory(spec, cfg, problem, oracle)
    source: str = "theorycheck"  # where it comes from (set by the registry for plug-ins)

    # --- spec-level -----------------------------------------------------------------------------------------
    def validate(self, spec, need) -> None:
        """Extra spec checks; ``need(cond, key, msg)`` raises a SpecError naming the key. Called by the parser
        after the generic coverage checks (:meth:`refusals`)."""

    def refusals(self, spec, default_option: str) -> list[tuple[str, str]]:
        """[(spec key, message)] for what the spec asks and the theorem does not cover (exit 2 before running)."""
        out = []
        alg = _algorithm_name(spec.algorithm["name"])
        if self.algorithms is not None and alg not in self.algorithms:
            out.append(("algorithm.name", f"theorem {self.name!r} ({self.reference}) covers the algorithms "
                                          f"{list(self.algorithms)}, not {alg!r}"))
        if self.options is not None:
            for o in spec.algorithm.get("options") or [default_option]:
                if o not in self.options:
                    out.append(("algorithm.options", f"theorem {self.name!r} ({self.reference}) bounds output "
                                                     f"option(s) {list(self.options)} only, not option {o!r}; "
                                                     "use theorem = 'none' to record other options"))
        if self.schedule is not None and spec.schedule["kind"] != self.schedule:
            out.append(("schedule.kind", f"{self.name} needs schedule.kind = {self.schedule!r}, "
                                         f"got {spec.schedule['kind']!r}"))
        return out

    # --- configuration-level --------------------------------------------------------------------------------
    def assumptions(self, ctx: Context) -> list[str]:
        """Human-readable failures of the theorem's assumptions for the configuration as run ([] = applies)."""
        return []

    def monitor(self, spec, problem):
        """An optional per-step run monitor (``monitor(alg, state, x, g, k)`` plus ``columns(table, R)``)."""
        return None

    def vacuity_level(self, problem, ctx: Context | None = None) -> float:
        """The statistic's value for the method that never moves and reports x0: F(x0) − F_ref (error
        statistics). A bound (or an exceedance threshold) at or above it holds for doing nothing."""
        return float(problem.error(problem.x0[None])[0])

    def statistic_range(self, ctx: Context):
        """A certified range (lo, hi) of the per-seed statistic, or None (then the limits are asymptotic). Error
        statistics: [−lower slack, sup over X of F − F_ref] when the problem certifies it (theorycheck.ranges;
        compact X only). Theorems about other statistics override this."""
        if self.statistic != "error":
            return None
        if ctx.cache.get("error_range", 0) == 0:
            ctx.cache["error_range"] = error_range(ctx.problem)
        return ctx.cache["error_range"]

    def test_checkpoints(self, spec, checkpoints: list) -> list:
        """The checkpoints at which the theorem is tested (default: every recorded k >= 1)."""
        return [k for k in checkpoints if k > 0]

    def tests(self, ctx: Context, k: int, values: np.ndarray) -> list[Test]:
        """Unadjusted tests at checkpoint k; values: (R,) per-seed statistic (+inf for a diverged seed)."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "reference": self.reference, "summary": self.summary, "kind": self.kind,
                "algorithms": self.algorithms, "options": self.options, "schedule": self.schedule,
                "statistic": self.statistic, "source": self.source}


class ExpectationTheorem(Theorem):
    kind = "expectation"

    def bounds(self, ctx: Context, k: int) -> list[tuple[str, str, float]]:
        """[(bound_form, comparator name, bound)] on E[statistic] after k iterations."""
        raise NotImplementedError

    def tests(self, ctx, k, values):
        scale, alpha = _scale_alpha(ctx)
        det = noise_free(ctx)
        return [Test({"statistic": self.statistic_label, "bound_form": form, "comparator": cname},
                     mean_test(values, b * scale, alpha, self.statistic_range(ctx), det))
                for form, cname, b in self.bounds(ctx, k)]


class HighProbabilityTheorem(Theorem):
    kind = "high_probability"

    def thresholds(self, ctx: Context, k: int) -> list[tuple[str, float, float]]:
        """[(statistic label, threshold, allowed probability)]: P{statistic > threshold} <= allowed."""
        raise NotImplementedError

    def tests(self, ctx, k, values):
        scale, alpha = _scale_alpha(ctx)
        out = []
        for label, thr, p_allowed in self.thresholds(ctx, k):
            thr = thr * scale
            finite = np.where(np.isfinite(values), values, np.finfo(np.float64).max)  # a diverged seed exceeds
            r = stats.exceedance_test(finite, thr, min(p_allowed, 1.0), alpha=alpha)
            out.append(Test({"statistic": label, "bound_form": "theorem", "comparator": "x_star"}, r, thr))
        return out


class PathwiseTheorem(Theorem):
    """A per-step inequality checked on every realisation; the monitor records the minimum relative slack in the
    raw-table column :attr:`statistic` (one value per seed)."""

    kind = "pathwise"
    tol = 1e-9
    bound_form = "pathwise"

    def vacuity_level(self, problem, ctx=None) -> float:
        return math.nan  # a pathwise certificate is never met by doing nothing

    def test_checkpoints(self, spec, checkpoints):
        return [spec.K] if spec.K in checkpoints else checkpoints[-1:]

    def tests(self, ctx, k, values):
        return [Test({"statistic": self.statistic_label, "bound_form": self.bound_form, "comparator": "x_star"},
                     certificate_test(values, self.tol))]


class MultiMonitor:
    """Several monitors as one (run.py takes a single monitor)."""

    def __init__(self, monitors):
        self.monitors = list(monitors)

    def __call__(self, *a):
        for m in self.monitors:
            m(*a)

    def columns(self, table, n_seeds):
        out = {}
        for m in self.monitors:
            out.update(m.columns(table, n_seeds))
        return out


def noise_free(ctx: Context) -> bool:
    """True when the oracle adds no noise (sigma = 0, not a minibatch oracle): every seed then runs the same
    deterministic iteration, so a constant sample of errors is the exact mean (no sampling error)."""
    sig = getattr(ctx.oracle, "sigma", None)
    return sig is not None and float(sig) == 0.0 and not getattr(ctx.cfg, "batch", None)


def _scale_alpha(ctx: Context) -> tuple[float, float]:
    """The spec's bound multiplier (negative controls) and family-wise error rate."""
    return float(ctx.spec.check.get("bound_scale", 1.0)), ctx.spec.check.get("alpha", 0.05)


# --- the tests ---------------------------------------------------------------------------------------------------
def certificate_test(slack, tol=1e-9):
    """A pathwise certificate is deterministic given the run: it holds iff every slack is ≥ −tol."""
    v = float(np.min(np.asarray(slack, dtype=float)))
    ok = v >= -tol
    return stats.Verdict(statistic="lemma1", value=v, ci_low=v, ci_high=v, bound=-tol, ratio=math.nan,
                         verdict="holds" if ok else "violated", n=len(slack), p_holds=0.0 if ok else 1.0,
                         p_violated=1.0 if ok else 0.0, alpha=0.05, alpha_low=0.05, alpha_high=0.05,
                         method="pathwise", extra={"method_detail": "pathwise certificate (no sampling error)"},
                         _limits=lambda a: (v, v), _seeds=lambda a: None)


def error_range(problem):
    """(lo, hi): a certified range of the per-seed error F(x) - F_ref over X (theorycheck.ranges), or None."""
    from ..ranges import gap_sup, lower_slack

    g = gap_sup(problem)
    return None if g is None else (-lower_slack(problem), g)


def grad_norm_range(problem):
    """(0, hi): a certified range of ||grad F(x)|| over X, hence of any average of gradient norms along a run
    (theorycheck.ranges.grad_norm_sup), or None."""
    from ..ranges import grad_norm_sup

    g = grad_norm_sup(problem)
    return None if g is None else (0.0, g)


def mean_test(errs, bound, alpha, err_range=None, deterministic=False):
    """verdict_mean, except that diverged seeds (value = +inf) make the mean infinite: violated, p = 0.
    With a certified range (lo, hi) of the statistic the exact betting limits are used (method "exact-bounded");
    values outside that range (which the certificate excludes) fall back to the asymptotic limits with a note.
    deterministic: the run is noise-free (see stats.verdict_mean)."""
    errs = np.asarray(errs, dtype=float)
    if err_range is not None and np.all(np.isfinite(errs)):
        lo, hi = err_range
        if errs.min() >= lo and errs.max() <= hi:
            return stats.verdict_mean_bounded(errs, bound, lo, hi, alpha)
        v = mean_test(errs, bound, alpha, deterministic=deterministic)
        note = f"errors leave the certified range [{lo:.3g}, {hi:.3g}]: asymptotic limits"
        return replace(v, extra={**v.extra, "range_note": note})
    if np.all(np.isfinite(errs)):
        scale = float(np.max(np.abs(errs)))
        if scale <= 1e100:
            return stats.verdict_mean(errs, bound, alpha, deterministic)
        # astronomically large (but finite) errors: the limits are scale-equivariant, so test errs/scale against
        # bound/scale and scale the numbers back (the moments would overflow otherwise)
        v = stats.verdict_mean(errs / scale, bound / scale, alpha, deterministic)
        lim = v._limits
        return replace(v, value=v.value * scale, ci_low=v.ci_low * scale, ci_high=v.ci_high * scale, bound=bound,
                       _limits=lambda a: tuple(x * scale for x in lim(a)))
    inf = math.inf
    return stats.Verdict(statistic="mean", value=inf, ci_low=inf, ci_high=inf, bound=bound, ratio=0.0,
                         verdict="violated", n=errs.size, p_holds=1.0, p_violated=0.0, alpha=alpha,
                         alpha_low=alpha, alpha_high=alpha, method="pathwise",
                         extra={"method_detail": "diverged seeds: mean is +inf"},
                         _limits=lambda a: (inf, inf), _seeds=lambda a: None)
