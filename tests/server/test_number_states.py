"""The tools tell the truth about a number's state: pending after purchase, suspended, porting."""

from __future__ import annotations

import anyio
import pytest

from tests.support.harness import Harness, Session

pytestmark = pytest.mark.anyio


async def _set_state(s: Session, number_id: str, status: str, **extra: object) -> None:
    await s.sandbox("PATCH", f"/_sandbox/phone-numbers/{number_id}", {"status": status, **extra})


async def test_a_purchase_that_comes_back_pending_says_it_is_not_usable_yet(
    harness: Harness,
) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        await s.set_org(provisioning_seconds=0.5)
        offer = await s.offer("NG")
        bought = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert bought["status"] == "purchased" and bought["number"]["status"] == "pending"
        assert "being provisioned" in bought["message"] or "provisioning" in bought["message"]
        assert "cannot take or make calls yet" in bought["message"]
        number_id = bought["number"]["id"]
        assert (await s.ok("get_number", {"number_id": number_id}))["status"] == "pending"
        await anyio.sleep(0.6)
        now = await s.ok("get_number", {"number_id": number_id})
        assert now["status"] == "active"
        listed = await s.ok("list_numbers")
        assert listed["numbers"][0]["status"] == "active"


async def test_an_active_purchase_has_no_provisioning_note(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        offer = await s.offer("KE")
        bought = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert bought["number"]["status"] == "active" and "provision" not in bought["message"]


async def test_routing_a_suspended_number_explains_and_changes_nothing(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        await _set_state(s, number["id"], "suspended")
        args = {"number_id": number["id"], "endpoint_id": "ep_support_agent"}
        preview = await s.ok("update_routing", {**args, "dry_run": True})
        assert any("suspended" in line and "REFUSED" in line for line in preview["effects"])
        await s.error("update_routing", args, "NUMBER_SUSPENDED", "support", "Nothing was changed")
        assert (await s.owned())[0]["endpoint_id"] is None


async def test_a_porting_number_can_be_neither_routed_nor_released(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        await _set_state(s, number["id"], "porting")
        await s.error(
            "update_routing",
            {"number_id": number["id"], "endpoint_id": "ep_support_agent"},
            "NUMBER_PORTING",
            "port completes",
        )
        preview = await s.ok("release_number", {"number_id": number["id"], "dry_run": True})
        assert any("ported" in line for line in preview["plan"])
        await s.error("release_number", {"number_id": number["id"]}, "NUMBER_PORTING", "ported")
        assert [n["id"] for n in await s.owned()] == [number["id"]]


async def test_a_pending_number_cannot_be_released_yet_but_can_be_routed(
    harness: Harness,
) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        await _set_state(s, number["id"], "pending")
        await s.error("release_number", {"number_id": number["id"]}, "NUMBER_PENDING", "active")
        routed = await s.ok(
            "update_routing", {"number_id": number["id"], "endpoint_id": "ep_support_agent"}
        )
        assert routed["status"] == "updated"
        assert any("pending" in line for line in routed["effects"])


async def test_a_suspended_number_can_be_released(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        await _set_state(s, number["id"], "suspended")
        preview = await s.ok("release_number", {"number_id": number["id"], "dry_run": True})
        assert any("suspended" in line for line in preview["plan"])
        released = await s.ok("release_number", {"number_id": number["id"]})
        assert released["status"] == "released" and await s.owned() == []


async def test_list_and_get_show_call_directions_and_last_update(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG", allow_outbound=False)
        row = (await s.ok("list_numbers"))["numbers"][0]
        assert row["calls"] == "in" and row["updated_at"].endswith("Z")
        await s.sandbox("PATCH", f"/v1/phone-numbers/{number['id']}", {"allow_inbound": False})
        assert (await s.ok("list_numbers"))["numbers"][0]["calls"] == "none"
        detail = await s.ok("get_number", {"number_id": number["id"]})
        assert detail["allow_inbound"] is False and detail["allow_outbound"] is False
        assert detail["updated_at"] >= row["updated_at"] and detail["currency"] == "USD"
