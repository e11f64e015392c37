"""Anytime-valid verdicts: ``theorycheck check --until-decided`` adds seeds in batches until every test is decided.

Looking after every batch and stopping when a test is decided inflates the error rate of fixed-n limits (a simulation
test shows it). Here every p-value is **anytime-valid**: P(p_tau <= a) <= a for every stopping time tau, because it
is the running minimum over looks of a p-value derived from a time-uniform confidence sequence:

* bounded statistics (a certified error range, and exceedance indicators in {0, 1}): the betting capital processes of
  :mod:`theorycheck.betting` with bets tuned once for ``n_max`` (the --max-seeds cap, fixed before any data);
  p = 1 / max_{t <= n} K_t is valid under optional stopping by Ville's inequality (method "exact-bounded");
* unbounded statistics: the asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Chugg & Ramdas (2021,
  "Time-uniform central limit theory and asymptotic confidence sequences", Thm 2.2), Robbins' normal mixture with
  the sample sd: mu_hat_t +- sd_t sqrt(2 (t rho^2 + 1) / (t^2 rho^2) log(sqrt(t rho^2 + 1) / a)), rho tuned for
  t* = n_max (their eq. for rho); it is two-sided at level a, used here for each one-sided limit (conservative), and
  its p-value at b is p_t = min(1, sqrt(t rho^2 + 1) exp(-(b - mu_hat_t)^2 t^2 rho^2 / (2 sd_t^2 (t rho^2 + 1)))).
  Its guarantee is asymptotic (method "asymptotic"); the heavy-tail diagnostic applies as for fixed n.

**Family correction.** The set of tests (configurations x checkpoints x bound forms x Λ) is fixed by the specs before
any seed is run; only the stopping times depend on the data. Holm's procedure is valid for any p-values under
arbitrary dependence, and each anytime p-value evaluated at its configuration's (data-dependent) stopping time is
still a valid p-value, so Holm over the 2N final anytime p-values controls the family-wise error rate at alpha. The
stopping rule (a configuration stops when each of its tests has min(p_holds, p_violated) <= alpha / (2N), the first
Holm step, or at n_max) affects only power, never validity.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import stats
from .betting import BoundedMean
from .spec import SpecError

__all__ = ["asymptotic_cs_pvalues", "asymptotic_cs_limits", "anytime_test", "check_until_decided"]


def _rho(n_max, alpha=0.05):
    """Waudby-Smith et al. (2021) rho optimising the boundary width at t* = n_max."""
    l = -2 * math.log(alpha)
    return math.sqrt((l + math.log(l + 1)) / max(n_max, 2))


def _cs_width_factor(t, rho, a):
    return np.sqrt(2 * (t * rho ** 2 + 1) / (t ** 2 * rho ** 2) * np.log(np.sqrt(t * rho ** 2 + 1) / a))


def _prefix_moments(x, looks):
    looks = np.asarray(looks, dtype=int)
    mu = np.array([x[:t].mean() for t in looks])
    sd = np.array([x[:t].std(ddof=1) if t > 1 else 0.0 for t in looks])
    return looks.astype(float), mu, sd


def asymptotic_cs_pvalues(x, bound, n_max, looks, alpha_tune=0.05):
    """(p_holds, p_violated): running minimum over ``looks`` (prefix sizes) of the asymptotic-CS p-values."""
    t, mu, sd = _prefix_moments(np.asarray(x, float), looks)
    rho = _rho(n_max, alpha_tune)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = (bound - mu) ** 2 * t ** 2 * rho ** 2 / (2 * sd ** 2 * (t * rho ** 2 + 1))
        p = np.sqrt(t * rho ** 2 + 1) * np.exp(-np.where(sd > 0, z2, np.where(mu == bound, 0.0, np.inf)))
    p = np.minimum(np.nan_to_num(p, nan=1.0), 1.0)
    ph = np.where(mu < bound, p, 1.0)
    pv = np.where(mu > bound, p, 1.0)
    return float(ph.min()), float(pv.min())


def asymptotic_cs_limits(x, a, n_max, looks, alpha_tune=0.05):
    """(lower, upper): the running intersection over ``looks`` of the asymptotic CS at level a."""
    t, mu, sd = _prefix_moments(np.asarray(x, float), looks)
    w = sd * _cs_width_factor(t, _rho(n_max, alpha_tune), a)
    return float((mu - w).max()), float((mu + w).min())


def anytime_test(x, bound, n_max, looks, alpha=0.05, err_range=None, indicator=False,
                 deterministic=False) -> stats.Verdict:
    """Anytime-valid Verdict on mean(x) <= bound from the seeds x (in seed order) observed at ``looks``.
    ``indicator``: x are exceedance indicators in {0, 1} (statistic "exceedance"); ``err_range``: a certified
    (lo, hi) range of x; neither: asymptotic CS. ``deterministic``: noise-free run (stats.tail_diagnostic)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    a = float(alpha)
    if indicator or err_range is not None:
        lo, hi = (0.0, 1.0) if indicator else err_range
        bm = BoundedMean(x, lo, hi, a, n_tune=n_max)
        ph, pv = bm.pvalues(bound)
        if indicator and bound >= 1:
            ph = 0.0
        lim = bm.limits
        method, detail, diag = "exact-bounded", "betting confidence sequence (Waudby-Smith & Ramdas 2024)", {}
    else:
        ph, pv = asymptotic_cs_pvalues(x, bound, n_max, looks, a)
        lim = lambda al: asymptotic_cs_limits(x, al, n_max, looks, a)
        method, detail = "asymptotic", "asymptotic confidence sequence (Waudby-Smith et al. 2021)"
        diag = stats.tail_diagnostic(x, deterministic)
    lo_l, up_l = lim(a)
    mean = float(x.mean())
    verdict = stats._decide(ph, pv, a, diag.get("heavy_tail", False))
    return stats.Verdict(
        statistic="exceedance" if indicator else "mean", value=mean, ci_low=lo_l, ci_high=up_l, bound=float(bound),
        ratio=stats._ratio(float(bound), mean), verdict=verdict, n=n, p_holds=ph, p_violated=pv, alpha=a,
        alpha_low=a, alpha_high=a, method=method, extra={"method_detail": detail, "looks": len(looks), **diag},
        _limits=lim, _seeds=lambda al: None)


def _anytime_rows(rows, table, n_max, looks, alpha):
    """Replace each row's fixed-n test by its anytime-valid counterpart (same bound / threshold)."""
    from . import theorems
    from .check import _values

    cache = {}
    out = []
    for r in rows:
        t = r["test"]
        if t.method == "pathwise" or r.get("verdict") == "assumptions-failed":
            out.append(r)
            continue
        key = (r["option"], theorems.get(r["theorem"]).statistic)
        if key not in cache:
            cache[key] = _values(table, *key)
        cps, E = cache[key]
        errs = E[cps.index(int(r["checkpoint"]))]
        if t.statistic == "exceedance":
            ind = (np.where(np.isfinite(errs), errs, np.inf) > t.extra["threshold"]).astype(float)
            v = anytime_test(ind, t.bound, n_max, looks, alpha, indicator=True)
        else:
            rng = (t.extra["range_low"], t.extra["range_high"]) if t.method == "exact-bounded" else None
            v = anytime_test(errs, t.bound, n_max, looks, alpha, err_range=rng,
                             deterministic=bool(t.extra.get("deterministic", False)))
        out.append({**r, "test": v})
    return out


def check_until_decided(specs, out_dir, batch, max_seeds, device="cpu", dtype=None, progress=None, log=None):
    """Run every configuration in batches of ``batch`` seeds (seeds seed0.. in order; batch j is saved as its own
    raw-results file, reused on a re-run) until each of its tests is decided at the first Holm level alpha/(2N), or
    ``max_seeds`` seeds. Returns the unadjusted rows (with anytime-valid tests) for check.finalize."""
    from . import check
    from .experiment import run_or_load
    from .table import concat

    if batch < 2 or max_seeds < batch:
        raise SpecError(f"--batch must be >= 2 and --max-seeds >= --batch, got batch={batch}, max_seeds={max_seeds}")
    alpha = min(s.check.get("alpha", 0.05) for s in specs)
    state = []  # [spec, cfg, tables, rows]
    for spec in specs:
        for cfg in spec.configs():
            state.append([spec, cfg, [], None])

    def add_batch(st):
        spec, cfg, tables, _ = st
        j = len(tables)
        seed0 = spec.run.get("seed0", 0) + j * batch
        sub = replace(spec, name=f"{spec.name}.batch{j}", run={**spec.run, "seed0": seed0, "seeds": batch})
        t = run_or_load(sub, cfg, out_dir, batch, device, dtype, progress)
        if "spec" in t.columns:
            t = t.assign(spec=spec.name)
        tables.append(t)
        full = concat(tables)
        n = batch * len(tables)
        looks = [batch * (i + 1) for i in range(len(tables))]
        st[3] = _anytime_rows(check.evaluate(spec, cfg, full, device), full, max_seeds, looks, alpha)
        if log:
            log(f"[{spec.name}] {cfg.key}: {n} seeds")

    for st in state:
        add_batch(st)
    n_tests = sum(len(st[3]) for st in state)
    level = alpha / max(2 * n_tests, 1)
    decided = lambda st: all(min(r["test"].p_holds, r["test"].p_violated) <= level or
                             r.get("verdict") == "assumptions-failed" for r in st[3])
    while True:
        todo = [st for st in state if not decided(st) and batch * (len(st[2]) + 1) <= max_seeds]
        if not todo:
            break
        for st in todo:
            add_batch(st)
    return [r for st in state for r in st[3]], [concat(st[2]) for st in state]
