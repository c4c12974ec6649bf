"""Confirmation tokens refused for every reason, price changes, and the KROS_MCP_CONFIRMATION modes."""

from __future__ import annotations

import base64
import json
from typing import Any

import anyio
import pytest

from kros_mcp.safety import ConfirmationTokens
from kros_mcp.server.deps import load_signing_key
from tests.support.harness import START_BALANCE, Harness, Session, elicitation

pytestmark = pytest.mark.anyio


async def _token_for(s: Session, args: dict[str, Any], tool: str = "purchase_number") -> str:
    first = await s.ok(tool, args)
    assert first["status"] == "confirmation_required", first
    return first["confirmation_token"]


async def _nothing_bought(s: Session) -> None:
    assert await s.owned() == []
    assert await s.balance() == START_BALANCE


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


async def test_tampered_tokens_are_refused(harness: Harness) -> None:
    async with harness.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        token = await _token_for(s, args)
        prefix, payload, signature = token.split(".")

        # A character flipped in the payload or in the signature, and a payload re-encoded with a
        # lower price under the old signature.
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        cheaper = base64.urlsafe_b64encode(
            json.dumps({**claims, "price": 1}, separators=(",", ":")).encode()
        )
        forged = f"{prefix}.{cheaper.decode().rstrip('=')}.{signature}"
        for bad in (
            f"{prefix}.{_flip(payload, 10)}.{signature}",
            f"{prefix}.{payload}.{_flip(signature, 5)}",
            forged,
        ):
            await s.error(
                "purchase_number",
                {**args, "confirmation_token": bad},
                "Confirmation refused (tampered)",
                "Nothing was bought",
                "without it",
            )
        for junk in ("not-a-token", "kc1.abc", "kc2.a.b", ""):
            result = await s.call("purchase_number", {**args, "confirmation_token": junk})
            if junk == "":  # an empty token is no token: a fresh confirmation is asked for
                assert result.structured_content["status"] == "confirmation_required"
            else:
                await s.error(
                    "purchase_number",
                    {**args, "confirmation_token": junk},
                    "malformed",
                    "Nothing was bought",
                )
        await _nothing_bought(s)
        # The genuine token still works afterwards.
        bought = await s.ok("purchase_number", {**args, "confirmation_token": token})
        assert bought["status"] == "purchased"


async def test_expired_token_is_refused(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION_TTL=30)
    now = [1_900_000_000.0]
    async with harness.connect() as s:
        # The same signer the server built, with a clock the test moves.
        s.deps.tokens = ConfirmationTokens(
            [load_signing_key(harness.settings)],
            ttl_seconds=harness.settings.confirmation_ttl,
            clock=lambda: now[0],
        )
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        first = await s.ok("purchase_number", args)
        assert first["token_expires_at"] == "2030-03-17T17:47:10Z"  # now + 30 s
        now[0] += 31
        await s.error(
            "purchase_number",
            {**args, "confirmation_token": first["confirmation_token"]},
            "Confirmation refused (expired)",
            "tokens last 30 seconds",
            "fresh quote",
            "Nothing was bought",
        )
        await _nothing_bought(s)
        # A fresh token, used in time, works.
        fresh = await _token_for(s, args)
        now[0] += 29
        assert (await s.ok("purchase_number", {**args, "confirmation_token": fresh}))[
            "status"
        ] == "purchased"


async def test_reused_token_buys_only_once(harness: Harness) -> None:
    async with harness.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        token = await _token_for(s, args)
        first = await s.ok("purchase_number", {**args, "confirmation_token": token})
        assert first["status"] == "purchased"
        # Re-sent (say after a dropped connection): the earlier outcome comes back, nothing is bought again.
        again = await s.ok("purchase_number", {**args, "confirmation_token": token})
        assert again["message"].startswith("ALREADY USED") and first["message"] in again["message"]
        assert again["number"]["id"] == first["number"]["id"]
        assert len(await s.owned()) == 1
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]

        # A release token too: the re-sent release reports the earlier release, and nothing else happens.
        nid = (await s.owned())[0]["id"]
        release = await _token_for(s, {"number_id": nid}, "release_number")
        await s.ok("release_number", {"number_id": nid, "confirmation_token": release})
        replay = await s.ok("release_number", {"number_id": nid, "confirmation_token": release})
        assert replay["status"] == "released" and replay["message"].startswith("ALREADY USED")
        assert await s.owned() == []


async def test_one_token_submitted_twice_at_once_buys_once(harness: Harness) -> None:
    """A double click: two concurrent calls with the same token."""
    async with harness.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        token = await _token_for(s, args)
        results: list[Any] = []

        async def submit() -> None:
            results.append(await s.call("purchase_number", {**args, "confirmation_token": token}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(submit)
            tg.start_soon(submit)
        # One buys; the other is refused while the first runs, or replays it once done.
        bought = [
            r
            for r in results
            if not r.is_error and not r.structured_content["message"].startswith("ALREADY")
        ]
        others = [r for r in results if r not in bought]
        assert len(bought) == 1 and len(others) == 1
        other = others[0]
        assert (other.is_error and "already running" in other.content[0].text) or (
            other.structured_content["message"].startswith("ALREADY USED")
        )
        assert len(await s.owned()) == 1
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]


async def test_token_bound_to_the_exact_arguments(harness: Harness) -> None:
    async with harness.connect() as s:
        found = await s.ok("search_available", {"country": "NG", "limit": 2})
        one, other = (o["inventory_id"] for o in found["offers"])
        token = await _token_for(s, {"inventory_id": one})
        for changed in (
            {"inventory_id": other},
            {"inventory_id": one, "endpoint_id": "ep_support_agent"},
            {"inventory_id": one, "allow_inbound": False},
        ):
            await s.error(
                "purchase_number",
                {**changed, "confirmation_token": token},
                "Confirmation refused (mismatch)",
                "arguments differ",
                "Nothing was bought",
            )
        await _nothing_bought(s)

        # Release: a token for one number does not release another.
        a = await s.sandbox_buy("NG")
        b = await s.sandbox_buy("NG")
        release_a = await _token_for(s, {"number_id": a["id"]}, "release_number")
        await s.error(
            "release_number",
            {"number_id": b["id"], "confirmation_token": release_a},
            "mismatch",
            "Nothing was released",
        )
        assert len(await s.owned()) == 2


async def test_purchase_token_does_not_release(harness: Harness) -> None:
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        offer = await s.offer("NG")
        purchase_token = await _token_for(s, {"inventory_id": offer["inventory_id"]})
        await s.error(
            "release_number",
            {"number_id": number["id"], "confirmation_token": purchase_token},
            "Confirmation refused (mismatch)",
            "another tool",
            "Nothing was released",
        )
        assert [n["id"] for n in await s.owned()] == [number["id"]]
        # And a release token does not buy.
        release_token = await _token_for(s, {"number_id": number["id"]}, "release_number")
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "confirmation_token": release_token},
            "another tool",
            "Nothing was bought",
        )
        assert len(await s.owned()) == 1


async def test_token_from_another_organisation_is_refused(harness: Harness) -> None:
    """Two servers share a data directory (so a signing key) but act for different organisations."""
    async with harness.connect() as a:
        other = await a.sandbox(
            "POST", "/_sandbox/orgs", {"kyc_status": "approved", "balance_cents": 5_000}
        )
        offer = await a.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        token_a = await _token_for(a, args)

    tenant_b = Harness(
        harness.data_dir, harness.mode, harness.opened, {"KROS_MCP_SANDBOX_KEY": other["api_key"]}
    )
    async with tenant_b.connect() as b:
        assert b.deps.tenant != a.deps.tenant
        await b.offer("NG")  # B has seen the same offer, so only the token stands in the way
        await b.error(
            "purchase_number",
            {**args, "confirmation_token": token_a},
            "Confirmation refused (mismatch)",
            "another organisation",
            "Nothing was bought",
        )
        assert await b.owned() == [] and await b.balance() == 5_000
        # B's own token works for B.
        bought = await b.buy_with_token(offer["inventory_id"])
        assert bought["status"] == "purchased" and len(await b.owned()) == 1
        assert await b.balance() == 5_000 - offer["first_charge_cents"]

    async with harness.connect() as a:
        assert await a.owned() == [] and await a.balance() == START_BALANCE


# -- price changes ----------------------------------------------------------------------------


async def test_price_change_between_quote_and_purchase(harness: Harness) -> None:
    async with harness.connect() as s:
        offer = await s.offer("NG")  # 1.00 setup + 2.00 monthly
        args = {"inventory_id": offer["inventory_id"]}
        token = await _token_for(s, args)
        await s.set_price(
            offer["inventory_id"], monthly_cost_cents=500
        )  # first charge 3.00 -> 6.00 USD

        changed = await s.ok("purchase_number", {**args, "confirmation_token": token})
        assert changed["status"] == "price_changed" and changed["executed"] is False
        assert (
            changed["quote"]["first_charge_cents"] == 600
            and changed["quote"]["monthly_cost_cents"] == 500
        )
        assert "3.00 USD" in changed["message"] and "6.00 USD" in changed["message"]
        assert (
            "6.00 USD now" in changed["plan"][0] and "5.00 USD a month" in changed["plan"][0]
        )  # the new plan
        assert changed["confirmation_token"] and changed["confirmation_token"] != token
        await _nothing_bought(s)

        # The old token is bound to the old price: it can never buy at the new one.
        again = await s.ok("purchase_number", {**args, "confirmation_token": token})
        assert again["status"] == "price_changed"
        await _nothing_bought(s)
        bought = await s.ok(
            "purchase_number", {**args, "confirmation_token": changed["confirmation_token"]}
        )
        assert bought["status"] == "purchased" and bought["quote"]["first_charge_cents"] == 600
        assert await s.balance() == START_BALANCE - 600
        assert len(await s.owned()) == 1


async def test_monthly_price_change_with_the_same_first_charge(harness: Harness) -> None:
    """Setup down, monthly up by the same amount: the first charge is unchanged, but the person
    agreed to 2.00 USD a month, not 3.00 USD."""
    async with harness.connect() as s:
        offer = await s.offer("NG")  # 1.00 setup + 2.00 monthly
        args = {"inventory_id": offer["inventory_id"]}
        token = await _token_for(s, args)
        await s.set_price(offer["inventory_id"], setup_cost_cents=0, monthly_cost_cents=300)
        changed = await s.ok("purchase_number", {**args, "confirmation_token": token})
        assert changed["status"] == "price_changed" and changed["executed"] is False
        assert (
            changed["quote"]["monthly_cost_cents"] == 300
            and changed["quote"]["first_charge_cents"] == 300
        )
        assert "2.00 USD a month" in changed["message"] and "3.00 USD a month" in changed["message"]
        await _nothing_bought(s)
        bought = await s.ok(
            "purchase_number", {**args, "confirmation_token": changed["confirmation_token"]}
        )
        assert bought["status"] == "purchased" and bought["number"]["monthly_cost_cents"] == 300


async def test_price_change_after_search_with_elicitation(harness: Harness) -> None:
    ask, seen = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        await s.set_price(offer["inventory_id"], setup_cost_cents=900)  # 3.00 -> 11.00 USD
        changed = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert changed["status"] == "price_changed" and changed["executed"] is False
        assert changed["quote"]["first_charge_cents"] == 1100
        await _nothing_bought(s)
        # Asked again, the person now sees the new price.
        bought = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert bought["status"] == "purchased"
        assert "11.00 USD" in seen[-1]
        assert await s.balance() == START_BALANCE - 1100


# -- KROS_MCP_CONFIRMATION modes --------------------------------------------------------------


async def test_human_mode_refuses_clients_that_cannot_ask(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="human")
    async with harness.connect() as s:
        offer = await s.offer("NG")
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            "requires a person to confirm",
            "Nothing was bought",
        )
        # A token is no way around it.
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "confirmation_token": "kc1.x.y"},
            "requires a person",
            "Nothing was bought",
        )
        number = await s.sandbox_buy("KE")
        await s.error(
            "release_number",
            {"number_id": number["id"]},
            "requires a person",
            "Nothing was released",
        )
        assert [n["id"] for n in await s.owned()] == [number["id"]]
        # Previews still work.
        assert (
            await s.ok("purchase_number", {"inventory_id": offer["inventory_id"], "dry_run": True})
        )["status"] == "dry_run"


async def test_human_mode_asks_the_person_even_with_a_token(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="human")
    ask, seen = elicitation("decline", "accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"], "confirmation_token": "kc1.ignored.token"}
        declined = await s.ok("purchase_number", args)
        assert declined["status"] == "declined" and len(seen) == 1
        await _nothing_bought(s)
        bought = await s.ok("purchase_number", args)
        assert bought["status"] == "purchased" and len(seen) == 2
        assert "confirmation_token" not in bought


async def test_none_mode_buys_and_releases_in_one_call(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    ask, seen = elicitation("decline")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        bought = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert bought["status"] == "purchased" and bought["executed"] is True
        released = await s.ok("release_number", {"number_id": bought["number"]["id"]})
        assert released["status"] == "released"
        assert seen == []  # nobody was asked
        assert await s.owned() == []
