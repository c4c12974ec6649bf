"""list_endpoints, endpoint checks in purchase and routing previews, and search_available's paging
and filters (including a price filter across pages, with honest counts)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kros_mcp.server.offer_search import MAX_PAGES, PAGE_SIZE
from tests.support.harness import Harness, Session

pytestmark = pytest.mark.anyio


async def test_list_endpoints_and_its_resource(harness: Harness) -> None:
    async with harness.connect() as s:
        await s.sandbox("PATCH", "/v1/endpoints/ep_webhook_handler", {"status": "inactive"})
        listed = await s.ok("list_endpoints")
        assert listed["total"] == 2
        assert listed["endpoints"] == [
            {
                "id": "ep_support_agent",
                "name": "Support Agent",
                "type": "agent",
                "provider": "elevenlabs",
                "status": "active",
            },
            {
                "id": "ep_webhook_handler",
                "name": "Webhook Handler",
                "type": "webhook",
                "status": "inactive",
            },
        ]
        read = await s.client.read_resource("kros://endpoints")
        body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert body["count"] == 2 and body["endpoints"] == listed["endpoints"]


async def test_purchase_preview_checks_the_endpoint_and_offers_valid_ones(
    harness: Harness,
) -> None:
    async with harness.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"], "dry_run": True}
        good = await s.ok("purchase_number", {**args, "endpoint_id": "ep_support_agent"})
        assert any("ep_support_agent (Support Agent" in line for line in good["plan"])
        bad = await s.ok("purchase_number", {**args, "endpoint_id": "ep_nope"})
        line = next(line for line in bad["plan"] if "ep_nope" in line)
        assert "ENDPOINT_NOT_FOUND" in line and "ep_support_agent" in line
        await s.sandbox("PATCH", "/v1/endpoints/ep_webhook_handler", {"status": "inactive"})
        off = await s.ok("purchase_number", {**args, "endpoint_id": "ep_webhook_handler"})
        assert any("ENDPOINT_NOT_ACTIVE" in line for line in off["plan"])
        assert await s.owned() == []


async def test_purchase_to_an_inactive_endpoint_is_refused_before_any_spending(
    harness: Harness,
) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        await s.sandbox("PATCH", "/v1/endpoints/ep_webhook_handler", {"status": "inactive"})
        offer = await s.offer("NG")
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "endpoint_id": "ep_webhook_handler"},
            "ENDPOINT_NOT_ACTIVE",
            "Active endpoints: ep_support_agent",
            "Nothing was bought",
        )
        assert await s.owned() == []


async def test_routing_preview_rejects_a_made_up_endpoint(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        preview = await s.ok(
            "update_routing", {"number_id": number["id"], "endpoint_id": "ep_nope", "dry_run": True}
        )
        assert any(
            "ENDPOINT_NOT_FOUND" in e and "ep_support_agent" in e for e in preview["effects"]
        )
        same = await s.ok(
            "update_routing",
            {"number_id": number["id"], "allow_outbound": False, "dry_run": True},
        )
        assert not any("ENDPOINT" in e for e in same["effects"])  # routing unchanged: no check


async def _all_pages(s: Session, **args: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = await s.ok("search_available", {**args, "offset": offset})
        seen += page["offers"]
        offset = page.get("next_offset")
    return seen


async def test_search_pages_with_next_offset_without_gaps_or_repeats(harness: Harness) -> None:
    async with harness.connect() as s:
        first = await s.ok("search_available", {"country": "KE", "limit": 7})
        assert first["next_offset"] == 7 and first["total"] > 7 and "note" not in first
        assert all(o["country"] == "KE" for o in first["offers"])
        assert first["currency"] == "USD"
        everything = await _all_pages(s, country="KE", limit=40)
        ids = [o["inventory_id"] for o in everything]
        assert len(ids) == len(set(ids)) == first["total"]


async def test_capability_and_digit_filters(harness: Harness) -> None:
    async with harness.connect() as s:
        sms = await s.ok("search_available", {"country": "NG", "capability": "sms", "limit": 20})
        assert sms["offers"] and all("sms" in o["capabilities"] for o in sms["offers"])
        assert "total" not in sms and "capability" in sms["note"]
        prefix = await s.ok("search_available", {"country": "NG", "digits": "0803*", "limit": 5})
        assert prefix["offers"]
        assert all(o["number"].startswith("+234803") for o in prefix["offers"])
        e164 = await s.ok("search_available", {"country": "NG", "digits": "+234803*", "limit": 5})
        assert [o["number"] for o in e164["offers"]] == [o["number"] for o in prefix["offers"]]
        sample = prefix["offers"][0]["number"][-4:]
        inside = await s.ok("search_available", {"country": "NG", "digits": sample, "limit": 5})
        assert inside["offers"] and all(sample in o["number"] for o in inside["offers"])


async def test_the_price_filter_applies_across_pages_with_honest_counts(
    harness: Harness,
) -> None:
    async with harness.connect() as s:
        # NG: local 2.00, mobile 3.00, toll free 15.00 a month; inventory is ordered by id, so the
        # cheap local numbers come after the first page of mobile and toll-free ones here.
        unfiltered = await s.ok("search_available", {"country": "NG", "limit": 1})
        cheap = await _all_pages(
            s, country="NG", type="toll_free", max_monthly_cost_cents=1500, limit=100
        )
        assert cheap and all(o["monthly_cost_cents"] <= 1500 for o in cheap)
        none = await s.ok(
            "search_available", {"country": "NG", "type": "toll_free", "max_monthly_cost_cents": 1}
        )
        assert none["offers"] == [] and "total" not in none
        assert "max_monthly_cost_cents filtered by this server" in none["note"]
        assert "0 matched" in none["note"]
        assert unfiltered["total"] > 0


async def test_a_filtered_search_reads_a_bounded_number_of_pages_and_says_so(
    harness: Harness,
) -> None:
    async with harness.connect() as s:
        await s.sandbox("PUT", "/_sandbox/rate-limits", {"default": 10_000})
        page = await s.ok(
            "search_available", {"country": "NG", "max_monthly_cost_cents": 0, "limit": 5}
        )
        assert page["offers"] == []
        limit = MAX_PAGES * PAGE_SIZE
        total = (await s.ok("search_available", {"country": "NG", "limit": 1}))["total"]
        if total > limit:
            assert page["next_offset"] == limit
            assert f"at most {limit} a call" in page["note"] and "offset=500" in page["note"]
        else:
            assert "next_offset" not in page and "No more offers" in page["note"]


async def test_an_offer_found_on_a_later_page_can_be_bought_at_its_price(
    harness: Harness,
) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        far = await s.ok("search_available", {"country": "NG", "offset": 150, "limit": 1})
        offer = far["offers"][0]
        bought = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert bought["status"] == "purchased"
        assert bought["quote"]["first_charge_cents"] == offer["first_charge_cents"]
        assert bought["quote"]["currency"] == "USD"
