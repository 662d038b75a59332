"""A one-line progress bar on stderr for long measurements, shown only on a terminal."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total, self.done, self.t0 = total, -1, time.perf_counter()

    def step(self, label: str) -> None:
        """A new step starts (the previous one is done)."""
        self.done += 1
        if self.enabled:
            width, filled = 24, 24 * self.done // self.total
            elapsed = time.perf_counter() - self.t0
            self.stream.write(f"\r\x1b[K[{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} {elapsed:5.0f} s  {label}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write(f"\r\x1b[Kmeasured in {time.perf_counter() - self.t0:.0f} s\n")
            self.stream.flush()
