"""A one-line progress bar on standard error: bytes processed, MB/s and ETA.

Written here rather than taken from ``tqdm``: bsmtrail's commands need exactly one kind of
bar (bytes, with the total known up front from the files' sizes), and 80 lines are cheaper
than a runtime dependency that every install of a forensic tool would have to carry. The
bar draws only when standard error is a terminal (never into a log file or a pipe), is
redrawn at most ten times a second, and left showing the totals when the work ends.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "progress_wanted"]


def progress_wanted(quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether to draw a bar: not ``--quiet``, and standard error is a terminal."""
    s = sys.stderr if stream is None else stream
    if quiet:
        return False
    try:
        return s.isatty()
    except (AttributeError, ValueError):
        return False


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def _eta(seconds: float) -> str:
    s = int(seconds + 0.5)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``with Progress(total_bytes, "convert", enabled) as bar: bar.update(done_bytes)``.

    ``update`` takes the absolute number of bytes done so far; ``advance`` adds to it.
    Disabled bars cost one comparison per call.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        enabled: bool = True,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.min_interval = min_interval
        self.done = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        self.done = min(max(int(done), self.done), self.total) if self.total else int(done)
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval:
            self._last_draw = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The bar's text (for tests and the final redraw)."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        frac = self.done / self.total if self.total else 1.0
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            width = 80
        if self.total and rate > 0 and self.done < self.total:
            eta = "ETA " + _eta((self.total - self.done) / rate)
        else:
            eta = "ETA  -:--" if self.done < self.total else f"in {_eta(elapsed)}"
        tail = (
            f" {frac * 100:5.1f}% {_mb(self.done)}/{_mb(self.total)} MB "
            f"{rate / 1e6:7.1f} MB/s {eta}"
        )
        head = f"{self.label} " if self.label else ""
        bar_w = max(10, min(40, width - len(head) - len(tail) - 3))
        filled = int(bar_w * frac)
        return f"{head}[{'#' * filled}{'.' * (bar_w - filled)}]{tail}"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.line(now) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the bar (before writing other lines to the same terminal); the next
        update draws it again."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
            self._last_draw = 0.0

    def close(self) -> None:
        """Draw the final state once and end the line."""
        if not self.enabled:
            return
        self.enabled = False
        self.stream.write("\r" + self.line() + "\x1b[K\n")
        self.stream.flush()
