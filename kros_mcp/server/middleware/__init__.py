"""Gates around every tool call, one small piece each, composed by KrosMCPServer.call_tool.

Each piece is an async callable `(call, call_next) -> result`: it may refuse the call (raise
ToolError, which reaches the model as an error result), act before or after it, or pass it on.
They run outermost first, in the order `KrosMCPServer` lists them.
"""

from __future__ import annotations

from .arguments import ArgumentErrors
from .base import CallNext, ToolCall, ToolCallMiddleware, ToolCallResult, run_chain
from .call_log import CallLog
from .disabled import DisabledTools
from .rate_limit import ToolRateLimit
from .reconcile import FirstCallReconcile

__all__ = [
    "ArgumentErrors",
    "CallLog",
    "CallNext",
    "DisabledTools",
    "FirstCallReconcile",
    "ToolCall",
    "ToolCallMiddleware",
    "ToolCallResult",
    "ToolRateLimit",
    "run_chain",
]
