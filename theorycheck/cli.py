"""Command line: ``theorycheck {check,run,list,data,figures}``. Thin: parse, load specs, call the library, print,
set the exit code (0 all hold, 1 something violated, 2 bad input, 3 inconclusive only, 4 a regression against
``--baseline``)."""
from __future__ import annotations

import argparse
import importlib.resources
import sys
from pathlib import Path

from . import __version__
from .spec import THEOREMS, SpecError, load_spec

PACKAGED_SPECS = Path(importlib.resources.files("theorycheck.specs"))
EXIT_BAD_INPUT = 2


def spec_dirs() -> list[Path]:
    """./problems (a checkout or a user's own specs), then the specs shipped with the package."""
    dirs = [Path("problems"), PACKAGED_SPECS]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d.resolve() not in [e.resolve() for e in dirs[:i]]]


def resolve_spec(arg: str) -> Path:
    """A spec is a path to a .toml file or the name of one in ./problems or the packaged default suite."""
    p = Path(arg)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise SpecError(f"{arg}: no such spec file")
        return p
    for d in spec_dirs():
        if (d / f"{arg}.toml").is_file():
            return d / f"{arg}.toml"
    raise SpecError(f"{arg}: no spec of that name in {', '.join(str(d) for d in spec_dirs())} "
                    "(see 'theorycheck list')")


def default_suite() -> list[Path]:
    """The packaged specs whose ``suite`` list contains "default" (synthetic problems, under a minute)."""
    return [p for p in sorted(PACKAGED_SPECS.glob("*.toml")) if "default" in load_spec(p).suite]


def _common(p):
    p.add_argument("--seeds", type=int, default=None, help="number of seeds per configuration (default: the spec's)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default: cpu)")
    p.add_argument("--dtype", default=None, choices=["float32", "float64"], help="iterate dtype (default: the spec's)")
    p.add_argument("--out", default="results", help="output folder (default: ./results)")
    p.add_argument("--no-progress", action="store_true", help="never show progress bars")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is faster on a machine shared with other jobs)")


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
    ap = argparse.ArgumentParser(prog="theorycheck", description=__doc__.splitlines()[0])
    ap.add_argument("--version", action="version", version=f"theorycheck {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="run specs and give statistical verdicts on their theorems")
    p.add_argument("specs", nargs="*", help="spec files or names (default: the embedded default suite)")
    _common(p)
    _ci_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="run specs and save raw per-replica results only")
    p.add_argument("specs", nargs="+", help="spec files or names")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-cm", help="Cutkosky-Mehta Theorems 1 and 3 (normalized SGD+M, NIGT) on robust regression")
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0], help="noise levels (>= 0)")
    p.add_argument("--T", type=int, nargs="+", default=[100], help="horizons (>= 1)")
    p.add_argument("--seeds", type=int, default=20, help="seeds per configuration (>= 2)")
    p.add_argument("--out", default="results", help="output folder (default: ./results)")
    p.set_defaults(func=cmd_check_cm)

    p = sub.add_parser("list", help="list specs, algorithms and theorems")
    p.set_defaults(func=cmd_list)

    from .commands import data as data_cmd

    data_cmd.register(sub)
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


def _run_specs(specs, args, evaluate: bool):
    from .check import evaluate as evaluate_cfg
    from .experiment import run_or_load

    rows, tables = [], []
    for spec in specs:
        for cfg in spec.configs():
            print(f"[{spec.name}] {cfg.key}: {args.seeds or spec.n_seeds} seeds, K={spec.K}", file=sys.stderr)
            if getattr(args, "baseline", None) or getattr(args, "save_baseline", None):  # a baseline needs a fresh run
                from .experiment import raw_path

                raw_path(args.out, spec, cfg).with_suffix(".json").unlink(missing_ok=True)
            t = run_or_load(spec, cfg, args.out, args.seeds, args.device, args.dtype, _progress(args))
            tables.append(t)
            if evaluate:
                rows += evaluate_cfg(spec, cfg, t, args.device)
    return rows, tables


def cmd_run(args) -> int:
    from .table import Table

    specs = _load_all(args)
    _, tables = _run_specs(specs, args, evaluate=False)
    out = Path(args.out)
    Table.concat(tables).to_csv(out / "results.csv")
    print(f"wrote {out / 'results.csv'} and {out / 'raw'}/")
    return 0


def cmd_check(args) -> int:
    from .check import exit_code, finalize
    from .report import format_verdicts
    from .table import Table

    specs = _load_all(args)
    _ci_validate(args, specs)
    rows, tables = _run_specs(specs, args, evaluate=True)
    alpha = min(s.check.get("alpha", 0.05) for s in specs)
    verdicts = finalize(rows, alpha)
    out = Path(args.out)
    Table.concat(tables).to_csv(out / "results.csv")
    verdicts.to_csv(out / "verdicts.csv")
    regressions = _ci_baseline(args, specs, tables, alpha)
    if args.format == "text":
        print(format_verdicts(verdicts, alpha))
        print(f"\nwrote {out / 'verdicts.csv'} and {out / 'results.csv'}")
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
    reg.to_csv(Path(args.out) / "regressions.csv")
    return reg


def _ci_report(args, verdicts, regressions, alpha, code) -> int:
    """--format json/csv on stdout, --junit-xml, the regression table; exit 4 on a regression (1 still wins)."""
    from . import baseline, junit

    if args.format == "json":
        print(junit.to_json(verdicts, regressions, alpha=alpha, exit_code=code))
    elif args.format == "csv":
        sys.stdout.write(verdicts.to_csv_text())
    if args.junit_xml:
        junit.write_junit_xml(args.junit_xml, verdicts, regressions)
        print(f"wrote {args.junit_xml}", file=sys.stderr)
    if regressions is not None:
        print(baseline.format_regressions(regressions, alpha), file=sys.stdout if args.format == "text" else sys.stderr)
        if baseline.n_regressions(regressions) and code != 1:
            return baseline.EXIT_REGRESSION
    return code


def cmd_check_cm(args) -> int:
    from .check import exit_code
    from .methods.checks import check_cutkosky_mehta
    from .report import format_verdicts

    if args.seeds < 2:
        raise SpecError(f"--seeds must be >= 2, got {args.seeds}")
    if any(s < 0 for s in args.sigmas) or any(T < 1 for T in args.T):
        raise SpecError(f"--sigmas must be >= 0 and --T >= 1, got {args.sigmas} and {args.T}")
    verdicts = check_cutkosky_mehta(sigmas=tuple(args.sigmas), T=args.T, seeds=range(args.seeds))
    verdicts.to_csv(Path(args.out) / "verdicts_cm.csv")
    print(format_verdicts(verdicts))
    print(f"\nwrote {Path(args.out) / 'verdicts_cm.csv'} (rows marked 'theorem (vacuous)' hold for any algorithm)")
    return exit_code(verdicts)


def cmd_list(args) -> int:
    from .algorithms import ALGORITHMS

    print("specs:")
    for d in spec_dirs():
        for p in sorted(d.glob("*.toml")):
            try:
                s = load_spec(p)
                print(f"  {s.name:<28} {s.theorem:<6} {p}  {s.description}")
            except SpecError as e:
                print(f"  {p.stem:<28} INVALID  {e}")
    print("algorithms:")
    for name, cls in sorted(ALGORITHMS.items()):
        print(f"  {name:<16} options {', '.join(cls.options):<16} {(cls.__doc__ or '').strip().splitlines()[0]}")
    print("theorems:")
    for k, v in THEOREMS.items():
        print(f"  {k:<6} {v}")
    return 0


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (SpecError, ValueError) as e:
        print(f"theorycheck: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("theorycheck: interrupted; finished configurations are saved and will be reused", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
