"""Paired comparison of AM1-SGD m = 10 vs m = 1 on a9a in the paper's long-run regime (issue 10, item 7).

Claims re-tested (paper, Appendix A.8 and Remark (b) after Theorem 1):
  * "larger m gives smaller deviation": ratio of standard deviations sd(err, m=10) / sd(err, m=1) < 1;
  * "m = 10 is faster at large sigma": mean gain E[err(m=1) - err(m=10)] > 0.

Workload: bench/specs/paired_m_a9a_long.toml (a9a, L = 0.25 row bound, V = 350, Theorem 1 schedule, sphere noise,
sigma in {1, 10}, K = 10^4, float64 iterates, 200 common seeds, checkpoints 100 ... 10^4). Seeds are common to both
arms and the counter-based noise makes seed j's noise sequence the same for m = 1 and m = 10, so per-seed errors
are paired.

Statistics (theorycheck.paired): paired bootstrap over seeds (one resample of seed indices used for both arms),
BCa intervals for log(sd ratio) and for the mean gain, Bonferroni-corrected over every interval reported here
(2 sigmas x 3 checkpoints x 2 statistics = 12 two-sided intervals, each at level 1 - 0.05/12), so that all 12
cover simultaneously with probability >= 95 % (up to the bootstrap's approximation).

Usage:
    python bench/paired_m.py run [--sigma 1.0] [--m 10] [--out results/paired_m]   # runs/reuses raw results (provenance
                                                                          # fingerprint as `theorycheck run`)
    python bench/paired_m.py analyse [--out results/paired_m]             # writes OUT/paired_m.csv and .json
    (--spec bench/specs/paired_m_a9a_k1000.toml: the K = 1000 pilot, same seeds and schedule)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from theorycheck.experiment import raw_path, run_or_load
from theorycheck.spec import load_spec
from theorycheck.table import read_table

SPEC = Path(__file__).resolve().parent / "specs" / "paired_m_a9a_long.toml"
REPORT_CHECKPOINTS = (100, 1000, 10000)
ALPHA = 0.05
N_BOOT = 20000


def _errors(table, k):
    """Final-error vector over seeds at checkpoint k, ordered by seed; returns (seeds, err)."""
    sel = table["checkpoint"].to_numpy() == k
    seeds = table["seed"].to_numpy()[sel]
    err = table["error"].to_numpy(dtype=float)[sel]
    o = np.argsort(seeds)
    return seeds[o], err[o]


def cmd_run(args):
    torch.set_num_threads(1)
    spec = load_spec(args.spec)
    for cfg in spec.configs():
        if args.sigma is not None and not math.isclose(cfg.sigma, args.sigma):
            continue
        if args.m is not None and cfg.m != args.m:
            continue
        print(f"running/reusing sigma={cfg.sigma} m={cfg.m} -> {raw_path(args.out, spec, cfg)}", flush=True)
        run_or_load(spec, cfg, args.out, progress=args.progress)


def cmd_analyse(args):
    from theorycheck import paired
    from theorycheck.provenance import run_metadata

    spec = load_spec(args.spec)
    cfgs = spec.configs()
    sigmas = sorted({c.sigma for c in cfgs})
    report = [k for k in REPORT_CHECKPOINTS if k in spec.run["checkpoints"]]
    n_int = len(sigmas) * len(report) * 2
    level = 1 - ALPHA / n_int  # Bonferroni over every interval reported
    rows = []
    metas = {}
    for sigma in sigmas:
        tabs = {}
        for cfg in cfgs:
            if cfg.sigma == sigma:
                path = raw_path(args.out, spec, cfg)
                if not path.exists():
                    sys.exit(f"missing {path}: run `python bench/paired_m.py run --out {args.out}` first")
                # read as saved (not run_or_load: its fingerprint includes the package's code hash, and the
                # analysis must not silently re-run 8e6 replica-steps); the run's provenance is copied below
                tabs[cfg.m] = read_table(path)
                metas[cfg.key] = json.loads(path.with_suffix(".json").read_text())
        for k in report:
            s1, e1 = _errors(tabs[1], k)
            s10, e10 = _errors(tabs[10], k)
            if not np.array_equal(s1, s10):
                sys.exit(f"seeds differ between m = 1 and m = 10 at sigma={sigma}, k={k}: not paired")
            res = paired.compare(e10, e1, level=level, n_boot=N_BOOT, seed=12345)
            rows.append({"sigma": sigma, "k": k, "n_seeds": len(e1),
                         "mean_m1": float(e1.mean()), "mean_m10": float(e10.mean()),
                         "sd_m1": float(e1.std(ddof=1)), "sd_m10": float(e10.std(ddof=1)),
                         **res, "level": level, "correction": f"Bonferroni over {n_int} intervals"})
    out = Path(args.out)
    import csv
    with open(out / "paired_m.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "paired_m.json").write_text(json.dumps({"rows": rows, "spec": Path(args.spec).name, "alpha": ALPHA,
                                                   "n_boot": N_BOOT, "raw_provenance": metas,
                                                   **run_metadata("cpu", "float64")}, indent=1, default=str))
    for r in rows:
        print(f"sigma={r['sigma']:g} k={r['k']:5d} n={r['n_seeds']}  mean m1 {r['mean_m1']:.4g} m10 {r['mean_m10']:.4g}"
              f"  sd ratio {r['sd_ratio']:.4f} [{r['sd_ratio_lo']:.4f}, {r['sd_ratio_hi']:.4f}]"
              f"  gain {r['gain']:.4g} [{r['gain_lo']:.4g}, {r['gain_hi']:.4g}]"
              f"  rel gain {r['rel_gain']:.4%}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--sigma", type=float, default=None)
    r.add_argument("--m", type=int, default=None)
    r.add_argument("--spec", default=str(SPEC), help="spec file (default: the K = 10^4 one)")
    r.add_argument("--out", default="results/paired_m")
    r.add_argument("--progress", action="store_true")
    a = sub.add_parser("analyse")
    a.add_argument("--out", default="results/paired_m")
    a.add_argument("--spec", default=str(SPEC), help="spec file (default: the K = 10^4 one)")
    args = p.parse_args(argv)
    {"run": cmd_run, "analyse": cmd_analyse}[args.cmd](args)


if __name__ == "__main__":
    main()
