"""Smoke test of bench/bench_engine.py: a tiny run finishes and prints the ratio table (no timing assertion)."""
import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_prints_ratio_table(tmp_path):
    out = tmp_path / "bench.csv"
    env = {k: v for k, v in os.environ.items() if k != "THEORYCHECK_DATA"}  # synthetic data, whatever is installed
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_engine.py"), "--quick", "--data", "synthetic",
                        "--N", "3000", "--R", "1", "3", "--K", "10", "--threads", "1", "--out", str(out)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    text = p.stdout
    assert "machine:" in text and "torch" in text
    header = next(line for line in text.splitlines() if line.startswith("method"))
    for col in ("steps/s", "x scipy", "x numpy", "x torch.optim"):
        assert col in header
    for label in ("engine float32", "engine float64", "numpy dense loop", "scipy-sparse loop", "torch.optim loop"):
        assert label in text, label
    rows = list(csv.DictReader(open(out)))
    assert {(r["method"], r["dtype"], r["R"]) for r in rows} >= {("engine float32", "float32", "1"),
                                                                  ("engine float64", "float64", "3")}
    scipy_row = next(r for r in rows if r["method"] == "scipy-sparse loop")
    assert float(scipy_row["x_scipy_sparse_loop"]) == 1.0
    assert all(float(r["replica_steps_per_s"]) > 0 for r in rows)
