"""The gates in order, and the server's gates as built from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.server.middleware import (
    ArgumentErrors,
    CallLog,
    CallNext,
    DisabledTools,
    FirstCallReconcile,
    ToolCall,
    ToolCallResult,
    ToolRateLimit,
    run_chain,
)

from .calls import Handler, call_for

pytestmark = pytest.mark.anyio


class Mark:
    def __init__(self, name: str, trail: list[str]) -> None:
        self.name, self.trail = name, trail

    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult:
        self.trail.append(f"{self.name} in")
        try:
            return await call_next(call)
        finally:
            self.trail.append(f"{self.name} out")


async def test_gates_run_outermost_first(handler: Handler) -> None:
    trail: list[str] = []
    await run_chain([Mark("a", trail), Mark("b", trail)], handler, call_for())
    assert trail == ["a in", "b in", "b out", "a out"] and len(handler.calls) == 1


def test_the_server_lists_its_gates_in_order(tmp_path: Path) -> None:
    plain = build_server(Settings(KROS_MCP_DATA_DIR=tmp_path))
    assert [type(g) for g in plain.call_middleware] == [
        DisabledTools,
        FirstCallReconcile,
        CallLog,
        ArgumentErrors,
    ]
    limited = build_server(Settings(KROS_MCP_DATA_DIR=tmp_path, KROS_MCP_TOOL_RATE_LIMIT=5))
    assert [type(g) for g in limited.call_middleware][:2] == [DisabledTools, ToolRateLimit]


async def test_a_disabled_tool_is_neither_listed_nor_callable(tmp_path: Path) -> None:
    server = build_server(Settings(KROS_MCP_DATA_DIR=tmp_path, KROS_MCP_READ_ONLY=True))
    listed = {tool.name for tool in await server.list_tools()}
    # The MCP App's read-only tools stay (shown only to clients that negotiate Apps), its writes go.
    assert listed - {"app_context", "app_offers"} == {
        "list_numbers",
        "get_number",
        "search_available",
        "list_endpoints",
    }
    gate = server.call_middleware[0]
    assert isinstance(gate, DisabledTools)
    assert set(gate.disabled) == {"purchase_number", "update_routing", "release_number"}
