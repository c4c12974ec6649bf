"""One log record per tool call (kros_mcp.calls): tool, outcome, organisation and latency.

Cheap enough to write on every call under load: the record is made directly (`makeRecord` and
`handle`), skipping the caller lookup through the stack that `Logger.info` does for every line,
and the call id is a per-process random prefix and a counter, not a fresh `uuid4`. Where the line
is written is the CLI's choice (cli/logs.py writes call lines in batches from a thread).
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections.abc import Collection

from mcp.types import InputRequiredResult

from .base import CallNext, ToolCall, ToolCallResult

__all__ = ["CallLog", "log_tool_call"]

calls_log = logging.getLogger("kros_mcp.calls")

# Call ids: unique across processes and replicas (random prefix) and within one (counter).
_PREFIX = secrets.token_hex(4)
_COUNTER = itertools.count(1)


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
        log_tool_call(tool, request_id, tenant, outcome, started)


def log_tool_call(tool: str, request_id: object, tenant: str, outcome: str, started: float) -> None:
    """Log a finished call of `tool` (a known tool name or "(unknown)"); `started` is its
    time.perf_counter() at the start."""
    extra = {
        "call_id": f"{_PREFIX}{next(_COUNTER) % 2**32:08x}",  # ours, unlike the client's id
        "request_id": str(request_id)[:64],
        "tenant": tenant,
        "tool": tool,
        "outcome": outcome,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    record = calls_log.makeRecord(
        calls_log.name, logging.INFO, "", 0, "tool %s %s", (tool, outcome), None, extra=extra
    )
    calls_log.handle(record)
