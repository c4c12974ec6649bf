"""What the model sees in tools/list, pinned: names, titles, descriptions, schemas, annotations.

A change to any of them fails `test_tools_match_snapshots`. If the change is intended, review it and
rewrite the snapshots with:

    UPDATE_TOOLSNAPS=1 PYTHONPATH=. python -m pytest tests/server/test_toolsnaps.py

then review the diff of tests/server/__toolsnaps__/ like any other change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kros_mcp.server import TOOL_NAMES, WRITE_TOOLS
from tests.support.harness import Harness
from tests.support.tokens import count_tokens

pytestmark = pytest.mark.anyio

SNAPSHOT_DIR = Path(__file__).with_name("__toolsnaps__")
UPDATE = os.environ.get("UPDATE_TOOLSNAPS") == "1"
READ_TOOLS = tuple(name for name in TOOL_NAMES if name not in WRITE_TOOLS)
# cl100k tokens of compact tools/list JSON, with every tool and parameter (list_endpoints, search
# paging and filters, strict id patterns), in either protocol era.
TOOLS_LIST_BUDGET = 1_500
HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
PINNED = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


async def _tools_list(client: Client) -> dict[str, Any]:
    """The tools/list result as it goes over the wire (camelCase, no nulls)."""
    result = await client.list_tools()
    assert result.next_cursor is None  # one page holds every tool
    return result.model_dump(by_alias=True, exclude_none=True, mode="json")


def _snapshot_text(tool: dict[str, Any]) -> str:
    return (
        json.dumps(
            {key: tool.get(key) for key in PINNED}, indent=2, sort_keys=True, ensure_ascii=False
        )
        + "\n"
    )


async def test_tools_match_snapshots(harness: Harness) -> None:
    async with harness.connect() as s:
        tools = (await _tools_list(s.client))["tools"]
    assert sorted(t["name"] for t in tools) == sorted(TOOL_NAMES)

    if UPDATE:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        for stale in SNAPSHOT_DIR.glob("*.json"):
            if stale.stem not in TOOL_NAMES:
                stale.unlink()
        for tool in tools:
            (SNAPSHOT_DIR / f"{tool['name']}.json").write_text(_snapshot_text(tool))
        return

    problems: list[str] = []
    for tool in tools:
        path = SNAPSHOT_DIR / f"{tool['name']}.json"
        if not path.exists():
            problems.append(f"{tool['name']}: no snapshot at {path}")
            continue
        expected = json.loads(path.read_text())
        actual = json.loads(_snapshot_text(tool))
        for key in PINNED:
            if expected.get(key) != actual.get(key):
                problems.append(
                    f"{tool['name']}.{key} changed:\n  snapshot: {json.dumps(expected.get(key))[:800]}"
                    f"\n  now:      {json.dumps(actual.get(key))[:800]}"
                )
    for extra in sorted(p.stem for p in SNAPSHOT_DIR.glob("*.json") if p.stem not in TOOL_NAMES):
        problems.append(f"{extra}: snapshot for a tool the server no longer has")
    assert not problems, (
        "tools/list differs from tests/server/__toolsnaps__ (if intended, rerun with "
        "UPDATE_TOOLSNAPS=1 and review the diff):\n" + "\n".join(problems)
    )


async def test_tool_inventory_rules(harness: Harness) -> None:
    async with harness.connect() as s:
        tools = {t["name"]: t for t in (await _tools_list(s.client))["tools"]}

    for name, tool in tools.items():
        assert tool.get("title"), f"{name} has no title"
        hints = tool.get("annotations", {})
        # Every tool says whether it writes; a write spells out every hint. A read leaves out only
        # the hints the spec gives meaning to when readOnlyHint is false (and openWorldHint, true
        # by default).
        explicit = HINTS if name in WRITE_TOOLS else ("readOnlyHint",)
        for hint in explicit:
            assert isinstance(hints.get(hint), bool), f"{name} leaves {hint} implicit"
        schema = tool["inputSchema"]
        assert schema.get("type") == "object", name
        for combinator in ("anyOf", "oneOf", "allOf"):
            assert combinator not in schema, f"{name}: top-level {combinator} in its input schema"
        assert len(tool["description"]) < 400, (
            f"{name}: description is {len(tool['description'])} characters"
        )
        assert tool.get("outputSchema", {}).get("type") == "object", (
            f"{name} has no structured output"
        )

    for name in READ_TOOLS:
        hints = tools[name]["annotations"]
        assert hints["readOnlyHint"] is True, name
        assert hints.get("destructiveHint", False) is False, name
        assert hints.get("openWorldHint", True) is True, name
        assert "dry_run" not in tools[name]["inputSchema"]["properties"], name
    for name in WRITE_TOOLS:
        assert tools[name]["annotations"]["readOnlyHint"] is False, name
        dry_run = tools[name]["inputSchema"]["properties"].get("dry_run")
        assert dry_run is not None, f"{name} has no dry_run parameter"
        assert dry_run.get("type") == "boolean" and dry_run.get("default") is False, name
    # Spending and irreversible writes say so up front; purchase is not safe to repeat.
    assert tools["purchase_number"]["annotations"]["idempotentHint"] is False
    assert tools["release_number"]["annotations"]["destructiveHint"] is True
    for name in ("purchase_number", "release_number"):
        assert "confirmation_token" in tools[name]["inputSchema"]["properties"]


async def test_tools_list_size_budget(harness: Harness) -> None:
    async with harness.connect() as s:
        listing = await _tools_list(s.client)
    tokens = count_tokens(_compact(listing))
    per_tool = {t["name"]: count_tokens(_compact(t)) for t in listing["tools"]}
    print(f"\ntools/list ({harness.mode}): {tokens} cl100k tokens; per tool: {per_tool}")
    assert tokens <= TOOLS_LIST_BUDGET, (
        f"tools/list is {tokens} tokens, over the {TOOLS_LIST_BUDGET} budget: {per_tool}"
    )


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
