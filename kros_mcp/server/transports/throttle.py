"""Rate limits keyed by principal or client address, on the `limits` library.

A moving window per key, in memory (server/middleware/window_storage.py): at most the rate's count
of call times per key, and keys whose calls left their window are dropped as the table grows, so a
flood of new addresses or principals cannot grow it for good. (limits' own MemoryStorage expires
keys from a timer thread started again about every 10 ms under load: an eighth of the server's CPU
in the profile.)"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse, strategies

from ..middleware.window_storage import WindowStorage

__all__ = ["Throttle", "parse_rate"]


def parse_rate(text: str) -> RateLimitItem:
    """`30/minute` as a rate (the settings validate the text at start-up)."""
    return parse(text)


class Throttle:
    """Named rates, counted per key. `hit` consumes one; `blocked` only looks."""

    def __init__(self) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(WindowStorage())

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
