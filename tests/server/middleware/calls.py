"""A tool call as the gates see it, made without a server: `call_for(tenant)` is a call from that
organisation, `answer` a handler that records what reached it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mcp.types import CallToolResult, TextContent

from kros_mcp.server.middleware import ToolCall


def call_for(
    tenant: str = "t_a", name: str = "list_numbers", *, multi_tenant: bool = False
) -> ToolCall:
    deps: Any = SimpleNamespace(tenant=tenant, tenants=object() if multi_tenant else None)
    return ToolCall(name, {}, context=None, _deps=deps)


def ok(text: str = "done") -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)])


class Handler:
    """The rest of the chain: records each call and answers `result`."""

    def __init__(self, result: Any = None) -> None:
        self.calls: list[ToolCall] = []
        self.result = result if result is not None else ok()

    async def __call__(self, call: ToolCall) -> Any:
        self.calls.append(call)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result
