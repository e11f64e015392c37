"""`theorycheck figures [SPEC ...] [--results DIR] [--out DIR]`: draw figures from saved results only.

Wire-up: the CLI calls :func:`register` with its subparsers object. Exit codes: 0 ok, 2 when results are missing or
stale (the message names the ``theorycheck run SPEC --out DIR`` command that produces them), a spec is invalid or
``--out`` is not a usable folder; 5 (from the CLI's main) on an internal error.
"""
from __future__ import annotations

import sys
import time


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "figures", help="draw figures (PNG + PDF) from saved results; never runs an experiment",
        description="Draw figures from the results that 'theorycheck run SPEC --out DIR' (or 'check') saved; needs "
                    "neither the spec files nor the data sets. Without SPEC: the specs found in --results: every "
                    "committed figure (reproductions of the paper's Figs. 14 and 15, deviation quantiles, Theorem 2, "
                    "tightness map, Options I vs II) whose specs are all there, one convergence figure per other "
                    "spec, and, when every committed figure's results are there, the claims table and the Defazio "
                    "schedule figure. With SPEC: one convergence figure per spec, plus every committed figure whose "
                    "specs are all given.")
    p.add_argument("specs", nargs="*", help="spec files or names (default: every spec found in --results)")
    p.add_argument("--results", default="results", help="folder holding raw/<spec>/ (default: ./results)")
    p.add_argument("--out", default="figures", help="output folder for the figures (default: ./figures)")
    p.add_argument("--list", action="store_true", help="list the committed figures and the specs they read")
    p.set_defaults(func=cmd_figures)


def cmd_figures(args) -> int:
    from ..figures import FIGURES, ResultsError, make_figures
    from ..spec import SpecError

    if args.list:
        for name, (specs, _) in FIGURES.items():
            print(f"  {name:<26} {', '.join(specs)}")
        return 0
    t0 = time.perf_counter()
    try:
        from ..validate import check_out_dir

        check_out_dir(args.out)
        paths = make_figures(args.specs or None, args.results, args.out)
    except ResultsError as e:
        print(f"theorycheck figures: error: {e}", file=sys.stderr)
        print("run first:\n  " + "\n  ".join(e.commands), file=sys.stderr)
        return 2
    except SpecError as e:
        print(f"theorycheck figures: error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    print(f"wrote {len(paths)} files in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0
