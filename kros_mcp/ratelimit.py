"""Per-key token buckets, reported the way KrosAI does (X-RateLimit-*, Retry-After): the sandbox's
imitation of KrosAI's limits, per organisation. (The server limits tool calls on its own, in
server/middleware/rate_limit.py.)"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "RateLimiter", "RateVerdict"]

# Requests per second: KrosAI's Pro plan for everything, 5/s for purchases (its documented limit).
DEFAULT_LIMITS: dict[str, float] = {"default": 50.0, "purchase": 5.0}


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the bucket is full again
    retry_after: float  # seconds until one request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Token buckets keyed by (organisation, bucket); the burst size equals the rate."""

    def __init__(
        self, limits: dict[str, float] | None = None, clock: object = time.monotonic
    ) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def set_limit(self, bucket: str, per_second: float) -> None:
        with self._lock:
            self.limits[bucket] = per_second
            for key in [k for k in self._buckets if k[1] == bucket]:
                del self._buckets[key]

    def check(self, org_id: str, bucket: str) -> RateVerdict:
        rate = self.limits.get(bucket, self.limits["default"])
        now = self._clock()  # type: ignore[operator]
        with self._lock:
            tokens, last = self._buckets.get((org_id, bucket), (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[(org_id, bucket)] = (tokens, now)
        retry_after = 0.0 if allowed else round((1.0 - tokens) / rate, 3)
        full_in = (rate - tokens) / rate
        return RateVerdict(
            allowed=allowed,
            limit=math.ceil(rate),
            remaining=max(0, int(tokens)),
            reset=math.ceil(time.time() + full_in),
            retry_after=max(retry_after, 0.001) if not allowed else 0.0,
        )
