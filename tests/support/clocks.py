"""Clocks a test moves by hand, for code that takes a `clock` callable."""

from __future__ import annotations

import time

__all__ = ["ManualClock", "OffsetClock"]


class ManualClock:
    """Stands still at `now` until the test advances it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class OffsetClock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
