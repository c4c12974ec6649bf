"""KROS_MCP_TOOLS, KROS_MCP_EXCLUDE_TOOLS and KROS_MCP_READ_ONLY: which tools a client sees and may call."""

from __future__ import annotations

import pytest

from kros_mcp.cli.wiring import build_server
from tests.support.harness import START_BALANCE, Harness, settings_for

from .helpers import READ_TOOLS, WRITE_TOOLS, policy_of, tool_names

pytestmark = pytest.mark.anyio


async def test_all_tools_by_default(harness: Harness) -> None:
    async with harness.connect() as s:
        assert await tool_names(s) == sorted(READ_TOOLS + WRITE_TOOLS)


async def test_allowlist(harness: Harness) -> None:
    harness.configure(KROS_MCP_TOOLS=" list_numbers, search_available ,purchase_number,")
    async with harness.connect() as s:
        assert await tool_names(s) == ["list_numbers", "purchase_number", "search_available"]
        assert (await policy_of(s))["tools"] == [
            "list_numbers",
            "purchase_number",
            "search_available",
        ]
        number = await s.sandbox_buy("NG")
        for tool, args in (
            ("get_number", {"number_id": number["id"]}),
            ("release_number", {"number_id": number["id"]}),
            ("update_routing", {"number_id": number["id"], "endpoint_id": None}),
        ):
            await s.error(
                tool,
                args,
                f"{tool} is not in the operator's tool allowlist",
                "TOOL_DISABLED",
                "KROS_MCP_TOOLS",
                "nothing was done",
            )
        assert [n["id"] for n in await s.owned()] == [number["id"]]
        assert (await s.ok("list_numbers"))["total"] == 1


async def test_denylist_wins_over_allowlist(harness: Harness) -> None:
    harness.configure(
        KROS_MCP_TOOLS="list_numbers,search_available,purchase_number,release_number",
        KROS_MCP_EXCLUDE_TOOLS="release_number,get_number",
    )
    async with harness.connect() as s:
        assert await tool_names(s) == ["list_numbers", "purchase_number", "search_available"]
        policy = await policy_of(s)
        assert policy["exclude_tools"] == ["get_number", "release_number"]
        number = await s.sandbox_buy("NG")
        await s.error(
            "release_number",
            {"number_id": number["id"]},
            "release_number is disabled by the operator",
            "TOOL_DISABLED",
            "KROS_MCP_EXCLUDE_TOOLS",
            "nothing was done",
        )
        await s.error("get_number", {"number_id": number["id"]}, "KROS_MCP_EXCLUDE_TOOLS")
        # A dry run is no way round it either.
        await s.error(
            "release_number", {"number_id": number["id"], "dry_run": True}, "KROS_MCP_EXCLUDE_TOOLS"
        )
        assert [n["id"] for n in await s.owned()] == [number["id"]]


async def test_denylist_alone(harness: Harness) -> None:
    harness.configure(KROS_MCP_EXCLUDE_TOOLS="purchase_number")
    async with harness.connect() as s:
        assert await tool_names(s) == sorted(["update_routing", "release_number", *READ_TOOLS])
        offer = await s.offer("NG")
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            "KROS_MCP_EXCLUDE_TOOLS",
            "nothing was done",
        )
        assert await s.owned() == [] and await s.balance() == START_BALANCE


async def test_read_only(harness: Harness) -> None:
    harness.configure(KROS_MCP_READ_ONLY="true")
    async with harness.connect() as s:
        assert await tool_names(s) == sorted(READ_TOOLS)
        tools = (await s.client.list_tools(cache_mode="bypass")).tools
        assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)
        assert (await policy_of(s))["read_only"] is True

        offer = await s.offer("NG")  # reads still work
        for args in (
            {"inventory_id": offer["inventory_id"]},
            {"inventory_id": offer["inventory_id"], "dry_run": True},
        ):
            await s.error(
                "purchase_number",
                args,
                "purchase_number is disabled: the server is read-only",
                "READ_ONLY",
                "KROS_MCP_READ_ONLY",
                "nothing was done",
            )
        assert await s.owned() == [] and await s.balance() == START_BALANCE

        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        await s.error(
            "update_routing",
            {"number_id": number["id"], "endpoint_id": None},
            "read-only",
            "KROS_MCP_READ_ONLY",
        )
        await s.error(
            "release_number", {"number_id": number["id"]}, "read-only", "KROS_MCP_READ_ONLY"
        )
        detail = await s.ok("get_number", {"number_id": number["id"]})
        assert detail["status"] == "active" and detail["endpoint"]["id"] == "ep_support_agent"
        assert (await s.ok("list_numbers"))["total"] == 1


async def test_read_only_wins_over_an_allowlist_naming_write_tools(harness: Harness) -> None:
    harness.configure(KROS_MCP_READ_ONLY=True, KROS_MCP_TOOLS="list_numbers,purchase_number")
    async with harness.connect() as s:
        assert await tool_names(s) == ["list_numbers"]
        await s.error("purchase_number", {"inventory_id": "inv_ng_1"}, "read-only")


@pytest.mark.parametrize("setting", ["KROS_MCP_TOOLS", "KROS_MCP_EXCLUDE_TOOLS"])
def test_unknown_tool_name_is_refused_at_build(tmp_path, setting: str) -> None:
    with pytest.raises(ValueError) as caught:
        build_server(settings_for(tmp_path / "data", **{setting: "list_numbers, buy_number"}))
    message = str(caught.value)
    assert "unknown tool name(s)" in message and "buy_number" in message
    for name in READ_TOOLS + WRITE_TOOLS:
        assert name in message
    assert not (tmp_path / "data" / "state.sqlite3").exists()  # refused before anything was opened
