"""Progress of long loops: a tqdm bar on a terminal, a periodic one-line log elsewhere (under DVC in CI, in logs).

    with Progress(total=600, desc="pretrain@wc", unit="step") as progress:
        for step in range(600):
            ...
            progress.update(1, loss=loss)

A user must be able to tell a slow machine from a hang: both forms show the count, the latest loss (or any
other figure passed to `update`), the elapsed time and an estimate of the time left.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

LOG_EVERY_S = 15.0  # without a terminal: a line at most this often (and at the start and the end)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class Progress:
    def __init__(self, total: int, desc: str, unit: str = "step", stream: TextIO | None = None,
                 every_s: float = LOG_EVERY_S, tty: bool | None = None):
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.stream = stream or sys.stderr
        self.count, self.figures, self.started = 0, {}, time.perf_counter()
        self.last_line = float("-inf")
        use_bar = self.stream.isatty() if tty is None else tty
        self.bar = None
        if use_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)

    def update(self, n: int = 1, **figures: float) -> None:
        self.count += n
        self.figures.update(figures)
        if self.bar is not None:
            self.bar.update(n)
            if figures:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in self.figures.items()}, refresh=False)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.every_s or self.count >= self.total:
            self.last_line = now
            self.stream.write(self.line(now - self.started) + "\n")
            self.stream.flush()

    def line(self, elapsed: float) -> str:
        share = self.count / self.total if self.total else 1.0
        parts = [f"{self.desc}: {self.count}/{self.total} {self.unit}s ({100 * share:.0f}%)"]
        parts += [f"{key} {value:.4g}" for key, value in self.figures.items()]
        parts.append(f"{_clock(elapsed)} elapsed")
        if 0 < self.count < self.total:
            parts.append(f"ETA {_clock(elapsed / self.count * (self.total - self.count))}")
        return ", ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
