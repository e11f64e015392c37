"""Overflow- and underflow-safe Euclidean norms for torch tensors and numpy arrays.

``torch.linalg.vector_norm`` and ``numpy.linalg.norm`` square the entries before summing (checked with torch 2.13
and numpy 2.4 on CPU): ``||(3e19, 4e19)||`` in float32 and ``||(3e200, 4e200)||`` in float64 are ``inf``, and
``||(3e-30, 4e-30)||`` in float32 (``(3e-300, 4e-300)`` in float64) is 0. Here each vector is first scaled by
the power of two 2^-e that brings its largest |entry| into [0.5, 1) (e from ``frexp``), the norm of the scaled
vector is taken, and the result is scaled back by 2^e (the LAPACK ``dnrm2`` idea, with a power-of-two scale).
Scaling by a power of two is exact, so wherever the plain formula neither overflows nor underflows the result is
bit-identical to ``torch.linalg.vector_norm`` / ``numpy.linalg.norm``; elsewhere it is correct to a few ulp over
the whole floating range (it is ``inf`` only when the norm itself exceeds the largest finite number).
Complex entries count as pairs of reals (|z|²  = Re² + Im²), as in torch. NaN propagates; an ``inf`` entry gives
``inf``.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["l2_norm", "l2_normalize", "scaled_l2"]


def _real_dtype(t: torch.Tensor) -> torch.dtype:
    return t.abs().dtype if t.is_complex() else t.dtype


def scaled_l2(x, dim: int = -1):
    """(y, r, e) with y = x * 2^-e exactly, r = ||y||_2 along ``dim`` (keepdim) and e the integer exponent
    (keepdim) such that max |y| is in [0.5, 1) (e = 0 for all-zero or non-finite vectors), so ||x|| = r * 2^e.

    ``x``: torch tensor or numpy array (float or complex), any shape; ``r`` and ``e`` have ``x``'s shape with
    ``dim`` of size 1. Raises TypeError for other inputs."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point() or x.is_complex()):
            x = x.to(torch.get_default_dtype())
        if x.shape[dim] == 0:
            z = torch.zeros_like(torch.linalg.vector_norm(x, dim=dim, keepdim=True))
            return x, z, z.to(torch.int32)
        s = x.abs().amax(dim=dim, keepdim=True)
        _, e = torch.frexp(s)
        e = torch.where(torch.isfinite(s) & (s > 0), e, torch.zeros_like(e))
        rd = _real_dtype(x)
        k1 = -(e // 2)
        k2 = -e - k1
        y = x * torch.exp2(k1.to(rd)) * torch.exp2(k2.to(rd))  # two factors: 2^-e alone can overflow
        return y, torch.linalg.vector_norm(y, dim=dim, keepdim=True), e
    if isinstance(x, (np.ndarray, np.generic, list, tuple, float, int)):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.inexact):
            x = x.astype(np.float64)
        if x.shape[dim] == 0:
            z = np.zeros_like(np.linalg.norm(x, axis=dim, keepdims=True))
            return x, z, z.astype(np.int32)
        s = np.max(np.abs(x), axis=dim, keepdims=True)
        _, e = np.frexp(s)
        e = np.where(np.isfinite(s) & (s > 0), e, 0).astype(np.int32)
        rd = np.abs(x[..., :0]).dtype if np.iscomplexobj(x) else x.dtype
        k1 = -(e // 2)
        k2 = -e - k1
        y = x * np.ldexp(np.ones((), rd), k1).astype(rd) * np.ldexp(np.ones((), rd), k2).astype(rd)
        return y, np.linalg.norm(y, axis=dim, keepdims=True), e
    raise TypeError(f"expected a torch tensor or numpy array, got {type(x).__name__}")


def _unscale(r, e):
    if isinstance(r, torch.Tensor):
        k1 = e // 2
        return r * torch.exp2(k1.to(r.dtype)) * torch.exp2((e - k1).to(r.dtype))
    k1 = e // 2
    return np.ldexp(np.ldexp(r, k1), e - k1).astype(r.dtype)


def l2_norm(x, dim: int = -1, keepdim: bool = False):
    """||x||_2 along ``dim``, safe from overflow and underflow of the squares (see the module docstring).

    ``x``: torch tensor or numpy array of shape (..., n, ...); returns a tensor/array without ``dim`` (or with it of
    size 1 when ``keepdim``), real dtype of ``x``. Equals ``torch.linalg.vector_norm(x, dim=dim)`` bit for bit
    where that does not overflow or underflow."""
    _, r, e = scaled_l2(x, dim)
    out = _unscale(r, e)
    if keepdim:
        return out
    return out.squeeze(dim) if isinstance(out, torch.Tensor) else np.squeeze(out, axis=dim)


def l2_normalize(x, dim: int = -1):
    """x / ||x||_2 along ``dim`` (0 / 0 := 0: zero vectors stay zero), computed as y / ||y|| with y = x 2^-e, so
    it is correct for every finite x (e.g. (3e160, 4e160) -> (0.6, 0.8) in float64, (3e38, 3e38) -> (0.707,
    0.707) in float32, whose norm overflows). Same shape as ``x``."""
    y, r, _ = scaled_l2(x, dim)
    if isinstance(y, torch.Tensor):
        pos = r > 0
        return torch.where(pos, y / torch.where(pos, r, torch.ones_like(r)), torch.zeros_like(y))
    pos = r > 0
    return np.where(pos, y / np.where(pos, r, 1), 0).astype(y.dtype)
