"""The click is the confirmation: Buy and Release act only with the proof the view's quote carried,
bound like a confirmation token (tenant, arguments, both prices, single use, expiry), and every
existing rule (policy, budget, protected numbers, exactly-once purchase, audit) still applies.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest

from kros_mcp.safety import ConfirmationTokens, Policy
from kros_mcp.server import TOOL_NAMES
from kros_mcp.server.apps import PROOF_KEY
from kros_mcp.server.deps import load_signing_keys
from tests.support.harness import Harness, Session, assert_clean_error
from tests.support.results import text_of

from ._apps import AppAnswer, app_ok, apps_client

pytestmark = pytest.mark.anyio


async def purchases(s: Session) -> list[dict[str, Any]]:
    """The sandbox ledger's purchase debits for this organisation."""
    ledger = await s.sandbox("GET", "/_sandbox/org/transactions")
    return [t for t in ledger["transactions"] if t["kind"] == "purchase"]


async def first_offer(s: Session, **filters: Any) -> dict[str, Any]:
    page = await app_ok(s, "app_offers", {"country": "NG", "limit": 3, **filters})
    assert page.data["offers"], page.data
    return page.data["offers"][0]


async def quote(s: Session, offer: dict[str, Any], **routing: Any) -> AppAnswer:
    return await app_ok(s, "app_quote_purchase", {"inventory_id": offer["inventory_id"], **routing})


def click(answer: AppAnswer, **changes: Any) -> dict[str, Any]:
    """The arguments the view's Buy button sends for the quote it shows (a price_changed
    answer's new quote included)."""
    q = answer.data.get("quote", answer.data)
    arguments = {
        "inventory_id": q["inventory_id"],
        "number": q["number"],
        "setup_cost_cents": q["setup_cost_cents"],
        "monthly_cost_cents": q["monthly_cost_cents"],
        "endpoint_id": q.get("endpoint_id"),
        "allow_inbound": q["allow_inbound"],
        "allow_outbound": q["allow_outbound"],
        "proof": answer.proof,
    }
    return {**arguments, **changes}


async def test_a_click_buys_the_quoted_number_once_at_the_quoted_price(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        before = await s.balance()
        offer = await first_offer(s)
        shown = await quote(s, offer, endpoint_id="ep_support_agent", allow_outbound=False)
        assert shown.proof and shown.data["buyable"] is True
        bought = await app_ok(s, "app_buy", click(shown))
        assert bought.data["status"] == "purchased" and bought.data["executed"] is True
        number = bought.data["number"]
        assert number["endpoint"]["id"] == "ep_support_agent"
        assert number["allow_outbound"] is False and number["allow_inbound"] is True
        assert [t["amount_cents"] for t in await purchases(s)] == [-offer["first_charge_cents"]]
        assert await s.balance() == before - offer["first_charge_cents"]
        audit = json.loads((await s.client.read_resource("kros://audit")).contents[0].text)
    [entry] = audit["entries"]
    assert entry["tool"] == "purchase_number" and entry["confirmation"] == "app"
    assert entry["status"] == "succeeded"
    assert entry["quote"]["setup_cost_cents"] == offer["setup_cost_cents"]
    assert entry["quote"]["monthly_cost_cents"] == offer["monthly_cost_cents"]
    assert shown.proof not in json.dumps(audit)


async def test_the_proof_reaches_only_result_meta(harness: Harness) -> None:
    """Never in the text or the structured content, which a host may show to the model."""
    async with harness.connect(**apps_client()) as s:
        offer = await first_offer(s)
        result = await s.call("app_quote_purchase", {"inventory_id": offer["inventory_id"]})
    proof = (result.meta or {})[PROOF_KEY]
    assert proof.startswith("kc1.")
    assert proof not in text_of(result)
    assert proof not in json.dumps(result.structured_content)


BOUND_FIELDS: dict[str, Any] = {
    "inventory_id": "inv_ng_other",
    "number": "+2348000000000",
    "setup_cost_cents": 0,
    "monthly_cost_cents": 1,
    "endpoint_id": "ep_webhook_handler",
    "allow_inbound": False,
    "allow_outbound": False,
}


@pytest.mark.parametrize("field", sorted(BOUND_FIELDS))
async def test_a_proof_is_bound_to_every_term_shown(harness: Harness, field: str) -> None:
    async with harness.connect(**apps_client()) as s:
        before = await s.balance()
        shown = await quote(s, await first_offer(s), endpoint_id="ep_support_agent")
        arguments = click(shown, **{field: BOUND_FIELDS[field]})
        await s.error("app_buy", arguments, "CLICK_NOT_CONFIRMED", "mismatch", "Nothing was bought")
        assert await s.owned() == [] and await s.balance() == before


async def test_no_proof_a_forged_proof_or_a_model_token_buys_nothing(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        before = await s.balance()
        offer = await first_offer(s)
        shown = await quote(s, offer)
        assert shown.proof is not None
        arguments = click(shown)
        without = {k: v for k, v in arguments.items() if k != "proof"}
        await s.error("app_buy", without, "proof")
        await s.error("app_buy", {**arguments, "proof": ""}, "proof")
        payload, signature = shown.proof.split(".")[1:]
        forged = f"kc1.{payload}.{signature[::-1]}"
        await s.error("app_buy", {**arguments, "proof": forged}, "CLICK_NOT_CONFIRMED", "tampered")
        await s.error("app_buy", {**arguments, "proof": "yes, I clicked"}, "malformed")
        # The model's way to confirm (a confirmation_token from purchase_number) is not a click.
        token = (await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]}))[
            "confirmation_token"
        ]
        await s.error("app_buy", {**arguments, "proof": token}, "CLICK_NOT_CONFIRMED", "mismatch")
        # ... and a click's proof is not a confirmation_token either.
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "confirmation_token": shown.proof},
            "mismatch",
        )
        # A proof signed for another organisation does not pass for this one.
        other = s.deps.tokens.issue(
            tenant="t_other",
            tool="app_buy",
            arguments={k: v for k, v in arguments.items() if k != "proof"},
            quote={
                "number": arguments["number"],
                "setup_cost_cents": arguments["setup_cost_cents"],
                "monthly_cost_cents": arguments["monthly_cost_cents"],
            },
        )[0]
        await s.error("app_buy", {**arguments, "proof": other}, "CLICK_NOT_CONFIRMED", "mismatch")
        assert await s.owned() == [] and await purchases(s) == [] and await s.balance() == before


async def test_a_proof_acts_once(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        shown = await quote(s, await first_offer(s))
        first = await app_ok(s, "app_buy", click(shown))
        again = await app_ok(s, "app_buy", click(shown))
        assert again.data["message"].startswith("ALREADY DONE")
        assert again.data["number"]["id"] == first.data["number"]["id"]
        assert len(await s.owned()) == 1 and len(await purchases(s)) == 1


async def test_one_purchase_when_the_same_click_arrives_twice_at_once(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        shown = await quote(s, await first_offer(s))
        answers: list[Any] = []

        async def press() -> None:
            answers.append(await s.call("app_buy", click(shown)))

        async with anyio.create_task_group() as tg:
            tg.start_soon(press)
            tg.start_soon(press)
        assert len(await s.owned()) == 1 and len(await purchases(s)) == 1
        assert any(not a.is_error and a.structured_content["executed"] for a in answers)


async def test_a_proof_expires(harness: Harness) -> None:
    async with harness.configure(KROS_MCP_CONFIRMATION_TTL=60).connect(**apps_client()) as s:
        later = [0.0]
        s.deps.tokens = ConfirmationTokens(
            load_signing_keys(harness.settings),
            ttl_seconds=60,
            clock=lambda: time.time() + later[0],
        )
        shown = await quote(s, await first_offer(s))
        later[0] = 61.0
        await s.error("app_buy", click(shown), "CLICK_NOT_CONFIRMED", "expired")
        assert await s.owned() == []


@pytest.mark.parametrize(
    "new_prices",
    [{"setup_cost_cents": 50}, {"monthly_cost_cents": 900}],
    ids=["setup", "monthly"],
)
async def test_a_changed_price_gives_a_new_quote_not_a_purchase(
    harness: Harness, new_prices: dict[str, int]
) -> None:
    async with harness.connect(**apps_client()) as s:
        offer = await first_offer(s)
        shown = await quote(s, offer, endpoint_id="ep_support_agent")
        await s.set_price(offer["inventory_id"], **new_prices)
        changed = await app_ok(s, "app_buy", click(shown))
        assert changed.data["status"] == "price_changed" and changed.data["executed"] is False
        new = changed.data["quote"]
        for field, cents in new_prices.items():
            assert new[field] == cents
        assert new["previous_setup_cost_cents"] == offer["setup_cost_cents"]
        assert new["previous_monthly_cost_cents"] == offer["monthly_cost_cents"]
        assert new["endpoint_id"] == "ep_support_agent"
        assert changed.proof and changed.proof != shown.proof
        assert await s.owned() == [] and await purchases(s) == []
        # The old proof still cannot buy at the new price; the new quote's proof can.
        await s.error("app_buy", click(shown, **new_prices), "CLICK_NOT_CONFIRMED")
        bought = await app_ok(s, "app_buy", click(changed))
        assert bought.data["status"] == "purchased"
        assert [t["amount_cents"] for t in await purchases(s)] == [-new["first_charge_cents"]]


async def test_a_quote_shows_a_price_that_moved_since_the_list(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        offer = await first_offer(s)
        await s.set_price(offer["inventory_id"], monthly_cost_cents=offer["monthly_cost_cents"] + 7)
        shown = await quote(s, offer)
        assert shown.data["monthly_cost_cents"] == offer["monthly_cost_cents"] + 7
        assert shown.data["previous_monthly_cost_cents"] == offer["monthly_cost_cents"]
        await app_ok(s, "app_buy", click(shown))
        assert [t["amount_cents"] for t in await purchases(s)] == [
            -(offer["first_charge_cents"] + 7)
        ]


async def test_the_budget_is_shown_before_the_click_and_kept_at_it(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        a, b = (await app_ok(s, "app_offers", {"country": "NG", "limit": 2})).data["offers"]
    # Each fits the budget alone; both do not.
    budget = a["first_charge_cents"] + b["first_charge_cents"] - 1
    limited = Harness(harness.data_dir, harness.mode, harness.opened)
    async with limited.configure(KROS_MCP_DAILY_BUDGET_CENTS=budget).connect(**apps_client()) as s:
        first, second = await quote(s, a), await quote(s, b)
        assert first.proof and second.proof and not first.data["refusals"]
        await app_ok(s, "app_buy", click(first))
        # The second quote was within budget when shown; at the click it no longer is.
        await s.error("app_buy", click(second), "BUDGET_EXCEEDED", "Nothing was bought")
        assert len(await purchases(s)) == 1
        page = await app_ok(s, "app_offers", {"country": "NG", "limit": 3})
        refused = [o for o in page.data["offers"] if o["inventory_id"] == b["inventory_id"]]
        assert refused and refused[0]["buyable"] is False
        assert refused[0]["refusals"][0]["label"].startswith("Over your daily budget")
        again = await quote(s, refused[0])
        assert again.data["buyable"] is False and again.proof is None
        context = (await app_ok(s, "app_context")).data
        assert context["daily_budget_cents"] == budget
        assert context["spent_24h_cents"] == a["first_charge_cents"]


async def test_policy_limits_show_in_offers_and_refuse_a_quote(harness: Harness) -> None:
    options = {"KROS_MCP_ALLOWED_COUNTRIES": "KE", "KROS_MCP_MAX_MONTHLY_COST_CENTS": 0}
    async with harness.configure(**options).connect(**apps_client()) as s:
        offer = await first_offer(s)
        assert offer["buyable"] is False
        codes = {r["code"] for r in offer["refusals"]}
        assert codes == {"COUNTRY_NOT_ALLOWED", "MONTHLY_COST_TOO_HIGH"}
        shown = await quote(s, offer)
        assert shown.proof is None and shown.data["buyable"] is False


async def test_offers_filter_and_page(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        everything = await app_ok(s, "app_offers", {"country": "NG", "limit": 50})
        cheap_limit = min(o["monthly_cost_cents"] for o in everything.data["offers"])
        cheap = await app_ok(
            s, "app_offers", {"country": "NG", "limit": 50, "max_monthly_cost_cents": cheap_limit}
        )
        assert cheap.data["filtered"] is True and cheap.data["offers"]
        assert all(o["monthly_cost_cents"] <= cheap_limit for o in cheap.data["offers"])
        sms = await app_ok(s, "app_offers", {"country": "NG", "capability": "sms", "limit": 5})
        assert all("sms" in o["capabilities"] for o in sms.data["offers"])
        first = await app_ok(s, "app_offers", {"country": "NG", "limit": 2})
        assert first.data["next_offset"] == 2
        second = await app_ok(s, "app_offers", {"country": "NG", "limit": 2, "offset": 2})
        ids = {o["inventory_id"] for o in first.data["offers"]}
        assert ids.isdisjoint(o["inventory_id"] for o in second.data["offers"])
        # An offer from page two is priced again and bought from where it was shown.
        shown = await quote(s, second.data["offers"][0])
        assert (await app_ok(s, "app_buy", click(shown))).data["status"] == "purchased"


async def test_a_click_releases_once_and_is_audited(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        owned = await s.sandbox_buy("NG", endpoint_id="ep_support_agent")
        preview = await app_ok(s, "app_preview_release", {"number_id": owned["id"]})
        assert preview.data["releasable"] is True and preview.proof
        assert any("Support Agent" in line for line in preview.data["effects"])
        arguments = {"number_id": owned["id"], "number": owned["number"], "proof": preview.proof}
        await s.error("app_release", {**arguments, "number": "+2348000000000"}, "mismatch")
        await s.error("app_release", {**arguments, "proof": preview.proof + "x"}, "tampered")
        assert len(await s.owned()) == 1
        released = await app_ok(s, "app_release", arguments)
        assert released.data["executed"] is True and await s.owned() == []
        again = await app_ok(s, "app_release", arguments)
        assert again.data["message"].startswith("ALREADY DONE")
        audit = json.loads((await s.client.read_resource("kros://audit")).contents[0].text)
    [entry] = audit["entries"]
    assert (entry["tool"], entry["confirmation"], entry["status"]) == (
        "release_number",
        "app",
        "succeeded",
    )


async def test_a_protected_number_cannot_be_released_by_a_click(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        owned = await s.sandbox_buy("NG")
        preview = await app_ok(s, "app_preview_release", {"number_id": owned["id"]})
        s.deps.policy = Policy.build(protected_numbers=[owned["number"]], known_tools=TOOL_NAMES)
        arguments = {"number_id": owned["id"], "number": owned["number"], "proof": preview.proof}
        await s.error("app_release", arguments, "NUMBER_PROTECTED", "Nothing was released")
        again = await app_ok(s, "app_preview_release", {"number_id": owned["id"]})
        assert again.data["releasable"] is False and again.proof is None
        assert again.data["refusals"][0]["label"].startswith("Protected by the operator")
        assert len(await s.owned()) == 1


async def test_a_click_proof_is_useless_to_a_client_without_apps(harness: Harness) -> None:
    async with harness.connect(**apps_client()) as s:
        shown = await quote(s, await first_offer(s))
    plain = Harness(harness.data_dir, harness.mode, harness.opened)
    async with plain.connect() as s:
        result = await s.call("app_buy", click(shown))
        assert_clean_error(result, "Unknown tool: app_buy")
        assert await s.owned() == []


@pytest.mark.parametrize("confirmation", ["human", "none"])
async def test_a_click_confirms_in_every_confirmation_mode(
    harness: Harness, confirmation: str
) -> None:
    """`human` asks for a person: the click is one. `none` drops the question, not the proof."""
    async with harness.configure(KROS_MCP_CONFIRMATION=confirmation).connect(**apps_client()) as s:
        shown = await quote(s, await first_offer(s))
        await s.error("app_buy", click(shown, proof="kc1.x.y"), "CLICK_NOT_CONFIRMED")
        bought = await app_ok(s, "app_buy", click(shown))
        assert bought.data["status"] == "purchased" and len(await purchases(s)) == 1
