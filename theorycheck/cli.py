"""Command line: ``theorycheck {check,run,check-cm,list,data,figures,pep,report}``. Thin: parse, validate the whole
invocation, call the library, print, set the exit code (codes in :mod:`theorycheck.errors`)."""
from __future__ import annotations

import argparse
import importlib.resources
import re
import sys
from pathlib import Path

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_NOT_ALL_HOLD, crash_message, save_traceback
from .spec import SpecError, load_spec

from .spec_paths import PACKAGED_SPECS, default_suite, resolve_spec, spec_dirs  # noqa: F401  (re-exported)
DESCRIPTION = ("Executable, falsifiable checks of convergence theorems for stochastic convex optimization: run an "
               "algorithm on a problem over many seeds and give a statistical verdict (holds, violated, "
               "inconclusive) on a theorem's bound.")
EPILOG = """exit codes:
  0  every test holds
  1  at least one test is violated
  2  bad input (spec, argument, output folder or data file); nothing is run or written
  3  nothing violated, but not everything holds (inconclusive, assumptions failed), or no verdict at all
  5  internal error: one line of cause, the traceback saved to a file; no verdicts are written
130  interrupted; finished configurations are saved and reused by a re-run

Details: docs/checks.md."""


def _common(p):
    p.add_argument("--seeds", type=int, default=None, help="number of seeds per configuration (default: the spec's)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default: cpu)")
    p.add_argument("--dtype", default=None, choices=["float32", "float64"], help="iterate dtype (default: the spec's)")
    p.add_argument("--out", default="results", help="output folder (default: ./results)")
    p.add_argument("--no-progress", action="store_true", help="never show progress bars")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads in this process (default: 1, and worker processes use the other cores)")
    from .executors import add_arguments

    add_arguments(p)


def _ci_options(p):
    """CI outputs and regression baselines of ``theorycheck check`` (theorycheck/junit.py, baseline.py)."""
    p.add_argument("--format", default="text", choices=["text", "json", "csv"],
                   help="verdicts on stdout as a text table (default), JSON or CSV (messages go to stderr)")
    p.add_argument("--junit-xml", metavar="FILE", default=None,
                   help="also write JUnit XML: one testcase per verdict row (violated = failure, "
                        "inconclusive/vacuous = skipped)")
    p.add_argument("--save-baseline", metavar="DIR", default=None,
                   help="store this run's per-seed errors as a regression baseline (re-runs, never reuses)")
    p.add_argument("--baseline", metavar="DIR", default=None,
                   help="re-run and compare with the baseline in DIR, paired by seed; exit 4 on a regression")
    p.add_argument("--baseline-tolerance", type=float, default=0.01,
                   help="relative worsening of the mean error tolerated before a regression (default 0.01 = 1%%)")


def build_parser() -> argparse.ArgumentParser:
    import textwrap

    ap = argparse.ArgumentParser(prog="theorycheck", description=textwrap.fill(DESCRIPTION, 79), epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"theorycheck {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="run specs and give statistical verdicts on their theorems")
    p.add_argument("specs", nargs="*", help="spec files or names (default: the embedded default suite)")
    _common(p)
    p.add_argument("--until-decided", action="store_true",
                   help="add seeds in batches until every test is decided (anytime-valid confidence sequences, "
                        "docs/statistics.md section 7)")
    p.add_argument("--max-seeds", type=int, default=1000, help="with --until-decided: seeds cap per configuration")
    p.add_argument("--batch", type=int, default=None,
                   help="with --until-decided: seeds per batch (default: --seeds or the spec's)")
    _ci_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="run specs and save raw per-replica results only")
    p.add_argument("specs", nargs="+", help="spec files or names")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-cm", help="DEPRECATED alias of 'theorycheck check cm_thm1 cm_thm3' (Cutkosky-Mehta "
                                        "Theorems 1 and 3 on robust regression)")
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0], help="noise levels (>= 0)")
    p.add_argument("--T", type=int, nargs="+", default=[100], help="horizons (>= 1)")
    p.add_argument("--seeds", type=int, default=20, help="seeds per configuration (>= 2)")
    p.add_argument("--out", default="results", help="output folder (default: ./results)")
    p.set_defaults(func=cmd_check_cm)

    p = sub.add_parser("list", help="list specs, theorems, algorithms, problem families and noise models, "
                                    "with where each comes from")
    p.set_defaults(func=cmd_list)

    from .commands import data as data_cmd

    data_cmd.register(sub)
    from .commands import pep as pep_cmd; pep_cmd.register(sub)  # noqa: E702
    from .commands import report as report_cmd

    report_cmd.register(sub)
    try:
        from .commands import figures as figures_cmd

        figures_cmd.register(sub)
    except ImportError:  # pragma: no cover - figures are optional until implemented
        pass
    return ap


def _load_all(args) -> list:
    if args.threads is not None:
        if args.threads < 1:
            raise SpecError(f"--threads must be an integer >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    paths = [resolve_spec(s) for s in args.specs] if args.specs else default_suite()
    specs = [load_spec(p) for p in paths]
    if args.seeds is not None and args.seeds < 2:
        raise SpecError(f"--seeds must be >= 2 (a confidence interval needs two), got {args.seeds}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SpecError(f"spec names must be unique in one invocation, got {names}")
    return specs


def _progress(args):
    return False if args.no_progress else None


def _validate(specs, args) -> None:
    """Everything is checked before anything is computed or written (exit 2 on failure)."""
    from .validate import check_invocation

    check_invocation(specs, args.out, args.device)


def _run_specs(specs, args, evaluate: bool):
    from .check import evaluate as evaluate_cfg
    from .executors import default_threads, from_args, run_sweep
    from .experiment import build
    from .outputs import label_batch
    from .saved import save_context, save_spec

    items = [(spec, cfg) for spec in specs for cfg in spec.configs()]
    default_threads(args)
    with from_args(args) as executor:  # validated (and a cluster reached) before anything is written
        tables = run_sweep(items, args.out, args.seeds, args.device, args.dtype, executor,
                           getattr(args, "chunk_seeds", None), log=lambda m: print(m, file=sys.stderr),
                           progress=_progress(args))
    rows = []
    for (spec, cfg), t in zip(items, tables):
        r = label_batch(evaluate_cfg(spec, cfg, t, args.device), cfg, build(spec, cfg, args.device)[1].sigma)
        # what `theorycheck figures` needs besides the raw table: the spec, constants, bounds (saved.py)
        save_spec(spec, args.out)
        save_context(spec, cfg, args.out, t, args.device, r)
        if evaluate:
            rows += r
    return rows, tables


def _no_verdict_reason(specs) -> str:
    none = [s.name for s in specs if s.theorem == "none"]
    why = f"spec(s) {', '.join(none)} have theorem = 'none' (results only; use 'theorycheck run')" if none else \
        "the specs produced no test"
    return f"theorycheck: no verdict: {why}; exit {EXIT_NOT_ALL_HOLD} (nothing was tested, which is not success)"


def cmd_run(args) -> int:
    from .outputs import write_tables
    from .table import concat

    specs = _load_all(args)
    _validate(specs, args)
    _, tables = _run_specs(specs, args, evaluate=False)
    out = Path(args.out)
    write_tables(out, {"results.csv": concat(tables)})
    print(f"wrote {out / 'results.csv'} and {out / 'raw'}/")
    return 0


def cmd_check(args) -> int:
    from .check import all_vacuous, exit_code, finalize
    from .provenance import verdicts_json, with_provenance
    from .report import format_verdicts
    from .outputs import write_tables
    from .table import atomic_write_text, concat

    specs = _load_all(args)
    _validate(specs, args)
    _ci_validate(args, specs)
    if args.until_decided:
        from .sequential import check_until_decided

        batch = args.batch or args.seeds or min(s.n_seeds for s in specs)
        rows, tables = check_until_decided(specs, args.out, batch, args.max_seeds, args.device, args.dtype,
                                           _progress(args), log=lambda m: print(m, file=sys.stderr))
    else:
        rows, tables = _run_specs(specs, args, evaluate=True)
    alpha = min(s.check.get("alpha", 0.05) for s in specs)
    verdicts = finalize(rows, alpha)
    if any(s.check.get("pep") for s in specs):  # opt-in: exact worst cases next to bound and mean (docs/pep.md)
        from .pep import add_pep_columns

        verdicts = add_pep_columns(verdicts, specs, device=args.device)
    report = format_verdicts(verdicts, alpha)  # rendered before anything is written
    out = Path(args.out)
    vtable, meta = with_provenance(verdicts, args.device, args.dtype)
    write_tables(out, {"results.csv": concat(tables), "verdicts.csv": vtable})
    atomic_write_text(out / "verdicts.json", verdicts_json(vtable, meta))
    regressions = _ci_baseline(args, specs, tables, alpha)
    if args.format == "text":
        print(report)
        print(f"\nwrote {out / 'verdicts.csv'} (and verdicts.json) and {out / 'results.csv'}")
    if not len(verdicts):
        print(_no_verdict_reason(specs), file=sys.stderr)
    if all_vacuous(verdicts):
        print("theorycheck: every test is vacuous (each bound is met by the method that never moves): "
              "nothing was learnt about the method; exit code 3", file=sys.stderr)
    return _ci_report(args, verdicts, regressions, alpha, exit_code(verdicts))


def _ci_validate(args, specs) -> None:
    """Refuse bad CI options and an incompatible baseline before anything runs (exit 2)."""
    from . import baseline

    tol = args.baseline_tolerance
    if not (0 <= tol < 1):
        raise SpecError(f"--baseline-tolerance must be in [0, 1) (a relative tolerance), got {tol}")
    if args.baseline and args.save_baseline and Path(args.baseline).resolve() == Path(args.save_baseline).resolve():
        raise SpecError("--baseline and --save-baseline must name different folders")
    if args.baseline:
        baseline.validate(args.baseline, specs, n_seeds=args.seeds, dtype=args.dtype, device=args.device)


def _ci_baseline(args, specs, tables, alpha):
    """Save and/or compare a regression baseline; returns the regression table (None without --baseline)."""
    from . import baseline

    runs = list(zip([(s, c) for s in specs for c in s.configs()], tables))
    runs = [(s, c, t) for (s, c), t in runs]
    if args.save_baseline:
        p = baseline.save(args.save_baseline, runs, n_seeds=args.seeds, dtype=args.dtype, device=args.device)
        print(f"wrote baseline {p}", file=sys.stderr)
    if not args.baseline:
        return None
    reg = baseline.compare(args.baseline, runs, tolerance=args.baseline_tolerance, alpha=alpha)
    from .table import write_csv

    write_csv(reg, Path(args.out) / "regressions.csv")
    return reg


def _ci_report(args, verdicts, regressions, alpha, code) -> int:
    """--format json/csv on stdout, --junit-xml, the regression table; exit 4 on a regression (1 still wins)."""
    from . import baseline, junit

    if args.format == "json":
        print(junit.to_json(verdicts, regressions, alpha=alpha, exit_code=code))
    elif args.format == "csv":
        from .table import csv_text

        sys.stdout.write(csv_text(verdicts))
    if args.junit_xml:
        junit.write_junit_xml(args.junit_xml, verdicts, regressions)
        print(f"wrote {args.junit_xml}", file=sys.stderr)
    if regressions is not None:
        print(baseline.format_regressions(regressions, alpha), file=sys.stdout if args.format == "text" else sys.stderr)
        if baseline.n_regressions(regressions) and code != 1:
            return baseline.EXIT_REGRESSION
    return code


def cmd_check_cm(args) -> int:
    """Deprecated: ``theorycheck check cm_thm1 cm_thm3`` with the grid given here, relabelled as before (spec
    'cutkosky_mehta', bound_form 'theorem (vacuous)' on vacuous rows) and written to verdicts_cm.csv."""
    import dataclasses

    from .check import all_vacuous, exit_code, finalize, is_vacuous
    from .report import format_verdicts

    print("theorycheck: 'check-cm' is deprecated; use 'theorycheck check cm_thm1 cm_thm3' (specs "
          "problems/cm_thm1.toml, problems/cm_thm3.toml)", file=sys.stderr)
    if args.seeds < 2:
        raise SpecError(f"--seeds must be >= 2, got {args.seeds}")
    if any(s < 0 for s in args.sigmas) or any(T < 1 for T in args.T):
        raise SpecError(f"--sigmas must be >= 0 and --T >= 1, got {args.sigmas} and {args.T}")
    from .outputs import write_tables
    from .validate import check_out_dir

    check_out_dir(args.out)
    specs = []
    for th in ("cm_thm1", "cm_thm3"):
        base = load_spec(resolve_spec(th))
        for T in args.T:
            specs.append(dataclasses.replace(
                base, name=f"{th}_T{T}", noise={**base.noise, "sigma": [float(s) for s in args.sigmas]},
                run={**base.run, "K": T, "checkpoints": [T], "seeds": args.seeds}))
    ns = argparse.Namespace(seeds=args.seeds, out=args.out, device="cpu", dtype=None, no_progress=True)
    rows, _ = _run_specs(specs, ns, evaluate=True)
    verdicts = finalize(rows, 0.05)
    verdicts["spec"] = "cutkosky_mehta"
    vac = [is_vacuous(r) for r in verdicts.to_dict("records")]
    verdicts["bound_form"] = [f"{b} (vacuous)" if v else b for b, v in zip(verdicts["bound_form"], vac)]
    report = format_verdicts(verdicts)
    write_tables(args.out, {"verdicts_cm.csv": verdicts})
    print(report)
    print(f"\nwrote {Path(args.out) / 'verdicts_cm.csv'}")
    if all_vacuous(verdicts):
        print("theorycheck: every test is vacuous; exit code 3", file=sys.stderr)
    return exit_code(verdicts)


def cmd_list(args) -> int:
    from . import algorithms, theorems
    from .registries import NOISES, PROBLEMS

    print("specs:")
    for d in spec_dirs():
        for p in sorted(d.glob("*.toml")):
            try:
                s = load_spec(p)
                print(f"  {s.name:<28} {s.theorem:<9} {p}  {s.description}")
            except SpecError as e:
                print(f"  {p.stem:<28} INVALID  {e}")
    print("theorems:")
    for name, t, src in theorems.REGISTRY.items():
        print(f"  {name:<16} {t.summary}  [{t.reference}]  from {src}")
    print("algorithms:")
    for name, cls, src in algorithms.REGISTRY.items():
        doc = first_sentence(cls.__doc__)
        print(f"  {name:<16} options {', '.join(cls.options):<28} from {src}  {doc}")
    print("problem families:")
    for name, f, src in PROBLEMS.items():
        print(f"  {name:<20} from {src}")
    print("noise models:")
    for name, f, src in NOISES.items():
        print(f"  {name:<20} from {src}")
    print(f"  {'minibatch':<20} from theorycheck (built-in; the minibatch oracle of a finite-sum problem)")
    broken = [(reg.kind, n, msg) for reg in (theorems.REGISTRY, algorithms.REGISTRY, PROBLEMS, NOISES)
              for n, msg in sorted(reg.broken.items())]
    if broken:
        print("broken plug-ins (not loaded):")
        for kind, n, msg in broken:
            print(f"  {kind}: {n}: {msg}")
    return 0


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, whole: lines are joined, and the sentence ends at a
    period followed by a space and a capital letter (so "et al. 2009" or "i.e. torch" do not end it), or at the
    end of the paragraph. Never cut mid-sentence."""
    para = " ".join((doc or "").strip().split("\n\n")[0].split())
    m = re.search(r"(?<!\be\.g)(?<!\bi\.e)\.(?= [A-Z])", para)
    return para[:m.end()] if m else para


def main(argv=None) -> int:
    """Exit codes: see :mod:`theorycheck.errors` (0 holds, 1 violated, 2 bad input, 3 not all hold / no verdict,
    5 internal error, 130 interrupted)."""
    from .data import DataError

    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (SpecError, DataError) as e:
        print(f"theorycheck: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("theorycheck: interrupted; finished configurations are saved and will be reused", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a crash is not a verdict: its own exit code, one line, the traceback in a file
        path = save_traceback(e, sys.argv[1:] if argv is None else argv)
        print(crash_message(e, path), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
