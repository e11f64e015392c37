"""`theorycheck pep`: the exact worst case (PEPit) of a deterministic configuration, next to the theorem's bound.

Wire-up: the CLI calls :func:`register` with its subparsers object. Exit codes: 0 solved (a worst case above the
bound is reported in the output and in the field ``bound_violated``, it is not an error of the command), 2 bad input
(unsupported algorithm / schedule / option, horizon above the limit, missing PEPit or SDP solver), 4 the SDP solver
failed (status and residuals printed, no worst case).
"""
from __future__ import annotations

import json
import sys

from ..pep import (AM2_MAX_POINTS, EXIT_SOLVER_FAILED, K_MAX, SUPPORTED, PEPError, PEPSolverError,
                   pep_worst_case)


def register(subparsers) -> None:
    algs = ", ".join(f"{a} ({'/'.join(v['schedules'])})" for a, v in SUPPORTED.items())
    p = subparsers.add_parser(
        "pep", help="exact worst case over L-smooth convex functions (PEPit SDP) vs the theorem's bound",
        description="Worst case of E F(output) - F* over every L-smooth convex F with ||x0 - x*||^2 <= 2V "
                    f"(Euclidean, h = 0, sigma = 0), for exactly the engine's iterations. Supported: {algs}. "
                    f"K <= {K_MAX}; AM2 with m >= 2: at most {AM2_MAX_POINTS} points in the index-path tree. "
                    "Exit 0 solved, 2 bad input, 4 solver failure.")
    p.add_argument("--algorithm", required=True, help=f"one of {sorted(SUPPORTED)}")
    p.add_argument("--m", type=int, default=1, help="amortization length (AM1/AM2; 1 for the others)")
    p.add_argument("--K", type=int, required=True, help=f"iterations, 1..{K_MAX}")
    p.add_argument("--L", type=float, default=1.0, help="smoothness constant > 0 (default 1)")
    p.add_argument("--V", type=float, default=0.5, help="V = ||x0 - x*||^2 / 2 > 0 (default 0.5)")
    p.add_argument("--lam", type=float, default=None,
                   help="lambda = L*eta of the theorem schedules (default: the theorem's, 2/3 at sigma = 0)")
    p.add_argument("--schedule", default=None, choices=["theorem1", "theorem2", "constant"],
                   help="default: theorem2 for am2, constant for msgd, theorem1 otherwise")
    p.add_argument("--option", default=None, help="output option (default: the theorem's statistic)")
    p.add_argument("--alpha", type=float, default=None, help="constant schedule: alpha > 0")
    p.add_argument("--eta", type=float, default=None, help="constant schedule: eta = alpha (1 - beta) > 0")
    p.add_argument("--beta", type=float, default=None, help="constant schedule: beta in [0, 1)")
    p.add_argument("--F0-gap", dest="F0_gap", type=float, default=None,
                   help="extra constraint F(x0) - F* <= F0_GAP (Theorem 2's bound uses it; default L*V)")
    p.add_argument("--solver", default=None, help="CLARABEL (default), SCS or MOSEK")
    p.add_argument("--cache", default=None, help="cache folder (default ~/.cache/theorycheck/pep)")
    p.add_argument("--no-cache", action="store_true", help="solve again even if a cached result exists")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_pep)


def cmd_pep(args) -> int:
    try:
        r = pep_worst_case(args.algorithm, args.m, args.K, args.L, args.V, lam=args.lam, schedule=args.schedule,
                           option=args.option, alpha=args.alpha, beta=args.beta, eta=args.eta, F0_gap=args.F0_gap,
                           solver=args.solver, cache=args.cache, use_cache=not args.no_cache)
    except PEPError as e:
        print(f"theorycheck pep: error: {e}", file=sys.stderr)
        return 2
    except PEPSolverError as e:
        d = e.result.to_dict()
        if args.json:
            print(json.dumps({**d, "error": str(e)}, default=str))
        print(f"theorycheck pep: solver failure: {e}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    d = r.to_dict()
    d["bound_violated"] = None if r.bound is None else bool(r.worst_case > r.bound * (1 + 1e-6))
    if args.json:
        print(json.dumps(d, default=str))
        return 0
    print(f"{r.algorithm} m={r.m} K={r.K} schedule={r.schedule} option={r.option} L={r.L:g} V={r.V:g}"
          + (f" lam={r.lam:.6g}" if r.lam is not None else ""))
    print(f"  worst case   {r.worst_case:.6e}   (sup over L-smooth convex F of F(output) - F*)")
    if r.bound is not None:
        tag = "VIOLATED: the bound is false for this class" if d["bound_violated"] else "holds"
        print(f"  bound        {r.bound:.6e}   ({r.bound_name}); bound / worst case = {r.ratio:.4g}  [{tag}]")
    else:
        print(f"  bound        -   ({r.bound_name})")
    print(f"  solver {r.solver}, status {r.status}, {r.n_points} points, {r.n_paths} index path(s), "
          f"{r.seconds:.2f} s{' (cached)' if r.cached else ''}")
    return 0
