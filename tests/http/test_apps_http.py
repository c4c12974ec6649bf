"""The MCP App over real HTTP: a `kros-mcp serve` process, streamable HTTP stateful and stateless,
in both protocol eras. A host that negotiates MCP Apps gets the view and the proof of a click in
result `_meta` over the wire; any other client the plain server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from kros_mcp.server import TOOL_NAMES
from kros_mcp.server.apps import PROOF_KEY, VIEW_URI
from tests.support.http_servers import ServerSpec, connect, start_servers

pytestmark = pytest.mark.anyio

APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]


async def test_the_view_over_streamable_http(tmp_path: Path, mode: str) -> None:
    specs = [ServerSpec("stateful"), ServerSpec("stateless", variant="stateless")]
    with start_servers(tmp_path, specs) as servers:
        for server in servers:
            async with connect(server, mode) as plain:
                listed = (await plain.list_tools()).tools
                assert sorted(t.name for t in listed) == sorted(TOOL_NAMES)
                assert all(not t.meta or "ui" not in t.meta for t in listed)
            async with connect(server, mode, extensions=APPS) as host:
                tools = {t.name: t for t in (await host.list_tools()).tools}
                if server.spec.variant == "stateless" and mode == "legacy":
                    # Stateless HTTP in the 2025-11-25 era keeps no client capabilities between
                    # requests: nothing was negotiated, so the plain server answers.
                    assert sorted(tools) == sorted(TOOL_NAMES)
                    continue
                assert tools["search_available"].meta["ui"]["resourceUri"] == VIEW_URI
                [content] = (await host.read_resource(VIEW_URI)).contents
                assert content.mime_type == APP_MIME_TYPE
                offers = await host.call_tool("app_offers", {"country": "NG", "limit": 1})
                offer = offers.structured_content["offers"][0]
                quote = await host.call_tool(
                    "app_quote_purchase", {"inventory_id": offer["inventory_id"]}
                )
                assert quote.is_error is False
                assert (quote.meta or {})[PROOF_KEY].startswith("kc1.")
