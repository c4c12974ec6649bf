"""Per-request tool access, as SDK middleware: what a principal may see and call, and how often.

A principal without the write scope (an OAuth token lacking it) sees a read-only server: the write
tools are missing from `tools/list` and calling one is refused (the HTTP layer has already
answered such a call 403 `insufficient_scope`; this is the second lock). Tool calls are also
limited per principal and per client address, besides the per-organisation limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from limits import RateLimitItem
from mcp.server import ServerRequestContext
from mcp.types import CallToolResult, TextContent
from mcp_types.methods import serialize_server_result

from .principal import Principal, current_principal
from .throttle import Throttle

__all__ = ["ToolAccess", "visible_tools"]

# The SDK's server middleware shapes (mcp.server.context, not among its exported modules).
HandlerResult = Any
CallNext = Callable[[ServerRequestContext[Any, Any]], Awaitable[HandlerResult]]


def visible_tools(
    principal: Principal | None, names: Iterable[str], writes: frozenset[str]
) -> list[str]:
    """The tools `principal` may see: all of them, less the write tools without write access."""
    if principal is None or principal.can_write:
        return list(names)
    return [name for name in names if name not in writes]


def _refused(ctx: ServerRequestContext[Any, Any], text: str) -> dict[str, Any]:
    """A tool error result in the wire form of the request's protocol version."""
    result = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    return serialize_server_result(
        "tools/call", ctx.protocol_version, result.model_dump(by_alias=True, exclude_none=True)
    )


class ToolAccess:
    """Server middleware: filters `tools/list`, gates and rate-limits `tools/call`."""

    def __init__(
        self,
        writes: frozenset[str],
        *,
        per_principal: RateLimitItem | None,
        per_address: RateLimitItem | None,
    ) -> None:
        self._writes = writes
        self._per_principal = per_principal
        self._per_address = per_address
        self._throttle = Throttle()

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "tools/list":
            return self._filter(await call_next(ctx))
        if ctx.method != "tools/call":
            return await call_next(ctx)
        caller = current_principal()
        name = (ctx.params or {}).get("name")
        if caller is not None and not caller.can_write and name in self._writes:
            return _refused(
                ctx,
                f"INSUFFICIENT_SCOPE: {name} needs write access, which this access token does not "
                "grant; nothing was done. Ask for a token with the write scope.",
            )
        wait = self._limited(ctx, caller)
        if wait is not None:
            return _refused(
                ctx,
                "RATE_LIMITED: too many tool calls from this caller; nothing was done. "
                f"Retry after {wait:.2f}s.",
            )
        return await call_next(ctx)

    def _filter(self, result: HandlerResult) -> HandlerResult:
        caller = current_principal()
        if caller is None or caller.can_write or not isinstance(result, dict):
            return result
        tools = result.get("tools") or []
        keep = set(visible_tools(caller, (t.get("name") for t in tools), self._writes))
        return {**result, "tools": [t for t in tools if t.get("name") in keep]}

    def _limited(
        self, ctx: ServerRequestContext[Any, Any], caller: Principal | None
    ) -> float | None:
        if caller is not None and self._per_principal is not None:
            wait = self._throttle.hit(self._per_principal, "tools", caller.principal)
            if wait is not None:
                return wait
        client = getattr(ctx.request, "client", None)
        if client is not None and self._per_address is not None:
            return self._throttle.hit(self._per_address, "tools", str(client[0]))
        return None
