"""Rate limits keyed by principal or client address, on the `limits` library.

A sliding-window counter per key, in memory: O(1) per key, and keys expire with their window, so a
flood of new addresses or principals cannot grow the table for good."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse, storage, strategies

__all__ = ["Throttle", "parse_rate"]


def parse_rate(text: str) -> RateLimitItem:
    """`30/minute` as a rate (the settings validate the text at start-up)."""
    return parse(text)


class Throttle:
    """Named rates, counted per key. `hit` consumes one; `blocked` only looks."""

    def __init__(self) -> None:
        self._limiter = strategies.SlidingWindowCounterRateLimiter(storage.MemoryStorage())

    def hit(self, rate: RateLimitItem, *key: str) -> float | None:
        """None when allowed (and counted), else the seconds to wait before retrying."""
        if self._limiter.hit(rate, *key):
            return None
        return self._retry_after(rate, *key)

    def blocked(self, rate: RateLimitItem, *key: str) -> float | None:
        """Like `hit`, but counts nothing: None while there is room."""
        if self._limiter.test(rate, *key):
            return None
        return self._retry_after(rate, *key)

    def _retry_after(self, rate: RateLimitItem, *key: str) -> float:
        reset = self._limiter.get_window_stats(rate, *key).reset_time
        return max(1.0, round(reset - time.time(), 1))
