"""Executors: run a sweep's work units in-process, in local processes or on a Dask cluster, saving each
finished unit atomically so that an interrupted sweep resumes unit by unit.

The unit of work is (spec, configuration, seed chunk): ``Unit(spec, cfg, start, stop, device, dtype)`` runs
seeds ``start … stop−1`` of one configuration and returns their tidy raw table (``experiment.run_config``).

On disk (``DIR`` is ``--out``)::

    DIR/raw/<spec>/<config>.chunks/<start>-<stop>.parquet  one finished chunk
    DIR/raw/<spec>/<config>.chunks/<start>-<stop>.json     its fingerprint, written last (the commit point)
    DIR/raw/<spec>/<config>.parquet / .json                the merged configuration, as ``experiment.run_or_load``
                                                           writes and reads it

(Chunks saved as ``.csv`` by an older theorycheck are not read: they run again.)

**Bit-identical results.** Chunk boundaries depend only on (seed0, number of seeds, chunk size), never on the
executor or on the number of workers; a chunk is a pure function of its seeds (counter-based noise,
``theorycheck.rng``); chunks are merged in seed order. Every executor therefore produces the same bytes. (A run
of all seeds in one batch, ``experiment.run_or_load``, agrees with the chunked run to rounding, about 1e-15
relative, because BLAS kernels may block a different batch size differently.)

**Lost and duplicated work.** A unit is saved by the client (this process) when its result arrives, under a
name given by its seed range; a worker that dies mid-unit is retried elsewhere (Dask reschedules its tasks; the
local process pool is restarted) and a unit whose result arrives twice overwrites its own file with the same
bytes. Nothing is lost, nothing is counted twice.

Executors: ``InProcess`` (``--workers 1``), ``Processes`` (``--workers N``: a spawn-context process pool, one
torch thread per worker), ``DaskExecutor`` (``--dask-scheduler ADDRESS`` or ``--dask-local N``; optional
dependency, ``pip install 'theorycheck[dask]'``) and ``Auto`` (the default): in-process until the sweep is
seen to be long enough to pay for starting workers, then one worker process per core for the remaining units.

Progress (stderr, tqdm; only on a TTY unless asked for, never with ``--no-progress``): :func:`run_sweep` shows a
bar over the finished units whatever the executor; the in-process executors also show each unit's bar over its
K steps.
"""
from __future__ import annotations

import contextlib

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .provenance import code_fingerprint, results_fingerprint, run_metadata
from .spec import Config, Spec, SpecError
from .table import atomic_write_text, concat, read_table

#: default seeds per chunk: on CPU small enough to spread a configuration over the cores, large enough that the
#: batched engine runs at its full rate (its throughput is flat from about 64 replicas on); on CUDA the whole
#: configuration up to this many replicas runs as one batch
CHUNK_SEEDS = {"cpu": 128, "cuda": 8192}
#: the auto executor starts worker processes once the in-process units took this long and the remaining ones
#: are expected to take at least AUTO_MIN_REMAINING_S more (starting a worker costs a few seconds)
AUTO_AFTER_S = 4.0
AUTO_MIN_REMAINING_S = 12.0
DASK_INSTALL = "pip install 'theorycheck[dask]'  (or: pip install 'dask[distributed]')"


class ExecutorError(SpecError):
    """Bad executor options or an executor that cannot run (the CLI exits 2 with this message)."""


@dataclass(frozen=True)
class Unit:
    """Seeds start … stop−1 of one configuration of one spec."""

    spec: Spec
    cfg: Config
    start: int
    stop: int
    device: str = "cpu"
    dtype: str = "float64"

    @property
    def name(self) -> str:
        return f"{self.spec.name}/{self.cfg.key}/{self.start}-{self.stop}"

    def fingerprint(self) -> str:
        from .provenance import results_fingerprint

        return results_fingerprint(self.spec, self.cfg, f"{self.start}:{self.stop}", self.dtype, str(self.device))


def run_unit(unit: Unit, threads: int | None = None, progress=False):
    """Run one unit (in whatever process calls it) and return its raw table (a DataFrame); ``threads`` sets
    torch's intra-op threads first (worker processes use 1); ``progress``: the unit's bar over its K steps
    (``theorycheck.run.run``; None: only on a TTY)."""
    from .experiment import run_config

    if threads is not None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    spec = dataclasses.replace(unit.spec, run={**unit.spec.run, "seed0": unit.start})
    return run_config(spec, unit.cfg, unit.stop - unit.start, unit.device, unit.dtype, progress=progress)


def chunks(seed0: int, n_seeds: int, size: int) -> list[tuple[int, int]]:
    """[(start, stop)] covering seed0 … seed0+n_seeds−1 in pieces of ``size`` (the last may be shorter)."""
    return [(s, min(s + size, seed0 + n_seeds)) for s in range(seed0, seed0 + n_seeds, size)]


def merge(tables: list, seed0: int):
    """Chunk tables → the table one run over all their seeds gives: rows ordered by option (first-seen order),
    checkpoint, seed; ``replica`` renumbered as seed − seed0."""
    import numpy as np

    t = concat(tables)
    if not len(t):
        return t
    opts = {o: i for i, o in enumerate(dict.fromkeys(t["option"].tolist()))}
    order = np.lexsort((t["seed"].to_numpy(), t["checkpoint"].to_numpy(), np.array([opts[o] for o in t["option"]])))
    t = t.iloc[order].reset_index(drop=True)
    t["replica"] = (t["seed"] - seed0).astype(t["replica"].dtype)
    return t


# --- executors -------------------------------------------------------------------------------------------------
class InProcess:
    """Units one after the other in this process; ``progress``: each unit's bar over its K steps (False: none;
    None: on a TTY)."""

    name = "in-process"

    def __init__(self, progress=False):
        self.progress = progress

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, units, on_result, fn=run_unit):
        for u in units:
            on_result(u, fn(u) if self.progress is False else fn(u, None, self.progress))


class Processes:
    """A pool of ``workers`` spawned processes (one torch thread each). A pool broken by a dying worker is
    restarted for the unfinished units, at most ``retries`` times; then ``ExecutorError``."""

    def __init__(self, workers: int, threads: int = 1, retries: int = 3, option: str = "--workers"):
        if not (isinstance(workers, int) and workers >= 1):
            raise ExecutorError(f"{option} must be an integer >= 1, got {workers!r} (use --workers 1 to run in "
                                "this process)")
        self.workers, self.threads, self.retries, self.option = workers, threads, retries, option
        self.name = f"{workers} local worker processes"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, units, on_result, fn=run_unit):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        pending = list(units)
        failures = 0
        while pending:
            ctx = mp.get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=min(self.workers, len(pending)), mp_context=ctx,
                                       initializer=_init_worker, initargs=(self.threads,))
            try:
                futs = {pool.submit(fn, u, self.threads): u for u in pending}
                try:
                    for f in as_completed(futs):
                        u = futs[f]
                        on_result(u, f.result())
                        pending.remove(u)
                finally:  # Ctrl-C or an error: do not wait for the other units
                    pool.shutdown(wait=not pending, cancel_futures=True)
            except BrokenProcessPool:
                failures += 1
                if failures > self.retries:
                    raise ExecutorError(
                        f"{self.option}: a worker process died {failures} times (last while running one of "
                        f"{len(pending)} unfinished units, e.g. {pending[0].name}); finished units are saved. "
                        "Fix: check memory (fewer --workers or a smaller --chunk-seeds) and rerun to resume") \
                        from None
                print(f"theorycheck: a worker process died; restarting the pool for {len(pending)} units",
                      file=sys.stderr)


def _init_worker(threads):
    import torch

    torch.set_num_threads(threads)


class DaskExecutor:
    """Units as tasks of a Dask distributed cluster: an existing scheduler (``address``) or a ``LocalCluster``
    of ``local`` single-threaded worker processes. Raises ``ExecutorError`` when dask is not installed, when the
    scheduler cannot be reached within ``timeout`` seconds, or when a unit kills its worker repeatedly (Dask's
    ``distributed.scheduler.allowed-failures``, 3 by default)."""

    def __init__(self, address: str | None = None, local: int | None = None, timeout: float = 10.0, threads=1):
        try:
            import distributed  # noqa: F401
        except ImportError:
            opt = "--dask-scheduler" if address else "--dask-local"
            raise ExecutorError(f"{opt} needs dask's distributed scheduler, which is not installed; install it "
                                f"with: {DASK_INSTALL}") from None
        from distributed import Client, LocalCluster

        self.threads = threads
        self.cluster = None
        if address is not None:
            self.option = "--dask-scheduler"
            try:
                self.client = Client(address, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as e:
                raise ExecutorError(f"--dask-scheduler: cannot reach a Dask scheduler at {address!r} within "
                                    f"{timeout:g} s ({type(e).__name__}: {e}). Fix: start one (dask scheduler; "
                                    "dask worker ADDRESS) and pass its tcp://host:port, or use --dask-local N"
                                    ) from None
            self.name = f"Dask scheduler {address}"
        else:
            self.option = "--dask-local"
            if not (isinstance(local, int) and local >= 1):
                raise ExecutorError(f"--dask-local must be an integer >= 1 (worker processes), got {local!r}")
            self.cluster = LocalCluster(n_workers=local, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
            self.name = f"Dask LocalCluster of {local} workers"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def map(self, units, on_result, fn=run_unit):
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        futs = {}
        for u in units:
            f = self.client.submit(fn, u, self.threads, key=f"theorycheck-{u.fingerprint()}-{u.name}", pure=False,
                                   retries=0)
            futs[f.key] = (f, u)
        try:
            for f in as_completed([f for f, _ in futs.values()]):
                on_result(futs[f.key][1], f.result())
        except KilledWorker as e:
            raise ExecutorError(f"{self.option}: Dask workers died repeatedly while running a unit ({e}); finished "
                                "units are saved. Fix: give the workers more memory (or a smaller --chunk-seeds) "
                                "and rerun to resume") from None
        finally:
            for f, _ in futs.values():
                f.cancel()


class Auto:
    """The default: units run in this process (one torch thread) until they have taken ``after_s`` seconds;
    if the remaining ones are then expected to take at least ``min_remaining_s`` more and there are at least
    two of them and two cores, they go to a pool of min(cores, units) worker processes. Short sweeps thus never
    pay for starting workers; long ones use every core by processes, which on a shared machine is much faster
    than intra-op threads (bench/README.md)."""

    def __init__(self, cores: int | None = None, after_s=AUTO_AFTER_S, min_remaining_s=AUTO_MIN_REMAINING_S,
                 progress=False):
        self.cores, self.progress = cores or _cores(), progress
        self.after_s, self.min_remaining_s = after_s, min_remaining_s
        self.name = f"auto (in-process; processes when long, up to {self.cores})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, units, on_result, fn=run_unit):
        units = list(units)
        t0, done = time.perf_counter(), 0
        while units:
            el = time.perf_counter() - t0
            if done and el >= self.after_s and self.cores >= 2 and len(units) >= 2 \
                    and el / done * len(units) >= self.min_remaining_s:
                print(f"theorycheck: {len(units)} units left, starting {min(self.cores, len(units))} worker "
                      "processes", file=sys.stderr)
                Processes(min(self.cores, len(units)), option="the default executor").map(units, on_result, fn)
                return
            u = units.pop(0)
            on_result(u, fn(u, 1) if self.progress is False else fn(u, 1, self.progress))
            done += 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --- the sweep ---------------------------------------------------------------------------------------------------
def chunk_dir(out_dir, spec: Spec, cfg: Config) -> Path:
    return Path(out_dir) / "raw" / spec.name / f"{cfg.key}.chunks"


def _load_if_fresh(path: Path, fp: str):
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        try:
            if json.loads(meta.read_text()).get("fingerprint") == fp:
                return read_table(path)
        except (OSError, ValueError):
            return None
    return None


def run_sweep(items, out_dir, n_seeds=None, device="cpu", dtype=None, executor=None, chunk_seeds=None,
              log=None, progress=None) -> list:
    """Run every (spec, cfg) of ``items`` over its seeds with ``executor`` (default ``InProcess(progress)``),
    chunked by ``chunk_seeds`` (default ``CHUNK_SEEDS[device]``); returns the merged raw tables (DataFrames) in the
    order of ``items``. ``progress``: a bar over the finished units (None: only when stderr is a TTY; False: none).


    Configurations whose merged file is fresh are loaded, finished chunks are reused, the others run; each chunk
    is saved atomically when it finishes and each configuration is merged and saved once its chunks are all
    there (the same file and fingerprint as ``experiment.run_or_load``)."""
    from .experiment import raw_path, save_raw
    from .run import progress_bar, resolve_device

    executor = executor or InProcess(progress)
    dev = str(resolve_device(device))
    chunk_seeds = chunk_seeds or CHUNK_SEEDS.get(dev.split(":")[0], 128)
    if not (isinstance(chunk_seeds, int) and chunk_seeds >= 1):
        raise ExecutorError(f"--chunk-seeds must be an integer >= 1, got {chunk_seeds!r}")
    results: list = [None] * len(items)
    parts: dict = {}  # item index -> {start: table}
    plan, pending = [], []
    for i, (spec, cfg) in enumerate(items):
        n = n_seeds or spec.n_seeds
        dt = dtype or spec.run.get("dtype", "float64")
        fp = results_fingerprint(spec, cfg, n, dt, str(device))  # spec keys, code, data file, constants
        merged = _load_if_fresh(raw_path(out_dir, spec, cfg), fp)
        if merged is not None:
            results[i] = merged
            continue
        seed0 = spec.run.get("seed0", 0)
        units = [Unit(spec, cfg, a, b, str(device), dt) for a, b in chunks(seed0, n, chunk_seeds)]
        parts[i] = {}
        plan.append((i, spec, cfg, seed0, fp, units))
        cdir = chunk_dir(out_dir, spec, cfg)
        for u in units:
            t = _load_if_fresh(cdir / f"{u.start}-{u.stop}.parquet", u.fingerprint())
            if t is not None:
                parts[i][u.start] = t
            else:
                pending.append((i, u))
        if log:
            have = len(parts[i])
            log(f"[{spec.name}] {cfg.key}: {n} seeds, K={spec.K}, {len(units)} chunk(s)"
                + (f", {have} already saved" if have else ""))
    owner = {id(u): i for i, u in pending}
    expected = {i: len(units) for i, _, _, _, _, units in plan}

    def finish(i):
        _, spec, cfg, seed0, fp, units = next(p for p in plan if p[0] == i)
        t = merge([parts[i][u.start] for u in units], seed0)
        u0 = units[0]
        path = raw_path(out_dir, spec, cfg)
        save_raw(t, path)
        atomic_write_text(path.with_suffix(".json"), json.dumps({"fingerprint": fp, "spec": spec.name, "config": cfg.key,
                                                                  "n_seeds": int(t["seed"].nunique()), "chunks": len(units),
                                                                  "code_fingerprint": code_fingerprint(
                                                                      spec, cfg, int(t["seed"].nunique()), u0.dtype,
                                                                      str(u0.device)),
                                                                  **run_metadata(str(u0.device), u0.dtype)}))
        results[i] = t

    def on_result(u: Unit, t):
        i = owner[id(u)] if id(u) in owner else next(j for j, v in pending if v == u)
        p = chunk_dir(out_dir, u.spec, u.cfg) / f"{u.start}-{u.stop}.parquet"
        save_raw(t, p)
        bar.update(1)
        atomic_write_text(p.with_suffix(".json"), json.dumps({"fingerprint": u.fingerprint(), "unit": u.name}))
        parts[i][u.start] = t
        if len(parts[i]) == expected[i]:
            finish(i)

    if pending:
        with progress_bar(len(pending), "work units", progress, unit="unit") as bar:
            executor.map([u for _, u in pending], on_result)
    for i, *_ in plan:
        if results[i] is None:  # every chunk was already saved
            finish(i)
    return results


# --- command-line wiring -----------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    """The executor options of ``theorycheck check`` / ``run``."""
    g = p.add_argument_group("execution (docs/scaling.md)")
    g.add_argument("--workers", type=int, default=None,
                   help="local worker processes (1: this process only; default: automatic, processes over the "
                        "cores when the sweep is long enough)")
    g.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help=f"run units on a Dask cluster, e.g. tcp://host:8786 ({DASK_INSTALL})")
    g.add_argument("--dask-local", type=int, default=None, metavar="N",
                   help="start a Dask LocalCluster of N worker processes")
    g.add_argument("--chunk-seeds", type=int, default=None, metavar="N",
                   help=f"seeds per work unit (default {CHUNK_SEEDS['cpu']} on CPU, {CHUNK_SEEDS['cuda']} on CUDA); "
                        "results do not depend on the executor, only on this")


def from_args(args):
    """The executor the parsed options ask for (validated before anything runs or is written)."""
    workers = getattr(args, "workers", None)
    addr, local = getattr(args, "dask_scheduler", None), getattr(args, "dask_local", None)
    chunk = getattr(args, "chunk_seeds", None)
    if chunk is not None and chunk < 1:
        raise ExecutorError(f"--chunk-seeds must be an integer >= 1, got {chunk}")
    chosen = [o for o, v in (("--workers", workers), ("--dask-scheduler", addr), ("--dask-local", local))
              if v is not None]
    if len(chosen) > 1:
        raise ExecutorError(f"choose one of --workers, --dask-scheduler, --dask-local; got {' and '.join(chosen)}")
    if workers is not None and workers < 1:
        raise ExecutorError(f"--workers must be an integer >= 1 (1 runs in this process), got {workers}")
    if local is not None and local < 1:
        raise ExecutorError(f"--dask-local must be an integer >= 1 (worker processes), got {local}")
    progress = False if getattr(args, "no_progress", False) else None  # in-process units: their step bars on a TTY
    if addr is not None or local is not None:
        return DaskExecutor(address=addr, local=local)
    if workers == 1:
        return InProcess(progress)
    if workers is not None:
        return Processes(workers)
    if getattr(args, "device", "cpu") != "cpu" or getattr(args, "threads", None) is not None:
        return InProcess(progress)  # a GPU, or threads chosen by the user: one process
    return Auto(progress=progress)


@contextlib.contextmanager
def cpu_threads(device="cpu", threads: int | None = None):
    """Within the block, torch uses ``threads`` intra-op threads (default 1) when running on the CPU — the
    same policy as the CLI (:func:`default_threads`) for library callers (``theorycheck.testing``, the pytest
    plugin) — and the caller's setting is restored afterwards. On CUDA nothing changes."""
    import torch

    if str(device).startswith("cuda"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_threads(args) -> None:
    """One torch intra-op thread in this process unless ``--threads`` says otherwise (CPU): on a machine shared
    with other jobs, threads wait on each other at every parallel region and can be 10x slower; the cores are
    used by worker processes instead (bench/README.md, 'Threads on a shared machine')."""
    if getattr(args, "threads", None) is None and getattr(args, "device", "cpu") == "cpu":
        import torch

        torch.set_num_threads(1)
