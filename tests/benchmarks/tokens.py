"""Token footprint: what a model's context pays for tools/list and for typical results.

Sizes are characters of compact JSON as it goes over the wire (camelCase, no nulls), the way
tests/server/test_toolsnaps.py counts them; tokens are estimated as characters / 4. A result is
reported whole, and split into its text block (what a client without structured-content support
shows the model) and its structured content.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings

from .common import approx_tokens
from .seed import lift_rate_limits, seed_owned

TOOLS_LIST_TARGET_TOKENS = 1500
ITEMS = 20


def _size(value: Any) -> dict[str, int]:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    )
    return {"chars": len(text), "tokens": approx_tokens(len(text))}


def _result_sizes(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result
    wire = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    return {
        "whole": _size(wire),
        "text": _size(text),
        "structured": _size(result.structured_content),
    }


async def measure(mode: str, data_dir: Path) -> dict[str, Any]:
    server = build_server(Settings(KROS_MCP_DATA_DIR=data_dir))
    async with Client(server, mode=mode, cache=None) as client:
        deps = server.current_deps_or_none()
        assert deps is not None and deps.sandbox_app is not None
        lift_rate_limits(deps.sandbox_app)
        if seed_owned(deps.sandbox_app.state.sandbox.db, 0) < ITEMS:
            seed_owned(deps.sandbox_app.state.sandbox.db, ITEMS)
        listing = (await client.list_tools()).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        owned = await client.call_tool("list_numbers", {"limit": ITEMS})
        offers = await client.call_tool("search_available", {"country": "NG", "limit": ITEMS})
        assert len(owned.structured_content["numbers"]) == ITEMS
        assert len(offers.structured_content["offers"]) == ITEMS
        return {
            "tools_list": {
                **_size(listing),
                "tools": len(listing["tools"]),
                "per_tool_chars": {t["name"]: _size(t)["chars"] for t in listing["tools"]},
            },
            "list_numbers_20": _result_sizes(owned),
            "search_available_20": _result_sizes(offers),
        }


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kros-bench-tokens-") as tmp:
        return {
            "target_tools_list_tokens": TOOLS_LIST_TARGET_TOKENS,
            "2026-07-28": await measure("auto", Path(tmp) / "modern"),
            "2025-11-25": await measure("legacy", Path(tmp) / "legacy"),
        }
