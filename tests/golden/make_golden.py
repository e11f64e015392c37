"""Write the golden verdict tables that tests/test_golden.py compares against.

Run once, from the repository root, on the commit whose verdicts are to be pinned (they were written before the
plug-in refactor of issue 9):  THEORYCHECK_DATA=../shared/data python tests/golden/make_golden.py
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from test_golden import CASES, cli_args  # noqa: E402

for name, args in CASES.items():
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "theorycheck.cli", *cli_args(args, d)], check=False,
                       capture_output=True)
        src = next(Path(d).glob("verdicts*.csv"))
        shutil.copy(src, HERE / f"{name}.csv")
        print(name, sum(1 for _ in open(src)) - 1, "rows")
