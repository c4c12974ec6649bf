"""One log record per tool call (kros_mcp.calls): tool, outcome, organisation and latency."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection

from mcp.types import InputRequiredResult

from .base import CallNext, ToolCall, ToolCallResult

__all__ = ["CallLog"]

calls_log = logging.getLogger("kros_mcp.calls")


class CallLog:
    """Logs each call made over MCP. `tools` are the names that may be logged as sent."""

    def __init__(self, tools: Collection[str]) -> None:
        self.tools = frozenset(tools)

    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult:
        deps = call.deps
        # Off on stdio: skip building the record.
        if deps is None or not calls_log.isEnabledFor(logging.INFO):
            return await call_next(call)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(call)
            if isinstance(result, InputRequiredResult):
                outcome = "input_required"
            else:
                outcome = "error" if result.is_error else "ok"
            return result
        finally:
            self._log(call, deps.tenant, outcome, started)

    def _log(self, call: ToolCall, tenant: str, outcome: str, started: float) -> None:
        # The name and the request id are the caller's: never log either unbounded, nor a name
        # that is not a tool (it could forge text log lines).
        tool = call.name if call.name in self.tools else "(unknown)"
        request_id = call.context.request_id if call.context is not None else ""
        calls_log.info(
            "tool %s %s",
            tool,
            outcome,
            extra={
                "call_id": uuid.uuid4().hex[:16],  # ours: unique, unlike the client's JSON-RPC id
                "request_id": str(request_id)[:64],
                "tenant": tenant,
                "tool": tool,
                "outcome": outcome,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
