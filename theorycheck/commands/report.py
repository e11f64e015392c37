"""`theorycheck report RESULTS_DIR --html FILE`: a self-contained HTML page of a results folder
(theorycheck/html_report.py). Exit codes: 0 written, 2 when the folder holds no verdicts."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="write a self-contained HTML report of a results folder",
                              description="One HTML page (no network needed): sortable verdict tables coloured by "
                                          "verdict, convergence figures with their bounds, the regression table.")
    p.add_argument("results", help="results folder (holds verdicts*.csv and raw/<spec>/)")
    p.add_argument("--html", required=True, metavar="FILE", help="output HTML file")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from ..html_report import ReportError, write_html

    try:
        path = write_html(args.results, args.html)
    except ReportError as e:
        print(f"theorycheck report: error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0
