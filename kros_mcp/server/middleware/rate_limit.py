"""The server's own limit on tool calls per organisation (KROS_MCP_TOOL_RATE_LIMIT).

Counted with `limits` (the library behind Flask-Limiter and SlowAPI): a moving window, so no
organisation makes more than the rate's calls in any window, bursts included. Its counters live in
this process's memory (window_storage.py); `limits` keeps the same counters in Redis or Memcached
should replicas ever need to share one limit.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from .base import CallNext, ToolCall, ToolCallResult

if TYPE_CHECKING:
    from limits import RateLimitItemPerSecond

__all__ = ["ToolRateLimit", "per_window"]


def per_window(per_second: float) -> RateLimitItemPerSecond:
    """`per_second` as whole calls in whole seconds: 20 → 20 in 1 s, 0.5 → 1 in 2 s."""
    from limits import RateLimitItemPerSecond  # on first use: stdio serves without a limit

    if not per_second > 0:
        raise ValueError(f"a rate limit must be above 0 calls a second, not {per_second}")
    rate = Fraction(per_second).limit_denominator(3600) or Fraction(1, 3600)
    return RateLimitItemPerSecond(rate.numerator, rate.denominator, namespace="kros-mcp-tools")


class ToolRateLimit:
    """Refuses calls over `per_second` per organisation with RATE_LIMITED and when to retry."""

    def __init__(self, per_second: float) -> None:
        from limits.strategies import MovingWindowRateLimiter

        from .window_storage import WindowStorage  # limits' MemoryStorage starts timer threads

        self.item = per_window(per_second)
        self._limiter = MovingWindowRateLimiter(WindowStorage())

    def retry_after(self, tenant: str) -> float | None:
        """None when `tenant` may make a call now (and it is counted), else seconds to wait."""
        if self._limiter.hit(self.item, tenant):
            return None
        reset, _ = self._limiter.get_window_stats(self.item, tenant)
        return max(reset - time.time(), 0.01)

    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult:
        deps = call.deps
        if deps is not None:
            wait = self.retry_after(deps.tenant)
            if wait is not None:
                raise ToolError(
                    "RATE_LIMITED: too many tool calls for this organisation; nothing was done. "
                    f"Retry after {wait:.2f}s."
                )
        return await call_next(call)
