"""The sandbox's rate limits, reported the way KrosAI does (X-RateLimit-*, fractional Retry-After).

Counting is the `limits` library's fixed window (the one behind Flask-Limiter and slowapi): KrosAI
documents a per-second limit whose `X-RateLimit-Reset` is "when the limit resets", which is a
window's end. Windows are kept per (organisation, bucket) in memory, per sandbox process.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

__all__ = ["DEFAULT_LIMITS", "RateLimiter", "RateVerdict"]

# Requests per second: KrosAI's Pro plan for everything, 5/s for purchases (its documented limit).
DEFAULT_LIMITS: dict[str, float] = {"default": 50.0, "purchase": 5.0}


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends
    retry_after: float  # seconds until one request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def _item(per_second: float) -> RateLimitItem:
    """A whole number of requests per window: N a second, or one every 1/rate seconds below 1/s."""
    if per_second >= 1:
        return RateLimitItemPerSecond(int(per_second))
    return RateLimitItemPerSecond(1, max(1, round(1 / per_second)))


class RateLimiter:
    """Fixed one-second windows keyed by (organisation, bucket); unknown buckets use `default`."""

    def __init__(self, limits: dict[str, float] | None = None) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._items = {bucket: _item(rate) for bucket, rate in self.limits.items()}
        self._storage = MemoryStorage()
        self._counter = FixedWindowRateLimiter(self._storage)
        self._lock = threading.Lock()

    def set_limit(self, bucket: str, per_second: float) -> None:
        with self._lock:
            self.limits[bucket] = per_second
            self._items[bucket] = _item(per_second)
            self._storage.reset()  # a new limit starts with full windows

    def check(self, org_id: str, bucket: str) -> RateVerdict:
        with self._lock:
            item = self._items.get(bucket) or self._items["default"]
            allowed = self._counter.hit(item, org_id, bucket)
            stats = self._counter.get_window_stats(item, org_id, bucket)
        now = time.time()
        wait = max(stats.reset_time - now, 0.001)
        return RateVerdict(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset=math.ceil(stats.reset_time),
            retry_after=0.0 if allowed else round(wait, 3) or 0.001,
        )
