"""Counter-based random numbers: the value drawn for (seed, step, stream, coordinate) is a pure function
of those integers.

This is what makes a replica's trajectory independent of the batch it runs in (alone or among 1000
others), of the device, and of the order of evaluation: no generator state is shared between replicas.
The mixer is the 32-bit integer hash ``h = ((h >> 16) ^ h) * 0x45d9f3b`` (three rounds), computed in
int64 so that every product stays below 2**59 (no overflow on any device).
"""
from __future__ import annotations

import math

import torch

_MASK32 = 0xFFFFFFFF
_MULT = 0x45D9F3B

# Stream identifiers: one per independent use of randomness inside a run.
STREAM_NOISE = 1
STREAM_NOISE_AUX = 2
STREAM_INDEX = 3  # AM2's j_k
STREAM_MINIBATCH = 4


def _mix(h: torch.Tensor) -> torch.Tensor:
    for _ in range(3):
        h = (((h >> 16) ^ h) * _MULT) & _MASK32
    return (h >> 16) ^ h


def _mix_(h: torch.Tensor) -> torch.Tensor:
    """``_mix`` in place on a fresh tensor (same values, no temporaries beyond one buffer)."""
    t = torch.empty_like(h)
    for _ in range(3):
        torch.bitwise_right_shift(h, 16, out=t)
        h.bitwise_xor_(t).mul_(_MULT).bitwise_and_(_MASK32)
    torch.bitwise_right_shift(h, 16, out=t)
    return h.bitwise_xor_(t)


def _key(seeds: torch.Tensor, step: int, stream: int) -> torch.Tensor:
    """(R,) int64 keys in [0, 2**32) combining seed, step and stream."""
    h = _mix(seeds.to(torch.int64) & _MASK32)
    h = _mix(h ^ ((int(step) * 0x9E3779B1) & _MASK32))
    h = _mix(h ^ ((int(stream) * 0x85EBCA77 + (int(step) >> 32)) & _MASK32))
    return h


def bits32(seeds: torch.Tensor, step: int, stream: int, n: int, offset: int = 0) -> torch.Tensor:
    """(R, n) int64 tensor of hashed 32-bit words for coordinates offset..offset+n-1."""
    key = _key(seeds, step, stream)[:, None]
    j = torch.arange(offset, offset + n, device=seeds.device, dtype=torch.int64)
    j.mul_(0x27D4EB2F).bitwise_and_(_MASK32)
    return _mix_(torch.bitwise_xor(key, j[None, :]))


def uniform(seeds: torch.Tensor, step: int, stream: int, n: int, dtype=torch.float64) -> torch.Tensor:
    """(R, n) uniforms in the open interval (0, 1) with 32 random bits each."""
    h = bits32(seeds, step, (stream << 8) | 3, n)
    u = h.to(torch.float64).add_(0.5).mul_(1.0 / 4294967296.0)
    return u if dtype == torch.float64 else u.to(dtype)


def normal(seeds: torch.Tensor, step: int, stream: int, n: int, dtype=torch.float64) -> torch.Tensor:
    """(R, n) standard normals by the Box-Muller transform (both the cosine and the sine branch)."""
    half = (n + 1) // 2
    u = uniform(seeds, step, (stream << 8) | 1, 2 * half)
    r = u[:, :half].log().mul_(-2.0).sqrt_()
    t = u[:, half:].mul(2.0 * math.pi)
    z = torch.empty_like(u)
    torch.cos(t, out=z[:, :half]).mul_(r)
    torch.sin(t, out=z[:, half:]).mul_(r)
    z = z[:, :n]
    return z if dtype == torch.float64 else z.to(dtype)


def integers(seeds: torch.Tensor, step: int, stream: int, high: int, n: int = 1) -> torch.Tensor:
    """(R, n) int64 uniform on {0, ..., high-1} (from a 32-bit uniform: bias below high * 2**-32)."""
    if high < 1:
        raise ValueError(f"high must be >= 1, got {high}")
    u = uniform(seeds, step, stream << 8, n)
    return torch.clamp((u * high).to(torch.int64), max=high - 1)


def as_seeds(seeds, device=None) -> torch.Tensor:
    """Normalise a seed list / range / tensor to an (R,) int64 tensor on `device`."""
    t = torch.as_tensor(list(seeds) if not torch.is_tensor(seeds) else seeds, dtype=torch.int64)
    if t.ndim != 1:
        raise ValueError(f"seeds must be one-dimensional, got shape {tuple(t.shape)}")
    if (t < 0).any():
        raise ValueError("seeds must be non-negative integers")
    return t.to(device) if device is not None else t
