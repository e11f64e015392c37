"""Bench-only experiment (issue 12): what a compiled, fused gather–sigmoid–scatter kernel would buy over the
engine's torch eager kernels, measured in the same process on a9a at R = 256.

`bench/fused/fused.cpp` is compiled here with g++ (-O3 -mavx2 -mfma -ffast-math, glibc's libmvec for the
vectorised exp / expf / log1p) and called through ctypes. It takes the engine's own binary-feature layout
(`BinaryRowsLogistic`: distinct rows, column patterns P, selection E) and does, per block of replicas, one pass over
the distinct rows: four pattern gathers, the sigmoid (gradient, float32) or the softplus (metric, float64), and
for the gradient four scatter-adds. The first stage P xᵀ and the last Pᵀ W stay torch CSR products. theorycheck does
not use this code: it would add a C++ build to the package (see bench/README.md, "Third pass").

    THEORYCHECK_DATA=/work/shared/data python bench/fused_kernel.py [--R 256] [--rounds 7]

Checks before timing: the fused gradient matches `f_grad` to 1e-5 · max|∇f| (float32), the fused value matches
`f_value` to 1e-13 relative (float64); a negative control (a perturbed weight) must fail the gradient check.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_engine import SHAPE, load_data, machine  # noqa: E402

from theorycheck.problems.binary_logistic import BinaryRowsLogistic  # noqa: E402

FLAGS = ["-O3", "-mavx2", "-mfma", "-fno-math-errno", "-fopenmp-simd", "-ffast-math", "-shared", "-fPIC"]


def build(out_dir: Path) -> ctypes.CDLL:
    lib = out_dir / "libfused.so"
    try:
        subprocess.run(["g++", *FLAGS, str(HERE / "fused" / "fused.cpp"), "-o", str(lib), "-lmvec", "-lm"],
                       check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"cannot build bench/fused/fused.cpp ({e}): this experiment needs g++ and glibc >= 2.35 "
                         "(libmvec with log1p) on x86-64 with AVX2")
    return ctypes.CDLL(str(lib))


class Fused:
    """The layout of `L` as dense per-row tables: idx (U, 4) pattern ids (n_pat for an empty part), wf = s_u c_u,
    wb = n_u s_u c_u / N, count n_u."""

    def __init__(self, L: BinaryRowsLogistic, lib: ctypes.CDLL):
        if L.P is None or len(L.cuts) - 1 > 4:
            raise SystemExit("the fused kernel handles factorised layouts with at most 4 parts")
        E = sp.csr_matrix(L.E)
        npat = L.P.shape[0]
        part = np.searchsorted(L.cuts, L.P.indices[L.P.indptr[:-1]], side="right") - 1  # part of each pattern
        rows = np.repeat(np.arange(E.shape[0]), np.diff(E.indptr))
        idx = np.full((E.shape[0], 4), npat, dtype=np.int64)
        idx[rows, part[E.indices]] = E.indices
        wf = np.zeros(E.shape[0])
        wf[rows] = E.data
        self.L, self.lib, self.npat, self.idx = L, lib, npat, torch.as_tensor(idx)
        self.wf64 = torch.as_tensor(wf)
        self.wf32 = self.wf64.float()
        self.wb32 = torch.as_tensor(wf * L.count / L.N, dtype=torch.float32)
        self.cnt64 = torch.as_tensor(L.count)
        dts = (torch.float32, torch.float64)
        csr = lambda S, dt: torch.sparse_csr_tensor(torch.as_tensor(S.indptr), torch.as_tensor(S.indices),
                                                    torch.as_tensor(S.data, dtype=dt), size=S.shape)
        self.P = {dt: csr(L.P, dt) for dt in dts}
        self.PT = {dt: csr(sp.csr_matrix(L.P.T), dt) for dt in dts}
        self.q = {dt: torch.as_tensor(L.q, dtype=dt) for dt in dts}

    def _Y(self, X):
        Y = torch.zeros(self.npat + 1, X.shape[0], dtype=X.dtype)
        Y[:self.npat] = self.P[X.dtype] @ X.T.contiguous()
        return Y

    def grad(self, X: torch.Tensor, B: int) -> torch.Tensor:  # X (R, n) float32
        Y = self._Y(X)
        W = torch.zeros_like(Y)
        p = lambda t: ctypes.c_void_p(t.data_ptr())
        self.lib.grad_f32(p(Y), p(self.idx), p(self.wf32), p(self.wb32), p(W), ctypes.c_int64(len(self.idx)),
                          ctypes.c_int64(X.shape[0]), ctypes.c_int64(B))
        return (self.PT[X.dtype] @ W[:self.npat]).T - self.q[X.dtype]

    def value(self, X: torch.Tensor, B: int) -> torch.Tensor:  # X (R, n) float64
        Y = self._Y(X)
        S = torch.zeros(X.shape[0], dtype=torch.float64)
        p = lambda t: ctypes.c_void_p(t.data_ptr())
        self.lib.value_f64(p(Y), p(self.idx), p(self.wf64), p(self.cnt64), p(S), ctypes.c_int64(len(self.idx)),
                           ctypes.c_int64(X.shape[0]), ctypes.c_int64(B))
        return S / self.L.N - X @ self.q[torch.float64]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--R", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds; min and median reported")
    ap.add_argument("--blocks", type=int, nargs="+", default=[16, 32, 64], help="replica blocks of the fused kernel")
    a = ap.parse_args(argv)
    if max(a.blocks) > 512 or min(a.blocks) < 1:
        raise SystemExit("--blocks must be in [1, 512]")
    torch.set_num_threads(1)
    A, b, name = load_data("auto", SHAPE[0])
    L = BinaryRowsLogistic(A, b)
    with tempfile.TemporaryDirectory() as d:
        F = Fused(L, build(Path(d)))
    print(f"machine: {machine('cpu')}\ndata: {name}, layout {L.describe()}")
    g = torch.Generator().manual_seed(0)
    X32 = torch.randn(a.R, L.n, generator=g) * 0.5
    X64 = X32.double()
    # correctness first (and a negative control)
    ref_g, ref_v = L.f_grad(X32), L.f_value(X64)
    scale = float(ref_g.abs().max())
    for B in a.blocks:
        eg = float((F.grad(X32, B) - ref_g).abs().max()) / scale
        ev = float(((F.value(X64, B) - ref_v) / ref_v).abs().max())
        print(f"B={B}: fused gradient max error {eg:.1e} x max|grad| (tolerance 1e-5); fused value max relative "
              f"error {ev:.1e} (tolerance 1e-13)")
        if eg > 1e-5 or ev > 1e-13:
            raise SystemExit("the fused kernel does not compute the engine's f / grad f")
    F.wb32[0] *= 1.5
    eg = float((F.grad(X32, a.blocks[0]) - ref_g).abs().max()) / scale
    F.wb32[0] /= 1.5
    print(f"negative control (one row weight x 1.5): gradient error {eg:.1e} x max|grad|"
          f" -> {'detected' if eg > 1e-5 else 'NOT DETECTED'}")
    if eg <= 1e-5:
        raise SystemExit("the gradient check cannot fail")
    cases = [("engine f_grad float32", lambda: L.f_grad(X32))]
    cases += [(f"fused grad float32 B={B}", lambda B=B: F.grad(X32, B)) for B in a.blocks]
    cases += [("engine f_value float64", lambda: L.f_value(X64))]
    cases += [(f"fused value float64 B={B}", lambda B=B: F.value(X64, B)) for B in a.blocks]
    # the parts of the fused gradient: the two torch CSR stages around the C++ pass
    Y32, B0 = F._Y(X32), a.blocks[-1]
    W32 = torch.zeros_like(Y32)
    ptr = lambda t: ctypes.c_void_p(t.data_ptr())
    cases += [("  part: first stage P x^T", lambda: F._Y(X32)),
              (f"  part: C++ pass B={B0}", lambda: F.lib.grad_f32(
                  ptr(Y32), ptr(F.idx), ptr(F.wf32), ptr(F.wb32), ptr(W32.zero_()), ctypes.c_int64(len(F.idx)),
                  ctypes.c_int64(a.R), ctypes.c_int64(B0))),
              ("  part: last stage P^T W", lambda: (F.PT[torch.float32] @ W32[:F.npat]).T - F.q[torch.float32])]
    times = {k: [] for k, _ in cases}
    for _ in range(a.rounds):
        for k, f in cases:
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    base = {"grad": np.median(times["engine f_grad float32"]), "value": np.median(times["engine f_value float64"])}
    print(f"\nR = {a.R}, 1 thread, {a.rounds} interleaved rounds (ms per call)")
    print(f"{'kernel':28s} {'min':>8s} {'median':>8s} {'engine / this (medians)':>24s}")
    for k, _ in cases:
        med = np.median(times[k])
        ref = base["value"] if "value" in k else base["grad"]
        print(f"{k:28s} {1e3 * min(times[k]):8.2f} {1e3 * med:8.2f} {ref / med:24.2f}")


if __name__ == "__main__":
    main()
