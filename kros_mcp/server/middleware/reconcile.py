"""Multi-tenant mode: an organisation's unfinished writes are settled before its first call."""

from __future__ import annotations

from ..reconcile import reconcile_unfinished
from .base import CallNext, ToolCall, ToolCallResult

__all__ = ["FirstCallReconcile"]


class FirstCallReconcile:
    """Before the first call of each organisation (in this process), settle the writes an earlier
    run left unfinished for it. A single-tenant server does this once, when it starts."""

    def __init__(self) -> None:
        self.settled: set[str] = set()

    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult:
        deps = call.deps
        if deps is not None and deps.tenants is not None and deps.tenant not in self.settled:
            self.settled.add(deps.tenant)
            await reconcile_unfinished(deps)
        return await call_next(call)
