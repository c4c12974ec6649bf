"""The MCP App at protocol level: what a client that negotiates MCP Apps sees, and that a client
that does not sees exactly the plain server (tools/list, resources/list, calls).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from kros_mcp.server import TOOL_NAMES
from kros_mcp.server.apps import APP_TOOLS, UI_BOUND_TOOLS, VIEW_URI
from tests.support.harness import Harness
from tests.support.results import text_of

from ._apps import app_ok, apps_client

pytestmark = pytest.mark.anyio

APP_TOOL_NAMES = sorted(t.name for t in APP_TOOLS)


async def wire_tools(client: Client) -> dict[str, dict[str, Any]]:
    listing = (await client.list_tools()).model_dump(by_alias=True, exclude_none=True, mode="json")
    return {tool["name"]: tool for tool in listing["tools"]}


async def wire_listing(client: Client) -> tuple[Any, Any, Any]:
    tools = (await client.list_tools()).model_dump(by_alias=True, exclude_none=True, mode="json")
    resources = (await client.list_resources()).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    templates = (await client.list_resource_templates()).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    return tools, resources, templates


async def test_a_client_with_apps_sees_the_view(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        tools = await wire_tools(s.client)
        assert sorted(tools) == sorted([*TOOL_NAMES, *APP_TOOL_NAMES])
        for name in UI_BOUND_TOOLS:
            assert tools[name]["_meta"]["ui"] == {"resourceUri": VIEW_URI}, name
        for name in set(TOOL_NAMES) - set(UI_BOUND_TOOLS):
            assert "ui" not in tools[name].get("_meta", {}), name
        for name in APP_TOOL_NAMES:
            assert tools[name]["_meta"]["ui"] == {"resourceUri": VIEW_URI, "visibility": ["app"]}

        listed = {r.uri: r for r in (await s.client.list_resources()).resources}
        assert listed[VIEW_URI].mime_type == APP_MIME_TYPE
        read = await s.client.read_resource(VIEW_URI)
        [content] = read.contents
        assert content.mime_type == APP_MIME_TYPE
        assert content.text.startswith("<!DOCTYPE html>")
        # No external origin of any kind: none declared for the host to allow.
        assert content.meta["ui"]["csp"] == {
            "connectDomains": [],
            "resourceDomains": [],
            "frameDomains": [],
            "baseUriDomains": [],
        }
        # The SDK sends server extensions in the 2026-07-28 era only (the 2025-11-25 schema has
        # no such field); MCPServer(extensions=[Apps()]) answers the same.
        advertised = s.client.server_capabilities.extensions
        assert advertised == ({EXTENSION_ID: {}} if harness.mode == "auto" else None)


async def test_a_client_without_apps_sees_exactly_the_plain_server(harness: Harness) -> None:
    """The same tools/list, resources/list and templates as a server with the app turned off."""
    async with harness.connect() as s:
        with_app = await wire_listing(s.client)
        tools = await wire_tools(s.client)
    assert sorted(tools) == sorted(TOOL_NAMES)
    assert all("_meta" not in tool for tool in tools.values())
    plain = Harness(harness.data_dir.parent / "plain", harness.mode, harness.opened)
    async with plain.configure(KROS_MCP_APPS=False).connect() as s:
        assert await wire_listing(s.client) == with_app


@pytest.mark.parametrize("settings", [{"mimeTypes": []}, {}, {"mimeTypes": ["text/html"]}])
async def test_advertising_apps_without_its_mime_type_is_not_negotiating(
    harness: Harness, settings: dict[str, Any]
) -> None:
    async with harness.connect(extensions=[advertise(EXTENSION_ID, settings)]) as s:
        tools = await wire_tools(s.client)
    assert sorted(tools) == sorted(TOOL_NAMES)
    assert all("_meta" not in tool for tool in tools.values())


async def test_app_only_tools_do_not_exist_for_a_client_without_apps(harness: Harness) -> None:
    async with harness.connect() as s:
        absent = await s.call("no_such_tool", {"proof": "x"})
        for name in APP_TOOL_NAMES:
            # Whatever the arguments, the answer is the SDK's own answer for a missing tool.
            for arguments in ({}, {"country": "NG", "proof": "kc1.a.b", "inventory_id": 5}):
                result = await s.call(name, arguments)
                assert result.is_error is True
                assert text_of(result) == f"Unknown tool: {name}"
                dumped = result.model_dump(by_alias=True, exclude_none=True, exclude={"content"})
                assert dumped == absent.model_dump(
                    by_alias=True, exclude_none=True, exclude={"content"}
                )
        assert await s.owned() == []


async def test_the_app_can_be_turned_off(harness: Harness) -> None:
    async with harness.configure(KROS_MCP_APPS=False).connect(**apps_client()) as s:
        tools = await wire_tools(s.client)
        uris = [r.uri for r in (await s.client.list_resources()).resources]
        assert (await s.call("app_context")).is_error
        capabilities = s.client.server_capabilities.extensions
    assert sorted(tools) == sorted(TOOL_NAMES)
    assert all("_meta" not in tool for tool in tools.values())
    assert VIEW_URI not in uris
    assert not capabilities


@pytest.mark.parametrize(
    ("options", "absent", "actions"),
    [
        (
            {"KROS_MCP_READ_ONLY": True},
            {"app_quote_purchase", "app_buy", "app_preview_release", "app_release"},
            {"buy": False, "route": False, "release": False},
        ),
        (
            {"KROS_MCP_EXCLUDE_TOOLS": "purchase_number"},
            {"app_quote_purchase", "app_buy"},
            {"buy": False, "route": True, "release": True},
        ),
        (
            {"KROS_MCP_EXCLUDE_TOOLS": "release_number,update_routing"},
            {"app_preview_release", "app_release"},
            {"buy": True, "route": False, "release": False},
        ),
    ],
    ids=["read-only", "no-purchase", "no-release-no-routing"],
)
async def test_the_view_gets_only_what_the_policy_allows(
    harness: Harness, options: dict[str, Any], absent: set[str], actions: dict[str, bool]
) -> None:
    async with harness.configure(**options).connect(**apps_client()) as s:
        tools = await wire_tools(s.client)
        context = (await app_ok(s, "app_context")).data
        for name in absent:
            assert text_of(await s.call(name, {})) == f"Unknown tool: {name}"
    assert not absent & set(tools)
    assert context["actions"] == actions


async def test_no_view_when_the_policy_leaves_nothing_to_show(harness: Harness) -> None:
    options = {"KROS_MCP_TOOLS": "purchase_number,get_number"}
    async with harness.configure(**options).connect(**apps_client()) as s:
        tools = await wire_tools(s.client)
        uris = [r.uri for r in (await s.client.list_resources()).resources]
    assert sorted(tools) == ["get_number", "purchase_number"]
    assert VIEW_URI not in uris


async def test_the_view_is_one_self_contained_document_under_a_strict_csp(
    harness: Harness,
) -> None:
    async with harness.connect(**apps_client()) as s:
        html = (await s.client.read_resource(VIEW_URI)).contents[0].text
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp, "the view declares its own Content-Security-Policy"
    directives = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    for directive in ("connect-src", "img-src", "font-src", "frame-src", "object-src", "base-uri"):
        assert directives[directive] == "'none'", directive
    # Script and style are allowed by hash only: exactly the inline blocks, nothing else.
    blocks = {
        "script-src": re.findall(r"<script>(.*?)</script>", html, re.S),
        "style-src": re.findall(r"<style>(.*?)</style>", html, re.S),
    }
    for directive, found in blocks.items():
        assert len(found) == 1, directive
        digest = base64.b64encode(hashlib.sha256(found[0].encode()).digest()).decode()
        assert directives[directive] == f"'sha256-{digest}'", directive
    assert "unsafe" not in csp.group(1)
    # Nothing loaded from anywhere: no src/href attributes, no URL of any origin, no handlers.
    assert not re.search(r"\s(src|href)=", html)
    assert not re.search(r"https?://", html)
    assert not re.search(r"\son[a-z]+=", html)


async def test_the_view_carries_no_secret(harness: Harness) -> None:
    """The HTML is the same whatever the keys: nothing of the server's configuration is in it."""
    async with harness.configure(KROS_MCP_SECRET="s" * 40).connect(**apps_client()) as s:
        first = (await s.client.read_resource(VIEW_URI)).contents[0].text
    other = Harness(harness.data_dir.parent / "other", harness.mode, harness.opened)
    other.configure(KROS_MCP_SECRET="t" * 40)
    async with other.connect(**apps_client()) as s:
        second = (await s.client.read_resource(VIEW_URI)).contents[0].text
    assert first == second
    for secret in ("s" * 40, "t" * 40, "kros_test_sandbox"):
        assert secret not in first


async def test_the_model_facing_results_are_unchanged_for_an_apps_client(
    harness: Harness,
) -> None:
    """search_available answers an Apps host exactly as it answers a plain client."""
    async with harness.connect(**apps_client()) as s:
        with_apps = await s.call("search_available", {"country": "NG", "limit": 3})
    plain = Harness(harness.data_dir, harness.mode, harness.opened)
    async with plain.connect() as s:
        without = await s.call("search_available", {"country": "NG", "limit": 3})
    assert with_apps.model_dump(mode="json") == without.model_dump(mode="json")
    assert "kros-mcp/proof" not in json.dumps(with_apps.model_dump(mode="json", by_alias=True))
