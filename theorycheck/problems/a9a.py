"""Logistic regression on LIBSVM a9a (THEORY §5, §5.1) or any svmlight file, with a certified F_ref.

Rows are scaled to unit l2 norm, the loss is averaged, x0 = 0, Euclidean setup with h = 0. F_ref is the certified
infimum of :func:`theorycheck.certify.certify_logistic` (on a9a it is NOT attained: ``attained=False`` and no
x_star); ``problem.comparators`` holds the min-norm reduced minimiser w_star (zeros on removed features) and a
short regularisation path u_t = argmin F + (t/2)||x − x0||², each with its exact Δ_u = F(u) − F_inf and
V = ½||u − x0||² (THEORY §4.3b). ``problem.certificate`` is the full :class:`~theorycheck.certify.Certificate`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..certify import certify_logistic, regularisation_path
from ..data import DataError, locate, load_svmlight
from .base import Comparator
from .logistic import Logistic

DEFAULT_PATH_TS = (1e-2, 1e-3, 1e-4)


def load_svmlight_problem(path, n_features: int = 123, L: str | float = "row", device=None, comparators: bool = True,
                          ts=DEFAULT_PATH_TS, cache: bool = True, name: str | None = None) -> Logistic:
    """Logistic problem on an svmlight file (1-based indices, ``n_features`` fixed), with certified F_ref.
    ``L``: "row" (¼ max‖a_i‖² = 0.25 after normalisation, the paper's value), "tight" (λ_max(AᵀA)/(4N)) or a
    number ≥ the tight value."""
    path = Path(path)
    A, b = load_svmlight(path, n_features=n_features)
    cert = certify_logistic(A, b, cache=cache)
    prob = Logistic(A, b, F_ref=cert.F_inf, F_ref_method=cert.method, attained=cert.attained,
                    x_star=cert.x_star, L=L, name=name or f"logistic:{path.name}", device=device)
    prob.certificate = cert
    prob.constants.notes.update({"source": str(path), "normalised_rows": True, "N": int(A.shape[0]),
                                 "removed_features_1based": cert.removed_features_1based,
                                 "removed_rows": cert.removed_rows, "half_norm_sq_w_star": cert.half_norm_sq})
    if comparators:
        x0 = prob.x0.cpu().numpy()
        pts = regularisation_path(A, b, x0, ts, cert.F_inf, w_star=cert.w_star, cache=cache)
        prob.comparators = [Comparator(p["name"], torch.as_tensor(p["u"], dtype=torch.float64, device=device),
                                       float(p["delta"]), float(p["V"])) for p in pts]
    return prob


def load_a9a(split: str = "train", L: str | float = "row", data_dir=None, device=None, comparators: bool = True,
             cache: bool = True, verify: bool = True) -> Logistic:
    """a9a (``split="train"``, file ``a9a``) or its test split (``"test"``, file ``a9a.t``) from ``data_dir``
    (default :func:`theorycheck.data.data_dir`); the file must have been fetched (``theorycheck data fetch a9a``).
    ``verify`` checks its SHA-256."""
    files = {"train": "a9a", "test": "a9a.t"}
    if split not in files:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = locate(files[split], data_dir, verify=verify)
    return load_svmlight_problem(path, n_features=123, L=L, device=device, comparators=comparators, cache=cache,
                                 name=f"a9a-{split}")


__all__ = ["load_a9a", "load_svmlight_problem", "DataError"]
