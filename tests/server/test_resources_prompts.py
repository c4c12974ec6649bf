"""Resources (list and template), change notifications in both eras, and prompts."""

from __future__ import annotations

import json
import warnings
from typing import Any

import anyio
import pytest
from mcp import MCPDeprecationWarning, MCPError
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.types import ResourceListChangedNotification, ResourceUpdatedNotification

from tests.support.harness import Harness

pytestmark = pytest.mark.anyio

LIST_URI = "kros://phone-numbers"


async def test_resources_listed_and_read(harness: Harness) -> None:
    async with harness.connect() as s:
        resources = (await s.client.list_resources()).resources
        assert sorted((r.uri, r.name, r.mime_type) for r in resources) == [
            ("kros://audit", "audit", "application/json"),
            ("kros://endpoints", "endpoints", "application/json"),
            (LIST_URI, "phone_numbers", "application/json"),
            ("kros://policy", "policy", "application/json"),
        ]
        templates = (await s.client.list_resource_templates()).resource_templates
        assert sorted((t.uri_template, t.name) for t in templates) == [
            ("kros://audit/before/{seq}", "audit_page"),
            (LIST_URI + "/{id}", "phone_number"),
        ]

        empty = json.loads((await s.client.read_resource(LIST_URI)).contents[0].text)
        assert empty == {"numbers": [], "count": 0, "truncated": False}

        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        password = (await s.sandbox("GET", f"/v1/phone-numbers/{number['id']}"))["sip_credentials"][
            "password"
        ]
        listed = await s.client.read_resource(LIST_URI, cache_mode="bypass")
        body = json.loads(listed.contents[0].text)
        assert body["count"] == 1 and body["numbers"][0]["id"] == number["id"]

        one = (await s.client.read_resource(f"{LIST_URI}/{number['id']}")).contents[0]
        assert one.mime_type == "application/json"
        detail = json.loads(one.text)
        assert (
            detail["number"] == number["number"] and detail["endpoint"]["id"] == "ep_support_agent"
        )
        assert password not in one.text and "password" not in one.text


@pytest.mark.parametrize(
    "uri", [f"{LIST_URI}/pn_0000000000000000", f"{LIST_URI}/..", "kros://nothing"]
)
async def test_unknown_resource_is_an_error(harness: Harness, uri: str) -> None:
    async with harness.connect() as s:
        with pytest.raises(MCPError) as caught:
            await s.client.read_resource(uri)
        assert "Traceback" not in str(caught.value)
        if uri.endswith("pn_0000000000000000"):
            assert "No phone number pn_0000000000000000" in str(caught.value)
        assert (await s.ok("list_numbers"))["total"] == 0  # still healthy


async def test_resource_when_krosai_is_down(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        s.fast_retries()
        await s.fault("error_before", "*", times=None)
        for uri in (LIST_URI, f"{LIST_URI}/{number['id']}"):
            with pytest.raises(MCPError) as caught:
                await s.client.read_resource(uri, cache_mode="bypass")
            assert "try again later" in str(caught.value) and "Traceback" not in str(caught.value)
        await s.clear_faults()
        body = json.loads(
            (await s.client.read_resource(LIST_URI, cache_mode="bypass")).contents[0].text
        )
        assert body["count"] == 1


async def test_change_notifications_modern(tmp_path: Any, opened_deps: Any) -> None:
    harness = Harness(tmp_path / "data", "auto", opened_deps)
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        item_uri = f"{LIST_URI}/{number['id']}"
        async with s.client.listen(
            resources_list_changed=True, resource_subscriptions=[LIST_URI, item_uri]
        ) as sub:
            await s.ok(
                "update_routing", {"number_id": number["id"], "endpoint_id": "ep_support_agent"}
            )
            updated: set[str] = set()
            list_changed = False
            with anyio.fail_after(5):
                async for event in sub:
                    if isinstance(event, ResourceUpdated):
                        updated.add(event.uri)
                    list_changed = list_changed or isinstance(event, ResourcesListChanged)
                    if updated == {LIST_URI, item_uri} and list_changed:
                        break
        assert updated == {LIST_URI, item_uri} and list_changed


async def test_change_notifications_legacy(tmp_path: Any, opened_deps: Any) -> None:
    received: list[Any] = []

    async def on_message(message: Any) -> None:
        received.append(message)

    def updated_uris() -> list[str]:
        return [m.params.uri for m in received if isinstance(m, ResourceUpdatedNotification)]

    async def settle() -> None:
        """Wait until the write's list_changed (sent last) has arrived."""
        with anyio.fail_after(5):
            while not any(isinstance(m, ResourceListChangedNotification) for m in received):
                await anyio.sleep(0.01)

    harness = Harness(tmp_path / "data", "legacy", opened_deps)
    async with harness.connect(message_handler=on_message) as s:
        number = await s.sandbox_buy("NG")
        item_uri = f"{LIST_URI}/{number['id']}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await s.client.subscribe_resource(LIST_URI)
            await s.client.subscribe_resource(LIST_URI)  # twice: still notified once
            await s.client.subscribe_resource(item_uri)
        await s.ok("update_routing", {"number_id": number["id"], "endpoint_id": "ep_support_agent"})
        await settle()
        assert sorted(updated_uris()) == sorted([LIST_URI, item_uri])

        # After unsubscribing (from another request), updates for that number stop.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await s.client.unsubscribe_resource(item_uri)
        received.clear()
        await s.ok("update_routing", {"number_id": number["id"], "endpoint_id": None})
        await settle()
        assert updated_uris() == [LIST_URI]

        # A purchase and a release notify as well.
        received.clear()
        offer = await s.offer("KE")
        bought = await s.buy_with_token(offer["inventory_id"])
        await settle()
        assert updated_uris() == [LIST_URI]
        assert bought["status"] == "purchased"


async def test_prompts(harness: Harness) -> None:
    async with harness.connect() as s:
        prompts = {p.name: p for p in (await s.client.list_prompts()).prompts}
        assert set(prompts) == {"provision_number", "review_numbers", "route_number"}
        provision = prompts["provision_number"]
        assert provision.title and provision.description
        assert [(a.name, a.required) for a in provision.arguments or []] == [
            ("country", True),
            ("endpoint_id", True),
            ("type", False),
        ]
        assert not prompts["review_numbers"].arguments

        got = await s.client.get_prompt(
            "provision_number", {"country": "KE", "endpoint_id": "ep_support_agent"}
        )
        text = got.messages[0].content.text
        assert got.messages[0].role == "user"
        for piece in (
            "search_available(country='KE', type='local')",
            "endpoint_id='ep_support_agent'",
            "dry_run=true",
            "confirmation_token",
            "Never buy more than one number",
        ):
            assert piece in text
        mobile = await s.client.get_prompt(
            "provision_number", {"country": "NG", "endpoint_id": "ep_x", "type": "mobile"}
        )
        assert "type='mobile'" in mobile.messages[0].content.text

        review = await s.client.get_prompt("review_numbers", {})
        text = review.messages[0].content.text
        assert "list_numbers" in text and "next_offset" in text and "dry_run=true" in text

        with pytest.raises(MCPError):
            await s.client.get_prompt("provision_number", {"country": "KE"})  # endpoint_id missing
