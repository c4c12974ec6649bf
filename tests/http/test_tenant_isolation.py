"""Multi-tenant isolation beyond the tools: keys verified once (verdicts cached, refused ones too)
before anything is served, refused credentials limited per address, `kros://policy` showing a
tenant only its own protected numbers, notifications kept within the tenant that wrote, and
subscribers forgotten when their connection closes. Plus stateless honesty about subscriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.types import ResourceListChangedNotification, ResourceUpdatedNotification

from tests.support.http_servers import (
    LEGACY_HEADERS,
    bearer,
    initialize_body,
    make_orgs,
    rpc_messages,
)

from .hosted_rig import Hosted, client_for, hosted

pytestmark = pytest.mark.anyio

LIST_URI = "kros://phone-numbers"


async def _orgs(tmp_path: Path, count: int) -> list[str]:
    return await anyio.to_thread.run_sync(make_orgs, tmp_path / "sandbox.sqlite3", count)


async def _post_init(server: Hosted, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        return await http.post(
            server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **headers}
        )


async def test_keys_are_verified_once_and_refusals_limited(tmp_path: Path) -> None:
    (good,) = await _orgs(tmp_path, 1)
    with hosted(
        tmp_path, KROS_MCP_MULTI_TENANT=True, KROS_MCP_AUTH_FAILURE_RATE_PER_ADDRESS="5/minute"
    ) as server:
        keys = server.deps.tenant_keys
        for _ in range(3):
            assert (await _post_init(server, bearer(good))).status_code == 200
        assert keys.upstream_checks == 1  # the accepted verdict is remembered
        stranger = "kros_test_" + "9" * 32
        for _ in range(2):
            refused = await _post_init(server, bearer(stranger))
            assert refused.status_code == 401
        assert keys.upstream_checks == 2  # ... and so is the refused one
        # Rotating made-up keys: past 5 refusals a minute the address gets 429, unchecked.
        statuses = [
            (await _post_init(server, bearer(f"kros_test_{i:032d}"))).status_code for i in range(6)
        ]
        assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}, statuses
        assert keys.upstream_checks == 5
        # A good key from that address is refused too while it lasts (no guessing window).
        assert (await _post_init(server, bearer(good))).status_code == 429


async def test_policy_shows_only_the_tenants_own_protected_numbers(tmp_path: Path) -> None:
    key_a, key_b = await _orgs(tmp_path, 2)
    with hosted(tmp_path, KROS_MCP_MULTI_TENANT=True) as server:
        async with client_for(server.url, "legacy", bearer(key_a)) as a:
            found = await a.call_tool("search_available", {"country": "NG", "limit": 1})
            offer = found.structured_content["offers"][0]  # type: ignore[index]
            quote = await a.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]})
            token = quote.structured_content["confirmation_token"]  # type: ignore[index]
            bought = await a.call_tool(
                "purchase_number",
                {"inventory_id": offer["inventory_id"], "confirmation_token": token},
            )
            number = bought.structured_content["number"]  # type: ignore[index]
    protected = f"{number['id']},+2348000000001"
    with hosted(
        tmp_path, KROS_MCP_MULTI_TENANT=True, KROS_MCP_PROTECTED_NUMBERS=protected
    ) as server:
        async with client_for(server.url, "legacy", bearer(key_a)) as a:
            mine = json.loads((await a.read_resource("kros://policy")).contents[0].text)  # type: ignore[union-attr]
        async with client_for(server.url, "legacy", bearer(key_b)) as b:
            theirs = json.loads((await b.read_resource("kros://policy")).contents[0].text)  # type: ignore[union-attr]
    assert mine["protected_numbers"] == [number["id"]]
    assert theirs["protected_numbers"] == []


# The 2025-11-25 era's resources/subscribe, exercised on purpose: its deprecation is expected.
@pytest.mark.filterwarnings("ignore:resources/subscribe is removed as of 2026-07-28")
@pytest.mark.parametrize("transport", ["stateful", "sse"])
async def test_notifications_stay_with_the_tenant(tmp_path: Path, transport: str) -> None:
    key_a, key_b = await _orgs(tmp_path, 2)
    got: dict[str, list[Any]] = {"a": [], "b": []}

    def handler(name: str) -> Any:
        async def on_message(message: Any) -> None:
            got[name].append(message)

        return on_message

    with hosted(tmp_path, transport, KROS_MCP_MULTI_TENANT=True) as server:
        async with (
            client_for(server.url, "legacy", bearer(key_a), message_handler=handler("a")) as a,
            client_for(server.url, "legacy", bearer(key_b), message_handler=handler("b")) as b,
        ):
            for client in (a, b):
                await client.subscribe_resource(LIST_URI)
            found = await a.call_tool("search_available", {"country": "KE", "limit": 1})
            offer = found.structured_content["offers"][0]  # type: ignore[index]
            quote = await a.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]})
            token = quote.structured_content["confirmation_token"]  # type: ignore[index]
            await a.call_tool(
                "purchase_number",
                {"inventory_id": offer["inventory_id"], "confirmation_token": token},
            )
            with anyio.fail_after(10):
                while not any(isinstance(m, ResourceUpdatedNotification) for m in got["a"]):
                    await anyio.sleep(0.05)
            await b.call_tool("list_numbers", {})  # anything for B arrives before this answer
            subscribers = server.deps.subscribers
            assert len(subscribers.by_uri[LIST_URI]) == 2
        assert not any(
            isinstance(m, ResourceUpdatedNotification | ResourceListChangedNotification)
            for m in got["b"]
        ), got["b"]
        # Both connections closed: their subscriptions are gone.
        with anyio.fail_after(10):
            while subscribers.by_uri:
                await anyio.sleep(0.05)


async def test_modern_listen_streams_stay_with_the_tenant(tmp_path: Path) -> None:
    from mcp.shared.subscriptions import ResourceUpdated

    key_a, key_b = await _orgs(tmp_path, 2)
    with hosted(tmp_path, KROS_MCP_MULTI_TENANT=True) as server:
        async with (
            client_for(server.url, "auto", bearer(key_a)) as a,
            client_for(server.url, "auto", bearer(key_b)) as b,
            a.listen(resource_subscriptions=[LIST_URI]) as mine,
            b.listen(resource_subscriptions=[LIST_URI]) as theirs,
        ):
            found = await a.call_tool("search_available", {"country": "KE", "limit": 1})
            offer = found.structured_content["offers"][0]  # type: ignore[index]
            quote = await a.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]})
            token = quote.structured_content["confirmation_token"]  # type: ignore[index]
            await a.call_tool(
                "purchase_number",
                {"inventory_id": offer["inventory_id"], "confirmation_token": token},
            )
            with anyio.fail_after(10):
                async for event in mine:
                    if isinstance(event, ResourceUpdated):
                        break
            leaked: list[Any] = []
            with anyio.move_on_after(1.5):
                async for event in theirs:
                    leaked.append(event)
            assert leaked == []


async def test_stateless_does_not_promise_subscriptions(tmp_path: Path) -> None:
    with hosted(tmp_path, "stateless") as server:
        async with httpx2.AsyncClient(timeout=10.0) as http:
            response = await http.post(server.url, json=initialize_body(), headers=LEGACY_HEADERS)
            capabilities = rpc_messages(response)[-1]["result"]["capabilities"]
            assert "subscribe" not in capabilities["resources"], capabilities
            assert all(
                "listChanged" not in capabilities[k] for k in ("resources", "tools", "prompts")
            )
            subscribe = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "resources/subscribe",
                "params": {"uri": LIST_URI},
            }
            headers = {**LEGACY_HEADERS, "MCP-Protocol-Version": "2025-11-25"}
            answer = rpc_messages(await http.post(server.url, json=subscribe, headers=headers))[-1]
            assert "error" in answer and "--stateless" in answer["error"]["message"], answer
    with hosted(tmp_path / "stateful", "stateful") as server:
        async with httpx2.AsyncClient(timeout=10.0) as http:
            response = await http.post(server.url, json=initialize_body(), headers=LEGACY_HEADERS)
            capabilities = rpc_messages(response)[-1]["result"]["capabilities"]
            assert capabilities["resources"]["subscribe"] is True  # it can deliver, so it says so


async def test_tool_calls_are_limited_per_address_across_keys(tmp_path: Path) -> None:
    """Rotating keys does not escape the limit: one address, two organisations, one budget."""
    key_a, key_b = await _orgs(tmp_path, 2)
    with hosted(
        tmp_path, KROS_MCP_MULTI_TENANT=True, KROS_MCP_TOOL_RATE_PER_ADDRESS="3/minute"
    ) as server:
        async with (
            client_for(server.url, "legacy", bearer(key_a)) as a,
            client_for(server.url, "legacy", bearer(key_b)) as b,
        ):
            results = [await a.call_tool("list_numbers", {}) for _ in range(2)]
            results += [await b.call_tool("list_numbers", {}) for _ in range(2)]
    assert [r.is_error for r in results] == [False, False, False, True]
    text = results[-1].content[0].text  # type: ignore[union-attr]
    assert "RATE_LIMITED" in text and "nothing was done" in text
