"""Robustness across seeds of M-SGD vs AM1-SGD / AM2-SGD on a small real task: an MLP on scikit-learn's bundled
digits data set (8x8 images, 10 classes, 1797 samples; no download).

Protocol (a scaled-down copy of [ZJDC] §6.1 / Table 1, CIFAR-10):

* fixed stratified split, 1347 train / 450 test (``random_state=0``); pixels / 16;
* MLP 64-128-128-10 (ReLU), the **same initial point x0 for every run** (``torch.manual_seed(0)``), as in the paper;
* cross-entropy, batch 32, weight decay 5e-4, lr 0.1 divided by 10 after 1/3 and 2/3 of the epochs, momentum 0.9,
  no restarts (the paper restarts only for β much larger than 0.9, App. A.6);
* a seed fixes the minibatch order (and AM2's index sequence); every method sees the same minibatches for the
  same seed (common random numbers), so comparisons between methods are paired by seed;
* methods: M-SGD = ``torch.optim.SGD(nesterov=True)``, AM1-SGD m = 5 Option I and Option II, AM2-SGD m = 5
  Option II (``theorycheck.optim``); test accuracy is evaluated after every epoch at each method's output point.

Reported: final test accuracy (mean, across-seed sd), "Avg. STD" (the across-seed sd averaged over epochs, the
paper's robustness number), and for each AM method vs M-SGD the sd ratio with a paired bootstrap CI (seeds
resampled jointly) and the Pitman–Morgan test of equal variances for paired samples, Holm-corrected.

    python bench/digits_mlp.py                        # 20 seeds, 30 epochs, figures/digits_mlp.{png,pdf}
    python bench/digits_mlp.py --seeds 2 --epochs 1 --out /tmp/x --workers 1    # smoke run
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import time

import numpy as np

METHODS = ("M-SGD", "AM1-SGD-I", "AM1-SGD-II", "AM2-SGD-II")
_DATA = None


# ---------------------------------------------------------------------------------------------------
# one training run (executed in a worker process, one torch thread)
# ---------------------------------------------------------------------------------------------------
def _data():
    global _DATA
    if _DATA is None:
        import torch
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=450, stratify=y, random_state=0)
        f = lambda a: torch.tensor(a, dtype=torch.float32)
        g = lambda a: torch.tensor(a, dtype=torch.int64)
        _DATA = f(Xtr), g(ytr), f(Xte), g(yte)
    return _DATA


def _model():
    import torch
    from torch import nn

    torch.manual_seed(0)  # the same x0 for every method and seed
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def _optimizer(method, params, cfg, seed):
    import torch

    from theorycheck.optim import AM1SGD, AM2SGD

    kw = dict(lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    if method == "M-SGD":
        return torch.optim.SGD(params, nesterov=True, **kw)
    if method == "AM1-SGD-I":
        return AM1SGD(params, m=cfg["m"], option="I", **kw)
    if method == "AM1-SGD-II":
        return AM1SGD(params, m=cfg["m"], option="II", **kw)
    if method == "AM2-SGD-II":
        return AM2SGD(params, m=cfg["m"], option="II", seed=seed, **kw)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def train_one(args):
    """(method, seed, cfg) -> dict(test_acc (E,), train_loss (E,)) evaluated after every epoch."""
    import contextlib

    import torch
    import torch.nn.functional as F

    method, seed, cfg = args
    Xtr, ytr, Xte, yte = _data()
    model = _model()
    opt = _optimizer(method, model.parameters(), cfg, seed)
    E, B = cfg["epochs"], cfg["batch"]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones(E), gamma=0.1)
    gen = torch.Generator().manual_seed(1_000_003 * (seed + 1))
    acc, loss = [], []
    for _ in range(E):
        perm = torch.randperm(len(ytr), generator=gen)
        for i in range(0, len(ytr), B):
            idx = perm[i:i + B]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(Xtr[idx]), ytr[idx]).backward()
            opt.step()
        sched.step()
        ctx = opt.evaluation_params() if hasattr(opt, "evaluation_params") else contextlib.nullcontext()
        with torch.no_grad(), ctx:
            acc.append(100.0 * float((model(Xte).argmax(1) == yte).float().mean()))
            loss.append(float(F.cross_entropy(model(Xtr), ytr)))
    return {"method": method, "seed": seed, "test_acc": acc, "train_loss": loss}


# ---------------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------------
def pitman_morgan(x, y):
    """Two-sided p-value of H0: var(X) = var(Y) for paired samples (Pitman 1939, Morgan 1939): under bivariate
    normality, corr(X + Y, X - Y) = 0 iff the variances are equal; t = r sqrt(n-2)/sqrt(1-r^2) ~ t_{n-2}."""
    from scipy import stats as st

    s, d = np.asarray(x) + np.asarray(y), np.asarray(x) - np.asarray(y)
    n = s.size
    if np.std(d) == 0 or np.std(s) == 0:
        return 1.0
    r = float(np.corrcoef(s, d)[0, 1])
    r = max(min(r, 1 - 1e-15), -1 + 1e-15)
    t = r * math.sqrt(n - 2) / math.sqrt(1 - r * r)
    return float(2 * st.t.sf(abs(t), n - 2))


def paired_bootstrap_ratio(A, B, stat, n_boot=10000, alpha=0.05, seed=0):
    """Percentile CI of stat(A)/stat(B), resampling seeds (rows of A and B jointly). A, B: (n_seeds, ...)."""
    rs = np.random.default_rng(seed)
    n = A.shape[0]
    idx = rs.integers(0, n, size=(n_boot, n))
    num = np.array([stat(A[i]) for i in idx])
    den = np.array([stat(B[i]) for i in idx])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    r = r[np.isfinite(r)]
    return float(np.quantile(r, alpha / 2)), float(np.quantile(r, 1 - alpha / 2)), int(n_boot - r.size)


def milestones(E):
    """Epochs after which the lr is divided by 10 (1/3 and 2/3 of the run)."""
    return sorted({e for e in (round(E / 3), round(2 * E / 3)) if 0 < e < E})


def phases(E):
    """[(first, last)] 1-based epoch ranges of constant lr."""
    b = [0] + milestones(E) + [E]
    return [(b[i] + 1, b[i + 1]) for i in range(len(b) - 1)]


def summarize(results, n_boot=10000):
    """results: method -> dict(test_acc (S, E), train_loss (S, E)). Returns a JSON-friendly summary."""
    from scipy import stats as st

    from theorycheck.stats import holm

    sd_final = lambda a: float(np.std(a[:, -1], ddof=1))
    avg_sd = lambda a: float(np.std(a, axis=0, ddof=1).mean())
    E = next(iter(results.values()))["test_acc"].shape[1]
    ph = phases(E)
    out = {"methods": {}, "comparisons": [], "phases": ph}
    for mth, r in results.items():
        A = r["test_acc"]
        out["methods"][mth] = {
            "final_mean": float(A[:, -1].mean()), "final_sd": sd_final(A), "avg_sd": avg_sd(A),
            "phase_avg_sd": [avg_sd(A[:, a - 1:b]) for a, b in ph],
            "phase_mean_acc": [float(A[:, a - 1:b].mean()) for a, b in ph],
            "final_min": float(A[:, -1].min()), "final_max": float(A[:, -1].max()),
            "train_loss_mean": float(r["train_loss"][:, -1].mean()),
            "train_loss_sd": float(np.std(r["train_loss"][:, -1], ddof=1)),
            "avg_sd_train_loss": avg_sd(r["train_loss"])}
    base = results["M-SGD"]["test_acc"]
    comps = []
    for mth in results:
        if mth == "M-SGD":
            continue
        A = results[mth]["test_acc"]
        lo, hi, bad = paired_bootstrap_ratio(A, base, lambda a: np.std(a[:, -1], ddof=1), n_boot)
        alo, ahi, abad = paired_bootstrap_ratio(A, base, lambda a: np.std(a, axis=0, ddof=1).mean(), n_boot)
        phase_ci = [paired_bootstrap_ratio(A[:, a - 1:b], base[:, a - 1:b],
                                           lambda x: np.std(x, axis=0, ddof=1).mean(), n_boot)[:2] for a, b in ph]
        diff = A[:, -1] - base[:, -1]
        comps.append({"method": mth, "vs": "M-SGD",
                      "final_sd_ratio": sd_final(A) / sd_final(base) if sd_final(base) > 0 else math.inf,
                      "final_sd_ratio_ci": [lo, hi], "final_boot_dropped": bad,
                      "pitman_morgan_p": pitman_morgan(A[:, -1], base[:, -1]),
                      "avg_sd_ratio": avg_sd(A) / avg_sd(base), "avg_sd_ratio_ci": [alo, ahi],
                      "avg_boot_dropped": abad,
                      "phase_avg_sd_ratio": [avg_sd(A[:, a - 1:b]) / avg_sd(base[:, a - 1:b]) for a, b in ph],
                      "phase_avg_sd_ratio_ci": [list(c) for c in phase_ci],
                      "final_mean_diff": float(diff.mean()), "final_mean_diff_sd": float(np.std(diff, ddof=1)),
                      "final_mean_diff_p": float(st.ttest_1samp(diff, 0.0).pvalue) if np.std(diff) > 0 else 1.0})
    adj = holm([c["pitman_morgan_p"] for c in comps]) if comps else []
    for c, p in zip(comps, adj):
        c["pitman_morgan_p_holm"] = float(p)
    out["comparisons"] = comps
    return out


def markdown(summary, cfg, seconds):
    L = [f"seeds={cfg['seeds']} epochs={cfg['epochs']} batch={cfg['batch']} lr={cfg['lr']} momentum={cfg['momentum']} "
         f"m={cfg['m']} weight_decay={cfg['weight_decay']} wall={seconds:.0f}s workers={cfg['workers']}", "",
         "| method | final test acc. (mean ± sd) | min / max | Avg. STD over epochs | final train loss (mean ± sd) |",
         "|---|---|---|---|---|"]
    for mth, s in summary["methods"].items():
        L.append(f"| {mth} | {s['final_mean']:.2f}% ± {s['final_sd']:.2f}% | {s['final_min']:.2f} / {s['final_max']:.2f}"
                 f" | {s['avg_sd']:.2f}% | {s['train_loss_mean']:.4f} ± {s['train_loss_sd']:.4f} |")
    L += ["", "| vs M-SGD | sd ratio (final) [95% paired bootstrap CI] | Pitman–Morgan p (Holm) | "
              "Avg. STD ratio [95% CI] | mean diff. of final acc. (paired sd; paired t p) |", "|---|---|---|---|---|"]
    for c in summary["comparisons"]:
        L.append(f"| {c['method']} | {c['final_sd_ratio']:.2f} [{c['final_sd_ratio_ci'][0]:.2f}, "
                 f"{c['final_sd_ratio_ci'][1]:.2f}] | {c['pitman_morgan_p']:.3g} ({c['pitman_morgan_p_holm']:.3g}) | "
                 f"{c['avg_sd_ratio']:.2f} [{c['avg_sd_ratio_ci'][0]:.2f}, {c['avg_sd_ratio_ci'][1]:.2f}] | "
                 f"{c['final_mean_diff']:+.2f} ({c['final_mean_diff_sd']:.2f}; {c['final_mean_diff_p']:.3g}) |")
    ph = summary["phases"]
    names = [f"epochs {a}-{b}" for a, b in ph]
    L += ["", "Across-seed sd of test accuracy averaged within each constant-lr phase (ratio to M-SGD [95% CI]):", "",
          "| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(ph)]
    comp = {c["method"]: c for c in summary["comparisons"]}
    for mth, s in summary["methods"].items():
        cells = []
        for i in range(len(ph)):
            cell = f"{s['phase_avg_sd'][i]:.2f}%"
            if mth in comp:
                c = comp[mth]
                lo, hi = c["phase_avg_sd_ratio_ci"][i]
                cell += f" ({c['phase_avg_sd_ratio'][i]:.2f} [{lo:.2f}, {hi:.2f}])"
            cells.append(cell)
        L.append(f"| {mth} | " + " | ".join(cells) + " |")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------------
# figure (greyscale-readable: line styles + markers + grey levels; no colour needed)
# ---------------------------------------------------------------------------------------------------
STYLE = {"M-SGD": dict(color="0.0", ls="-", marker="o"),
         "AM1-SGD-I": dict(color="0.35", ls="--", marker="s"),
         "AM1-SGD-II": dict(color="0.2", ls=":", marker="^"),
         "AM2-SGD-II": dict(color="0.55", ls="-.", marker="D")}
HATCH = {"M-SGD": "", "AM1-SGD-I": "//", "AM1-SGD-II": "..", "AM2-SGD-II": "\\\\"}


def figure(results, out_dir, cfg):
    """(a) test accuracy vs epoch, mean ± 1 sd bands; (b) across-seed sd vs epoch (log scale); (c) boxplot of the
    final accuracies with the seeds overlaid. Writes digits_mlp.{png,pdf} into out_dir."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    E = cfg["epochs"]
    ep = np.arange(1, E + 1)
    every = max(1, E // 10)
    fig = Figure(figsize=(12, 3.8))
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1.0, 0.9]})
    for mth, r in results.items():
        A = r["test_acc"]
        mu = A.mean(0)
        sd = A.std(0, ddof=1) if A.shape[0] > 1 else np.zeros(E)
        st = STYLE[mth]
        line = dict(color=st["color"], ls=st["ls"], marker=st["marker"], markevery=every, ms=4, lw=1.3)
        ax1.fill_between(ep, mu - sd, mu + sd, facecolor=st["color"], alpha=0.10, edgecolor=st["color"],
                         hatch=HATCH[mth], lw=0)
        ax1.plot(ep, mu, label=mth, **line)
        ax2.plot(ep, np.maximum(sd, 1e-2), label=f"{mth} (avg {sd.mean():.2f})", **line)
    for ax in (ax1, ax2):
        for e in milestones(E):
            ax.axvline(e + 0.5, color="0.5", lw=0.8, ls=(0, (1, 2)))
    ax1.set_ylim(85, 100)
    ax1.set(xlabel="epoch", ylabel="test accuracy (%)",
            title="(a) test accuracy, mean ± 1 sd (clipped at 85%)")
    ax2.set_yscale("log")
    ax2.set(xlabel="epoch", ylabel="sd over seeds (% points, log)", title="(b) across-seed sd of test accuracy")
    ax1.legend(fontsize=8, loc="lower right")
    ax2.legend(fontsize=7.5, loc="upper right", title="Avg. STD over epochs", title_fontsize=7.5)
    finals = [r["test_acc"][:, -1] for r in results.values()]
    bp = ax3.boxplot(finals, patch_artist=True, widths=0.6, medianprops=dict(color="0.0", lw=1.5),
                     showfliers=False)
    for patch, mth in zip(bp["boxes"], results):
        patch.set(facecolor="white", hatch=HATCH[mth], edgecolor="0.0")
    rs = np.random.default_rng(0)
    for i, (mth, f) in enumerate(zip(results, finals), start=1):
        ax3.plot(i + rs.uniform(-0.15, 0.15, f.size), f, ls="none", marker=STYLE[mth]["marker"], ms=3.5,
                 color="0.25", alpha=0.85)
        ax3.text(i, 1.0, f"sd {np.std(f, ddof=1):.2f}" if f.size > 1 else "", transform=ax3.get_xaxis_transform(),
                 ha="center", va="bottom", fontsize=7.5)
    ax3.set_xticks(range(1, len(finals) + 1))
    ax3.set_xticklabels([m.replace("-SGD", "") for m in results], fontsize=8)
    ax3.set(ylabel="final test accuracy (%)")
    ax3.set_title(f"(c) after epoch {E}, {finals[0].size} seeds", pad=14)
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.suptitle(f"MLP on sklearn digits: M-SGD vs AM1/AM2-SGD (m={cfg['m']}); lr {cfg['lr']} ÷10 at the dotted "
                 f"lines, β={cfg['momentum']}, batch {cfg['batch']}; same x0, seeds vary the minibatch order",
                 fontsize=9)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = os.path.join(out_dir, f"digits_mlp.{ext}")
        fig.savefig(p, dpi=110)
        paths.append(p)
    return paths


# ---------------------------------------------------------------------------------------------------
def _one_thread():
    import torch

    torch.set_num_threads(1)


def run(cfg):
    """Train every (method, seed); workers > 1: spawned processes with one torch thread each; workers = 1: in this
    process, also with one thread (the caller's thread count is restored afterwards)."""
    import torch

    tasks = [(mth, s, cfg) for s in range(cfg["seeds"]) for mth in METHODS]
    if cfg["workers"] > 1:
        with mp.get_context("spawn").Pool(cfg["workers"], initializer=_one_thread) as pool:
            outs = pool.map(train_one, tasks, chunksize=1)
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            outs = [train_one(t) for t in tasks]
        finally:
            torch.set_num_threads(threads)
    results = {}
    for mth in METHODS:
        rows = sorted((o for o in outs if o["method"] == mth), key=lambda o: o["seed"])
        results[mth] = {k: np.array([o[k] for o in rows]) for k in ("test_acc", "train_loss")}
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default="figures", help="directory for digits_mlp.png / digits_mlp.pdf")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (1 thread each)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--m", type=int, default=5)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--n-boot", type=int, default=10000)
    ap.add_argument("--json", default=None, help="also write per-seed, per-epoch results and the summary here")
    a = ap.parse_args(argv)
    for name in ("seeds", "epochs", "workers", "batch", "m"):
        if getattr(a, name) < 1:
            raise SystemExit(f"--{name} must be an integer >= 1, got {getattr(a, name)}")
    cfg = dict(seeds=a.seeds, epochs=a.epochs, batch=a.batch, lr=a.lr, momentum=a.momentum, m=a.m,
               weight_decay=a.weight_decay, workers=a.workers)
    t0 = time.perf_counter()
    results = run(cfg)
    seconds = time.perf_counter() - t0
    paths = figure(results, a.out, cfg)
    if a.seeds >= 3:
        summary = summarize(results, a.n_boot)
        print(markdown(summary, cfg, seconds))
    else:
        summary = None
        for mth, r in results.items():
            print(f"{mth}: final test accuracy {np.round(r['test_acc'][:, -1], 2).tolist()}")
        print(f"wall={seconds:.1f}s (statistics need --seeds >= 3)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"config": cfg, "seconds": seconds, "summary": summary,
                       "results": {m: {k: v.tolist() for k, v in r.items()} for m, r in results.items()}}, fh)
    print("wrote " + ", ".join(paths))


if __name__ == "__main__":
    main()
