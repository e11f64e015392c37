#!/usr/bin/env python
"""Throughput of the batched engine against per-seed loops, in one run (bench/README.md has the numbers).

Workload: AM1-SGD (m = 10, Algorithm 5 by default, constant η, β) with the sphere-noise full-gradient oracle on
logistic regression with a9a's shape (32,561 × 123, binary features, L2-normalised rows): a9a itself when
$THEORYCHECK_DATA holds it, else a synthetic one-hot matrix with ~14 ones per row. The objective F(x) is
evaluated every 10 steps (in float64, as the runner always does).

Measured: replica-steps per second (R · K / wall time) of ``theorycheck.run.run`` at each R and iterate dtype,
and of per-seed baselines run for a few seeds: a plain numpy loop (dense, float64), the same loop on a
scipy-sparse CSR matrix (float64) and a torch.optim.SGD(nesterov=True) loop with autograd (float64, float32).
All configurations are interleaved round-robin over ``--repeats`` rounds and the median is reported, so load
from other processes affects engine and baselines alike.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import torch
import torch.nn.functional as Fnn

from theorycheck import algorithms as Alg
from theorycheck import rng
from theorycheck.oracles import Oracle, SphereNoise
from theorycheck.problems.logistic import Logistic
from theorycheck.run import run
from theorycheck.schedules import Constant

SHAPE = (32561, 123)
SIGMA, ETA, BETA, M, EVERY = 0.1, 1.0, 0.9, 10, 10


# --- data ---------------------------------------------------------------------------------------------------
def synthetic(N=SHAPE[0], n=SHAPE[1], seed=0):
    """One-hot features in 14 groups (a skewed category per group, a group missing with prob. 2%), rows scaled
    to unit ℓ2 norm; labels from a random logistic model."""
    g = np.random.default_rng(seed)
    sizes = np.array([2, 2, 3, 4, 5, 5, 6, 7, 9, 9, 11, 14, 16, 30])
    sizes[-1] += n - sizes.sum()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cols = []
    for s0, k in zip(starts, sizes):
        p = 1.0 / np.arange(1, k + 1) ** 1.2
        cols.append(s0 + g.choice(k, size=N, p=p / p.sum()))
    cols = np.stack(cols, 1)
    keep = g.random(cols.shape) > 0.02
    rows = np.repeat(np.arange(N), keep.sum(1))
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols[keep])), shape=(N, n))
    A = sp.csr_matrix(sp.diags(1.0 / np.sqrt(np.maximum(A.getnnz(1), 1))) @ A)
    w = g.standard_normal(n)
    b = np.where(g.random(N) < 1 / (1 + np.exp(-(A @ w))), 1.0, -1.0)
    return A, b, "synthetic one-hot (a9a shape)"


def load_data(kind: str, N: int = SHAPE[0]):
    d = os.environ.get("THEORYCHECK_DATA")
    path = Path(d) / "a9a" if d else None
    if kind in ("auto", "a9a") and path is not None and path.is_file():
        try:
            from theorycheck.data import load_svmlight
            A, b = load_svmlight(path, n_features=123)
        except ImportError:
            from sklearn.datasets import load_svmlight_file
            A, y = load_svmlight_file(str(path), n_features=123)
            A = sp.csr_matrix(sp.diags(1.0 / np.sqrt(np.maximum(A.multiply(A).sum(1).A1, 1e-300))) @ A)
            b = np.where(y > 0, 1.0, -1.0)
        return sp.csr_matrix(A), b, f"a9a ({path})"
    if kind == "a9a":
        raise SystemExit("--data a9a: set THEORYCHECK_DATA to a folder holding the file a9a")
    return synthetic(N=N)


# --- per-seed baselines ---------------------------------------------------------------------------------------
def numpy_loop(A, At, b, K, seed, sigma=SIGMA):
    """Algorithm 5 for one seed in numpy (float64); A dense ndarray or scipy CSR (At its CSR transpose).
    Returns F(x̃) every EVERY steps (Option II, as the engine records)."""
    N, n = A.shape
    g = np.random.default_rng(seed)

    def grad(x):
        mb = b * (A @ x)
        return At @ (-b / (1.0 + np.exp(mb))) / N

    def value(x):
        return float(np.mean(np.logaddexp(0.0, -b * (A @ x))))

    x, xt, o = np.zeros(n), np.zeros(n), np.zeros(n)
    vals = []
    for k in range(K):
        z = g.standard_normal(n)
        x = x - ETA * (grad(x) + z * (sigma / np.linalg.norm(z)))
        o = o + x
        if (k + 1) % M == 0:
            x = x + (BETA / M) * o
            xt = xt + o / M
            o = -M * xt
        if (k + 1) % EVERY == 0:
            vals.append(value(xt))
    return vals


def torch_optim_loop(A64, b64, K, seed, dtype):
    """torch.optim.SGD(lr=η, momentum=β, nesterov=True) on one seed with autograd; F evaluated in float64."""
    A, b = A64.to(dtype), b64.to(dtype)
    gen = torch.Generator().manual_seed(seed)
    w = torch.zeros(A.shape[1], dtype=dtype, requires_grad=True)
    opt = torch.optim.SGD([w], lr=ETA, momentum=BETA, nesterov=True)
    vals = []
    for k in range(K):
        opt.zero_grad()
        Fnn.softplus(-b * (A @ w)).mean().backward()
        z = torch.randn(A.shape[1], generator=gen, dtype=dtype)
        w.grad.add_(z * (SIGMA / torch.linalg.vector_norm(z)))
        opt.step()
        if (k + 1) % EVERY == 0:
            with torch.no_grad():
                vals.append(float(Fnn.softplus(-b64 * (A64 @ w.double())).mean()))
    return vals


# --- engine -----------------------------------------------------------------------------------------------------
def make_algorithm(name, problem):
    cls = {"am1_efficient": Alg.AM1Efficient, "am1_momentum": Alg.AM1Momentum}[name]
    return cls(problem.setup, Constant(BETA, eta=ETA), M)


def engine_run(problem, oracle, alg, K, R, dtype, device):
    return run(problem, oracle, alg, K, range(R), checkpoints=range(EVERY, K + 1, EVERY), dtype=dtype,
               device=device, progress=False)


def profile(problem, oracle, alg, R, dtype, device, reps=5):
    """Median ms per step of each part of a runner step at R replicas (evaluation amortised over EVERY steps)."""
    seeds = rng.as_seeds(range(R), device)
    X = torch.randn(R, problem.n, dtype=dtype, generator=torch.Generator().manual_seed(0)).to(device)
    state = alg.init(X, seeds)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    parts = {"gradient": lambda: problem.grad(X),
             "sphere noise (RNG)": lambda: oracle.noise.sample(seeds, 3, problem.n, dtype),
             "algorithm step": lambda: alg.step(state, X, M - 1),
             f"evaluation / {EVERY}": lambda: problem.error(alg.output(state, alg.default_option, M))}
    out = {}
    for name, f in parts.items():
        f()
        ts = []
        for _ in range(reps):
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            ts.append(time.perf_counter() - t0)
        out[name] = statistics.median(ts) * 1e3 / (EVERY if name.startswith("evaluation") else 1)
    return out


# --- JAX vmap + jit (what a user would write instead; optional: pip install jax) ---------------------------------
def jax_runner(Ad, b, K, R, dtype="float32"):
    """Algorithm 5 (AM1, m = M) with sphere noise, vmapped over R replicas and jitted, on a dense A of `dtype`;
    F evaluated in float64 every EVERY steps. Returns a callable running all K steps (blocks until done)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64 evaluation; iterates keep `dtype`
    A = jnp.asarray(Ad, dtype=dtype)
    A64, bb, bb64 = jnp.asarray(Ad, dtype=jnp.float64), jnp.asarray(b, dtype=dtype), jnp.asarray(b)
    N, n = Ad.shape

    def value(x):
        return jnp.mean(jnp.logaddexp(0.0, -bb64 * (A64 @ x.astype(jnp.float64))))

    def grad(x):
        return A.T @ (-bb / (1 + jnp.exp(bb * (A @ x)))) / N

    def block(carry, key):  # EVERY = M steps, then the averaging step and F(x̃)
        x, xt, o = carry
        def step(i, c):
            x, o = c
            z = jax.random.normal(jax.random.fold_in(key, i), (n,), dtype=dtype)
            x = x - ETA * (grad(x) + z * (SIGMA / jnp.linalg.norm(z)))
            return x, o + x
        x, o = jax.lax.fori_loop(0, M, step, (x, o))
        x = x + (BETA / M) * o
        xt = xt + o / M
        o = -M * xt
        return (x, xt, o), value(xt)

    def one(key):
        z0 = jnp.zeros(n, dtype=dtype)
        return jax.lax.scan(block, (z0, z0, z0), jax.random.split(key, K // M))[1]

    f = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(0), R)
    f(keys).block_until_ready()  # compile: not timed
    return lambda: f(keys).block_until_ready()


# --- both cores: one process per core, each running its share of the replicas -------------------------------------
def _proc_worker(args):
    data, R, K, dt, algorithm, reps = args
    torch.set_num_threads(1)
    A, b, _ = load_data(*data)
    problem = Logistic(A, b, F_ref=0.0, L="row", name="logistic")
    oracle, alg = Oracle(problem, SphereNoise(SIGMA)), make_algorithm(algorithm, problem)
    engine_run(problem, oracle, alg, EVERY, R, getattr(torch, dt), "cpu")  # warm-up
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        engine_run(problem, oracle, alg, K, R, getattr(torch, dt), "cpu")
        out.append((t0, time.perf_counter()))
    return out


def multiprocess_rates(data, R, K, dt, algorithm, procs, reps):
    """Replica-steps/s of `procs` processes each running R/procs replicas, timed over the span in which all
    of them ran (median over `reps` rounds)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(procs) as pool:
        spans = pool.map(_proc_worker, [(data, R // procs, K, dt, algorithm, reps)] * procs)
    return [R // procs * procs * K / (max(s[i][1] for s in spans) - min(s[i][0] for s in spans))
            for i in range(reps)]


def memory_per_replica(problem, oracle, alg, K, dtype, Rs=(1024, 8192), device="cpu"):
    """Peak memory growth per replica (bytes) between runs at two R: the peak RSS on CPU (Linux), the peak
    allocated device memory on CUDA."""
    import resource
    out = []
    for R in Rs:
        if str(device).startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        engine_run(problem, oracle, alg, EVERY, R, dtype, device)
        out.append(torch.cuda.max_memory_allocated() if str(device).startswith("cuda") else
                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return (out[1] - out[0]) / (Rs[1] - Rs[0])


def _memory_worker(args):
    data, rows, algorithm, dt = args
    torch.set_num_threads(1)
    A, b, _ = load_data(*data)
    if rows:
        A, b = A[:rows], b[:rows]
    problem = Logistic(A, b, F_ref=0.0, L="row", name="logistic")
    oracle, alg = Oracle(problem, SphereNoise(SIGMA)), make_algorithm(algorithm, problem)
    return memory_per_replica(problem, oracle, alg, EVERY, getattr(torch, dt))


def memory_per_replica_fresh(data, rows, algorithm, dt):
    """memory_per_replica on CPU in a fresh (spawned) process: ru_maxrss is the high-water mark of the whole
    process, so each dtype needs its own."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_memory_worker, ((data, rows, algorithm, dt),))


# --- reporting ------------------------------------------------------------------------------------------------
def machine(device) -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if str(device).startswith("cuda") else ""
    return (f"{model}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}{gpu}; "
            f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
            f"scipy {scipy.__version__}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def thread_limit(n: int):
    """Limit torch's intra-op threads and numpy's BLAS threads (threadpoolctl, when installed) to n."""
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover
        import contextlib
        return contextlib.nullcontext()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: K=20, R=1 4, one repeat, one seed")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--R", type=int, nargs="+", default=None, help="replica counts (default 1 64 256 1024)")
    ap.add_argument("--K", type=int, default=None, help="steps per run, a multiple of 10 (default 200)")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=None, help="interleaved rounds; the median is reported (default 3)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per per-seed baseline (default 2)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1],
                    help="thread counts (torch intra-op and BLAS) to measure everything with (default 1; on a shared "
                         "machine 2 threads can be 100x slower, see bench/README.md)")
    ap.add_argument("--algorithm", default="am1_efficient", choices=["am1_efficient", "am1_momentum"])
    ap.add_argument("--data", default="auto", choices=["auto", "a9a", "synthetic"],
                    help="auto: a9a from $THEORYCHECK_DATA when present, else synthetic")
    ap.add_argument("--N", type=int, default=SHAPE[0], help="rows of the synthetic data (default a9a's 32561)")
    ap.add_argument("--rows", type=int, default=None, help="use only the first ROWS rows of the data (a9a subsets)")
    ap.add_argument("--procs", type=int, nargs="+", default=None,
                    help="also run the engine as P processes (1 thread each) splitting R replicas, e.g. --procs 1 2")
    ap.add_argument("--jax", action="store_true", help="also time a JAX vmap+jit implementation (pip install jax)")
    ap.add_argument("--memory", action="store_true", help="print the peak memory per replica (CPU)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--profile", action="store_true", help="also print where a step's time goes at R=256")
    ap.add_argument("--out", default=None, help="CSV file for the results")
    a = ap.parse_args(argv)
    Rs = a.R or ([1, 4] if a.quick else [1, 64, 256, 1024])
    K = a.K or (20 if a.quick else 200)
    repeats = a.repeats or (1 if a.quick else 3)
    n_seeds = a.seeds or (1 if a.quick else 2)
    if K % M or K < EVERY:
        raise SystemExit(f"--K must be a positive multiple of {M}, got {K}")
    threads = sorted(set(a.threads))
    if min(threads) < 1:
        raise SystemExit(f"--threads must be >= 1, got {a.threads}")
    device = a.device

    A, b, data_name = load_data(a.data, a.N)
    if a.rows:
        A, b, data_name = A[:a.rows], b[:a.rows], f"{data_name}, first {a.rows} rows"
    t0 = time.perf_counter()
    problem = Logistic(A, b, F_ref=0.0, L="row", name="logistic", device=device)
    build_s = time.perf_counter() - t0
    oracle = Oracle(problem, SphereNoise(SIGMA))
    alg = make_algorithm(a.algorithm, problem)
    layout = problem.layout + (f" {problem._binary.describe()}" if problem.layout == "binary" else "")
    print(f"machine: {machine(device)}")
    print(f"data: {data_name}, {A.shape[0]} x {A.shape[1]}, nnz {A.nnz}; Logistic layout {layout} "
          f"(built in {build_s:.2f} s)")
    print(f"workload: {a.algorithm} m={M} eta={ETA} beta={BETA}, sphere noise sigma={SIGMA}, K={K}, F (float64) "
          f"every {EVERY} steps; threads {threads}; {repeats} interleaved rounds, median reported")

    if a.memory:  # CPU: one fresh process per dtype (the peak RSS is per process); CUDA: peak allocated memory
        for dt in a.dtypes:
            b_per = (memory_per_replica(problem, oracle, alg, K, getattr(torch, dt), device=device)
                     if str(device).startswith("cuda") else
                     memory_per_replica_fresh((a.data, a.N), a.rows, a.algorithm, dt))
            print(f"memory per replica ({dt}): {b_per / 1024:.1f} KiB (peak memory growth from R=1024 to R=8192)")
    # configurations: (label, dtype, R, threads, callable returning the replica-steps it did)
    configs = []
    for th in threads:
        for dt in a.dtypes:
            for R in Rs:
                configs.append((f"engine {dt}", dt, R, th, lambda R=R, dt=dt: (
                    engine_run(problem, oracle, alg, K, R, getattr(torch, dt), device), R * K)[1]))
        if not a.no_baselines:
            Ad = np.asarray(A.toarray())
            Acsr, Atcsr = sp.csr_matrix(A), sp.csr_matrix(A.T)
            A64, b64 = torch.as_tensor(Ad), torch.as_tensor(b)
            seeds = range(n_seeds)
            configs += [
                ("numpy dense loop", "float64", "per-seed", th,
                 lambda: sum(len(numpy_loop(Ad, Ad.T, b, K, s)) * EVERY for s in seeds)),
                ("scipy-sparse loop", "float64", "per-seed", th,
                 lambda: sum(len(numpy_loop(Acsr, Atcsr, b, K, s)) * EVERY for s in seeds)),
                ("torch.optim loop", "float64", "per-seed", th,
                 lambda: sum(len(torch_optim_loop(A64, b64, K, s, torch.float64)) * EVERY for s in seeds)),
                ("torch.optim loop", "float32", "per-seed", th,
                 lambda: sum(len(torch_optim_loop(A64, b64, K, s, torch.float32)) * EVERY for s in seeds)),
            ]
    if a.jax:
        # XLA's CPU client sizes its thread pools at start-up; pin them to one thread (unless the user set
        # XLA_FLAGS) so that JAX runs on the core budget of the 1-thread engine it is compared with
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
        Adj = np.asarray(A.toarray())
        for dt in a.dtypes:
            for R in Rs:
                jr = jax_runner(Adj, b, K, R, dt)
                configs.append((f"jax vmap+jit dense", dt, R, threads[0], lambda jr=jr, R=R: (jr(), R * K)[1]))
    if a.procs:
        if a.rows or not (a.data in ("auto", "a9a", "synthetic")):
            raise SystemExit("--procs runs on the full data set")
        for P in sorted(set(a.procs)):
            for dt in a.dtypes:
                for R in Rs:
                    configs.append((f"engine {P} proc(s)", dt, R, 1, lambda P=P, dt=dt, R=R: ("mp", P, dt, R)))
    if not a.no_baselines:  # the numpy loop runs the engine's algorithm: without noise both give the same F
        ref = run(problem, Oracle(problem, SphereNoise(0.0)), alg, 2 * EVERY, [0], checkpoints=[EVERY, 2 * EVERY],
                  device=device, progress=False).errors[alg.default_option][:, 0]
        dev = max(abs(np.array(numpy_loop(Acsr, Atcsr, b, 2 * EVERY, 0, sigma=0.0)) - ref))
        print(f"check: noiseless numpy loop vs engine, max |dF| over {2 * EVERY} steps = {dev:.1e}")
        if not dev < 1e-10:
            raise SystemExit("the numpy baseline does not run the engine's algorithm")
    for dt in a.dtypes:  # warm-up (device data of every dtype and plan, allocator): not timed
        for R in sorted(set(Rs)):
            engine_run(problem, oracle, alg, EVERY, R, getattr(torch, dt), device)
    if not a.no_baselines:  # first autograd / torch.optim step initialises lazily: not timed
        for dt in (torch.float64, torch.float32):
            torch_optim_loop(A64, b64, EVERY, 0, dt)

    rates = {}
    for rep in range(repeats):
        for label, dt, R, th, fn in configs:
            with thread_limit(th):
                t0 = time.perf_counter()
                done = fn()
                if isinstance(done, tuple):  # several processes: they time themselves
                    rates.setdefault((label, dt, R, th), []).extend(
                        multiprocess_rates((a.data, a.N), R, K, dt, a.algorithm, done[1], 1))
                    continue
                if str(device).startswith("cuda"):
                    torch.cuda.synchronize()
                rates.setdefault((label, dt, R, th), []).append(done / (time.perf_counter() - t0))
        print(f"  round {rep + 1}/{repeats} done (load average {os.getloadavg()[0]:.2f})", flush=True)

    med = {k: statistics.median(v) for k, v in rates.items()}
    rows = []
    for (label, dt, R, th), v in med.items():
        base = lambda name, d="float64": med.get((name, d, "per-seed", th))
        ratio = lambda ref: v / ref if ref else math.nan
        rows.append({"method": label, "dtype": dt, "R": R, "threads": th, "replica_steps_per_s": v,
                     "min": min(rates[label, dt, R, th]), "max": max(rates[label, dt, R, th]),
                     "repeats": len(rates[label, dt, R, th]),
                     "x_scipy_sparse_loop": ratio(base("scipy-sparse loop")),
                     "x_numpy_dense_loop": ratio(base("numpy dense loop")),
                     "x_torch_optim_same_dtype": ratio(base("torch.optim loop", dt))})
    print()
    print("replica-steps/s (median, min - max) and ratios vs the per-seed baselines at the same thread count")
    hdr = (f"{'method':<19}{'dtype':<9}{'R':>9}{'threads':>8}{'steps/s':>10}{'(min - max)':>21}"
           f"{'x scipy':>9}{'x numpy':>9}{'x torch.optim':>15}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        span = f"({r['min']:,.0f} - {r['max']:,.0f})"
        print(f"{r['method']:<19}{r['dtype']:<9}{str(r['R']):>9}{r['threads']:>8}{r['replica_steps_per_s']:>10,.0f}"
              f"{span:>21}{r['x_scipy_sparse_loop']:>9.2f}{r['x_numpy_dense_loop']:>9.2f}"
              f"{r['x_torch_optim_same_dtype']:>15.2f}")

    if a.profile:
        print()
        print(f"where a runner step goes at R=256 (ms per step, median of 5; evaluation amortised over {EVERY} steps)")
        for th in threads:
            with thread_limit(th):
                for dt in a.dtypes:
                    prof = profile(problem, oracle, alg, 256, getattr(torch, dt), device)
                    tot = sum(prof.values())
                    print(f"  {dt}, {th} thread(s): " + ", ".join(f"{k} {v:.2f}" for k, v in prof.items())
                          + f"; total {tot:.2f} -> {256e3 / tot:,.0f} replica-steps/s")
    if a.out:
        with open(a.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]) + ["K", "data", "machine"])
            w.writeheader()
            for r in rows:
                w.writerow({**r, "K": K, "data": data_name, "machine": machine(device)})
        print(f"wrote {a.out}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
