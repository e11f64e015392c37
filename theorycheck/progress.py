"""A minimal progress bar on stderr, shown only when stderr is a TTY (never in CI logs or pipes)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, desc: str = "", enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = (self.stream.isatty() if enabled is None else enabled) and total > 0
        self.total, self.desc, self.n = total, desc, 0
        self._t0 = self._last = time.monotonic()

    def update(self, n: int = 1):
        self.n += n
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.n >= self.total):
            self._last = now
            frac = self.n / self.total
            bar = "#" * int(30 * frac)
            rate = self.n / max(now - self._t0, 1e-9)
            eta = (self.total - self.n) / rate if rate > 0 else 0.0
            self.stream.write(f"\r{self.desc} [{bar:<30}] {100 * frac:3.0f}% {self.n}/{self.total} {rate:,.0f}/s "
                              f"eta {eta:.0f}s")
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
