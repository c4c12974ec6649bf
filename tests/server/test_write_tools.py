"""purchase_number, update_routing and release_number: previews, confirmation flows, real writes."""

from __future__ import annotations

import json

import pytest

from tests.support.harness import START_BALANCE, Harness, elicitation

pytestmark = pytest.mark.anyio


# -- purchase_number ---------------------------------------------------------------------------


async def test_purchase_dry_run_buys_nothing(harness: Harness) -> None:
    async with harness.connect() as s:
        offer = await s.offer("NG")
        preview = await s.ok(
            "purchase_number",
            {
                "inventory_id": offer["inventory_id"],
                "dry_run": True,
                "endpoint_id": "ep_support_agent",
                "allow_outbound": False,
            },
        )
        assert preview["status"] == "dry_run" and preview["executed"] is False
        assert "confirmation_token" not in preview and "number" not in preview
        assert preview["quote"]["number"] == offer["number"]
        assert preview["quote"]["first_charge_cents"] == offer["first_charge_cents"]
        plan = " ".join(preview["plan"])
        assert (
            offer["number"] in plan
            and "ep_support_agent" in plan
            and "outbound calls blocked" in plan
        )
        assert "3.00 USD" in plan  # NG local: 1.00 setup + 2.00 first month
        assert await s.owned() == [] and await s.balance() == START_BALANCE


async def test_purchase_confirmed_by_the_person(harness: Harness) -> None:
    ask, seen = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        bought = await s.ok(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "endpoint_id": "ep_support_agent"},
        )
        assert bought["status"] == "purchased" and bought["executed"] is True
        assert offer["number"] in bought["message"]
        number = bought["number"]
        assert number["number"] == offer["number"] and number["id"].startswith("pn_")
        assert number["endpoint"]["id"] == "ep_support_agent"

        assert len(seen) == 1
        assert (
            offer["number"] in seen[0] and "3.00 USD" in seen[0] and "2.00 USD a month" in seen[0]
        )
        assert "ep_support_agent" in seen[0]
        owned = await s.owned()
        assert [n["id"] for n in owned] == [number["id"]]
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]
        password = (await s.sandbox("GET", f"/v1/phone-numbers/{number['id']}"))["sip_credentials"][
            "password"
        ]
        assert password not in json.dumps(bought)


@pytest.mark.parametrize("answer", ["decline", "cancel"])
async def test_purchase_declined_by_the_person(harness: Harness, answer: str) -> None:
    ask, seen = elicitation(answer)
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        result = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert result["status"] == "declined" and result["executed"] is False
        assert "nothing was bought" in result["message"].lower()
        assert "confirmation_token" not in result
        assert len(seen) == 1
        assert await s.owned() == [] and await s.balance() == START_BALANCE


async def test_purchase_accept_with_confirm_false_buys_nothing(harness: Harness) -> None:
    ask, _ = elicitation("accept", content={"confirm": False})
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        result = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert result["status"] == "declined" and await s.owned() == []


async def test_purchase_without_elicitation_uses_a_confirmation_token(harness: Harness) -> None:
    async with harness.connect() as s:  # no elicitation_callback: the client cannot ask the person
        offer = await s.offer("KE")
        args = {"inventory_id": offer["inventory_id"], "endpoint_id": "ep_webhook_handler"}
        first = await s.ok("purchase_number", args)
        assert first["status"] == "confirmation_required" and first["executed"] is False
        assert first["confirmation_token"].startswith("kc1.") and first[
            "token_expires_at"
        ].endswith("Z")
        assert "NOT BOUGHT" in first["message"] and "5.00 USD" in first["message"]
        assert await s.owned() == [] and await s.balance() == START_BALANCE

        second = await s.ok(
            "purchase_number", {**args, "confirmation_token": first["confirmation_token"]}
        )
        assert second["status"] == "purchased" and second["executed"] is True
        assert second["number"]["number"] == offer["number"]
        assert second["number"]["endpoint"]["id"] == "ep_webhook_handler"
        assert len(await s.owned()) == 1
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]


# -- update_routing ----------------------------------------------------------------------------


async def test_update_routing_dry_run_shows_before_after_and_changes_nothing(
    harness: Harness,
) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        preview = await s.ok(
            "update_routing",
            {
                "number_id": number["number"],
                "endpoint_id": "ep_webhook_handler",
                "allow_outbound": False,
                "dry_run": True,
            },
        )
        assert preview["status"] == "dry_run" and preview["executed"] is False
        assert preview["number_id"] == number["id"]
        assert preview["before"] == {
            "endpoint_id": "ep_support_agent",
            "allow_inbound": True,
            "allow_outbound": True,
        }
        assert preview["after"] == {
            "endpoint_id": "ep_webhook_handler",
            "allow_inbound": True,
            "allow_outbound": False,
        }
        effects = " ".join(preview["effects"])
        assert (
            "ep_support_agent" in effects
            and "ep_webhook_handler" in effects
            and "Outbound" in effects
        )
        unchanged = await s.ok("get_number", {"number_id": number["id"]})
        assert (
            unchanged["endpoint"]["id"] == "ep_support_agent"
            and unchanged["allow_outbound"] is True
        )


async def test_update_routing_keep_null_and_detach(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        nid = number["id"]

        # Only a flag: endpoint_id defaults to "keep".
        flags = await s.ok("update_routing", {"number_id": nid, "allow_inbound": False})
        assert flags["status"] == "updated" and flags["executed"] is True
        assert flags["after"] == {
            "endpoint_id": "ep_support_agent",
            "allow_inbound": False,
            "allow_outbound": True,
        }

        # Explicit "keep" and null flags change nothing.
        same = await s.ok(
            "update_routing", {"number_id": nid, "endpoint_id": "keep", "allow_inbound": None}
        )
        assert same["after"] == same["before"]
        assert same["effects"] == ["No change: the number is already routed this way."]

        # null detaches the endpoint.
        detached = await s.ok("update_routing", {"number_id": nid, "endpoint_id": None})
        assert (
            detached["before"]["endpoint_id"] == "ep_support_agent"
            and "endpoint_id" not in detached["after"]
        )
        assert "no longer be routed" in " ".join(detached["effects"])
        assert "endpoint" not in await s.ok("get_number", {"number_id": nid})

        # And routing again; repeating it is harmless (idempotent).
        for _ in range(2):
            routed = await s.ok(
                "update_routing",
                {"number_id": nid, "endpoint_id": "ep_webhook_handler", "allow_inbound": True},
            )
            assert routed["after"] == {
                "endpoint_id": "ep_webhook_handler",
                "allow_inbound": True,
                "allow_outbound": True,
            }
        detail = await s.ok("get_number", {"number_id": nid})
        assert (
            detail["endpoint"]["id"] == "ep_webhook_handler"
            and detail["endpoint"]["name"] == "Webhook Handler"
        )


async def test_update_routing_unknown_endpoint_changes_nothing(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        await s.error(
            "update_routing",
            {"number_id": number["id"], "endpoint_id": "ep_nope"},
            "ENDPOINT_NOT_FOUND",
            "Nothing was changed",
            "ep_",
        )
        assert (await s.ok("get_number", {"number_id": number["id"]}))["endpoint"][
            "id"
        ] == "ep_support_agent"


# -- release_number ----------------------------------------------------------------------------


async def test_release_dry_run_shows_what_stops_working(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        preview = await s.ok("release_number", {"number_id": number["number"], "dry_run": True})
        assert preview["status"] == "dry_run" and preview["executed"] is False
        assert preview["number_id"] == number["id"]
        plan = " ".join(preview["plan"])
        assert "Support Agent" in plan and "2.00 USD" in plan and "nothing is refunded" in plan
        assert len(await s.owned()) == 1


async def test_release_confirmed_by_the_person(harness: Harness) -> None:
    ask, seen = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        number = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        released = await s.ok("release_number", {"number_id": number["id"]})
        assert released["status"] == "released" and released["executed"] is True
        assert number["number"] in released["message"]
        assert len(seen) == 1 and number["number"] in seen[0] and "cannot be undone" in seen[0]
        assert await s.owned() == []
        await s.error("get_number", {"number_id": number["id"]}, "NOT_FOUND")


@pytest.mark.parametrize("answer", ["decline", "cancel"])
async def test_release_declined_by_the_person(harness: Harness, answer: str) -> None:
    ask, seen = elicitation(answer)
    async with harness.connect(elicitation_callback=ask) as s:
        number = await s.sandbox_buy("NG")
        result = await s.ok("release_number", {"number_id": number["id"]})
        assert result["status"] == "declined" and result["executed"] is False
        assert "nothing was released" in result["message"].lower()
        assert len(seen) == 1 and len(await s.owned()) == 1


async def test_release_without_elicitation_uses_a_confirmation_token(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        first = await s.ok("release_number", {"number_id": number["number"]})  # by E.164
        assert first["status"] == "confirmation_required" and first["executed"] is False
        assert "NOT RELEASED" in first["message"] and first["confirmation_token"]
        assert len(await s.owned()) == 1

        done = await s.ok(
            "release_number",
            {
                "number_id": number["id"],  # by id: the same number
                "confirmation_token": first["confirmation_token"],
            },
        )
        assert done["status"] == "released" and done["executed"] is True
        assert await s.owned() == []


async def test_full_lifecycle_through_the_tools(harness: Harness) -> None:
    """Search, preview, buy (token), route, release (token): what the provision prompt walks through."""
    async with harness.connect() as s:
        offer = await s.offer("GH", type="mobile")
        bought = await s.buy_with_token(offer["inventory_id"])
        nid = bought["number"]["id"]
        routed = await s.ok("update_routing", {"number_id": nid, "endpoint_id": "ep_support_agent"})
        assert routed["after"]["endpoint_id"] == "ep_support_agent"
        listed = await s.ok("list_numbers")
        assert [(n["id"], n["endpoint_id"]) for n in listed["numbers"]] == [
            (nid, "ep_support_agent")
        ]
        first = await s.ok("release_number", {"number_id": nid})
        await s.ok(
            "release_number", {"number_id": nid, "confirmation_token": first["confirmation_token"]}
        )
        assert (await s.ok("list_numbers"))["total"] == 0
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]
