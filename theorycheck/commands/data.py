"""`theorycheck data fetch NAME` and `theorycheck data info NAME`: download (checksum-verified) and describe data sets.

Wire-up: the CLI calls :func:`register` with its subparsers object; every leaf parser sets ``func(args) -> int``
(0 ok, 2 bad input or data error, with a one-line message on stderr).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..data import DATASETS, DataError, fetch, locate


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="download and describe data sets",
                              description="Download (checksum-verified) and describe the data sets.")
    sub = p.add_subparsers(dest="data_command", metavar="{fetch,info}")
    sub.required = True

    f = sub.add_parser("fetch", help="download a data set and verify its SHA-256")
    f.add_argument("name", help=f"data set ({', '.join(sorted(DATASETS))})")
    f.add_argument("--url", help="full URL of the file, or a base URL ending in '/' (the file name is appended)")
    f.add_argument("--dest", help="destination folder (default: $THEORYCHECK_DATA, ./data, or the user cache)")
    f.set_defaults(func=cmd_fetch)

    i = sub.add_parser("info", help="sizes, constants and the certified infimum of the logistic problem")
    i.add_argument("name", help=f"data set ({', '.join(sorted(DATASETS))}); any label when --file is given")
    i.add_argument("--file", help="read this svmlight file instead of the registered copy")
    i.add_argument("--n-features", type=int, default=None, help="number of features (default: 123 for a9a)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.add_argument("--no-cache", action="store_true", help="recompute the certificate")
    i.set_defaults(func=cmd_info)


def _fail(msg: str) -> int:
    print(f"theorycheck data: error: {msg}", file=sys.stderr)
    return 2


def cmd_fetch(args) -> int:
    try:
        path = fetch(args.name, dest_dir=args.dest, url=args.url)
    except DataError as e:
        return _fail(str(e).splitlines()[0])
    print(f"{args.name}: {path} (SHA-256 verified)")
    return 0


def info(path, n_features: int = 123, cache: bool = True) -> dict:
    """The facts printed by ``data info`` as a dict."""
    from ..certify import logistic_value
    from ..problems.a9a import load_svmlight_problem

    prob = load_svmlight_problem(path, n_features=n_features, L="row", comparators=True, cache=cache)
    A, b = prob._A_np, prob._b.cpu().numpy()
    c = prob.certificate
    F0 = logistic_value(A, b, prob.x0.cpu().numpy())
    return {"file": str(path), "N": int(A.shape[0]), "n": int(A.shape[1]), "nnz": int(A.nnz),
            "positives": int((b > 0).sum()), "negatives": int((b < 0).sum()),
            "L_row": prob.L_row, "L_tight": prob.L_tight, "M": 0.0,
            "F_inf": c.F_inf, "attained": c.attained, "certified_by": c.method,
            "removed_features_1based": c.removed_features_1based, "removed_rows": c.removed_rows,
            "rank_reduced": c.rank, "newton_grad_norm": c.grad_norm, "half_norm_sq_w_star": c.half_norm_sq,
            "F_x0": F0, "comparators": [{"name": k.name, "delta": k.delta, "V": k.V} for k in prob.comparators],
            "x0": "0"}


def cmd_info(args) -> int:
    try:
        if args.file:
            path = Path(args.file)
            nf = args.n_features or (DATASETS[args.name].n_features if args.name in DATASETS else 123)
        else:
            path = locate(args.name)
            nf = args.n_features or DATASETS[args.name].n_features
        d = info(path, n_features=nf, cache=not args.no_cache)
    except DataError as e:
        return _fail(str(e).splitlines()[0])
    except ValueError as e:
        return _fail(str(e).splitlines()[0])
    d["name"] = args.name
    if args.json:
        print(json.dumps(d))
        return 0
    print(f"{args.name}: {d['file']}")
    print(f"  N = {d['N']}, n = {d['n']}, nnz = {d['nnz']}; labels +1: {d['positives']}, -1: {d['negatives']}")
    print("  rows scaled to unit l2 norm, loss averaged, x0 = 0, Euclidean, h = 0")
    print(f"  L_row = {d['L_row']:.6g} (1/4 max ||a_i||^2), L_tight = {d['L_tight']:.6g} (lambda_max(A^T A)/(4N)),"
          f" M = 0")
    print(f"  F(x0) = {d['F_x0']:.16g}")
    print(f"  F_inf = {d['F_inf']:.16g} ({'attained' if d['attained'] else 'NOT attained'})")
    print(f"  certified by: {d['certified_by']}")
    feats = d["removed_features_1based"]
    print(f"  removed features (1-based): {feats if feats else 'none'}; rows with loss -> 0: {d['removed_rows']}")
    print(f"  0.5 ||w*||^2 = {d['half_norm_sq_w_star']:.10g} (min-norm minimiser of the reduced problem, "
          f"rank {d['rank_reduced']}, |grad| = {d['newton_grad_norm']:.1e})")
    for k in d["comparators"]:
        print(f"  comparator {k['name']:<12} Delta_u = {k['delta']:.6e}  V = {k['V']:.6g}")
    return 0
