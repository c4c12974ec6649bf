"""A progress bar for long CLI operations: redrawn in place on a terminal, two plain lines elsewhere."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar"]

STATS_ROOM = 36  # " 100% 1,000,000/1,000,000 ETA 12:34"


def _clock_text(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProgressBar:
    """A `(done, total)` callback. On a TTY it redraws one line at most every `interval` seconds; on
    anything else (a log file, CI) it writes a start line and an end line only.

    Use as a context manager: the end line is written on leaving, and only if progress was reported."""

    def __init__(
        self,
        label: str,
        *,
        unit: str = "items",
        stream: TextIO | None = None,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._clock = clock
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started: float | None = None
        self._drawn = 0.0
        self._done = 0
        self._total = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._started is None:
            return
        elapsed = self._clock() - self._started
        if exc_type is None:
            self._line(f"{self.label}: {self._done:,} {self.unit} in {elapsed:.1f} s", final=True)
        else:
            self._line(
                f"{self.label}: stopped at {self._done:,} of {self._total:,} {self.unit}",
                final=True,
            )

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        self._done, self._total = done, max(total, done)
        if self._started is None:
            self._started = now
            if not self._tty:
                self._line(f"{self.label}: about {self._total:,} {self.unit}...", final=True)
        if self._tty and (now - self._drawn >= self.interval or done >= total):
            self._drawn = now
            self._line(self._bar(now), final=False)

    def _bar(self, now: float) -> str:
        fraction = self._done / self._total if self._total else 1.0
        elapsed = now - (self._started or now)
        rate = self._done / elapsed if elapsed > 0 else 0.0
        eta = (
            f" ETA {_clock_text((self._total - self._done) / rate)}"
            if rate and fraction < 1
            else ""
        )
        stats = f" {fraction:4.0%} {self._done:,}/{self._total:,}{eta}"
        # A fixed allowance for the figures, so the bar keeps its width as they grow.
        room = shutil.get_terminal_size((80, 24)).columns - len(self.label) - 3 - STATS_ROOM
        width = max(10, min(40, room))
        filled = int(width * fraction)
        return f"{self.label} [{'#' * filled}{'.' * (width - filled)}]{stats}"

    def _line(self, text: str, *, final: bool) -> None:
        if self._tty:
            # \r and clear-to-end-of-line: redraw over the previous state.
            self.stream.write(f"\r{text}\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
