"""What a tool-call gate sees, and how the gates are chained."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, InputRequiredResult

from ..context import deps_of
from ..deps import Deps

__all__ = ["CallNext", "ToolCall", "ToolCallMiddleware", "ToolCallResult", "run_chain"]

ToolCallResult = CallToolResult | InputRequiredResult


@dataclass
class ToolCall:
    """One `tools/call`: the tool's name and arguments as the client sent them, and the request.

    `context` is None when the server is called directly rather than over MCP; the gates that need
    the caller's organisation then let the call through."""

    name: str
    arguments: dict[str, Any]
    context: Context[Any, Any] | None
    _deps: Deps | None = field(default=None, repr=False)

    @property
    def deps(self) -> Deps | None:
        """The caller's dependencies (its organisation in multi-tenant mode), or None without a
        request. Raises ToolError when a multi-tenant caller sent no KrosAI key."""
        if self._deps is None and self.context is not None:
            self._deps = deps_of(self.context)
        return self._deps


CallNext = Callable[[ToolCall], Awaitable[ToolCallResult]]


class ToolCallMiddleware(Protocol):
    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult: ...


def run_chain(
    middleware: Sequence[ToolCallMiddleware], handler: CallNext, call: ToolCall
) -> Awaitable[ToolCallResult]:
    """Run `call` through `middleware` (outermost first) and then `handler`."""
    chain = handler
    for piece in reversed(middleware):
        chain = functools.partial(piece, call_next=chain)
    return chain(call)
