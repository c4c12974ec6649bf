"""Purchase rules (countries, monthly cost, daily budget), each in a dry run and for real, both eras."""

from __future__ import annotations

import pytest

from tests.support.clocks import OffsetClock
from tests.support.harness import START_BALANCE, Harness, elicitation

from .helpers import line_for, policy_lines, policy_of

pytestmark = pytest.mark.anyio

RULES = [
    "KROS_MCP_ALLOWED_COUNTRIES",
    "KROS_MCP_MAX_MONTHLY_COST_CENTS",
    "KROS_MCP_DAILY_BUDGET_CENTS",
]


async def _preview(s, inventory_id: str) -> dict:
    preview = await s.ok("purchase_number", {"inventory_id": inventory_id, "dry_run": True})
    assert preview["status"] == "dry_run" and preview["executed"] is False
    assert "confirmation_token" not in preview
    # One line per purchase rule, always, whatever the verdict.
    assert sorted(policy_lines(preview["plan"])) == sorted(RULES), preview["plan"]
    return preview


# -- KROS_MCP_ALLOWED_COUNTRIES ----------------------------------------------------------------


async def test_allowed_countries(harness: Harness) -> None:
    harness.configure(
        KROS_MCP_ALLOWED_COUNTRIES="ng, gh"
    )  # case and spaces as an operator might type them
    async with harness.connect() as s:
        assert (await policy_of(s))["allowed_countries"] == ["GH", "NG"]
        ng, ke = await s.offer("NG"), await s.offer("KE")

        ok = await _preview(s, ng["inventory_id"])
        assert policy_lines(ok["plan"]) == dict.fromkeys(RULES, "ok")
        assert "NG is allowed" in line_for(ok["plan"], "KROS_MCP_ALLOWED_COUNTRIES")
        assert "would refuse" not in ok["message"]

        refused = await _preview(s, ke["inventory_id"])
        line = line_for(refused["plan"], "KROS_MCP_ALLOWED_COUNTRIES")
        assert "REFUSED" in line and "KE" in line and "allowed: GH, NG" in line
        assert (
            "would refuse" in refused["message"]
            and "nothing was bought" in refused["message"].lower()
        )

        # For real: the other country is refused before any confirmation, naming the rule and the fix.
        text = await s.error(
            "purchase_number",
            {"inventory_id": ke["inventory_id"]},
            "Refused by the operator's policy",
            "KE",
            "COUNTRY_NOT_ALLOWED",
            "KROS_MCP_ALLOWED_COUNTRIES",
            "Nothing was bought",
        )
        assert "confirmation_token" not in text
        assert await s.owned() == [] and await s.balance() == START_BALANCE

        # The allowed country buys.
        bought = await s.buy_with_token(ng["inventory_id"])
        assert bought["status"] == "purchased" and bought["number"]["number"] == ng["number"]
        assert [n["number"] for n in await s.owned()] == [ng["number"]]
        assert await s.balance() == START_BALANCE - ng["first_charge_cents"]

        # A confirmation token is no way round the policy: the refusal comes first.
        other_ng = (await s.ok("search_available", {"country": "NG", "limit": 2}))["offers"][1]
        token = (await s.ok("purchase_number", {"inventory_id": other_ng["inventory_id"]}))[
            "confirmation_token"
        ]
        await s.error(
            "purchase_number",
            {"inventory_id": ke["inventory_id"], "confirmation_token": token},
            "KROS_MCP_ALLOWED_COUNTRIES",
            "Nothing was bought",
        )
        assert len(await s.owned()) == 1


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("KROS_MCP_ALLOWED_COUNTRIES", "KE", "COUNTRY_NOT_ALLOWED"),
        ("KROS_MCP_MAX_MONTHLY_COST_CENTS", 100, "MONTHLY_COST_TOO_HIGH"),
        ("KROS_MCP_DAILY_BUDGET_CENTS", 250, "BUDGET_EXCEEDED"),
    ],
)
async def test_refused_purchase_is_refused_before_asking_the_person(
    harness: Harness, setting: str, value: object, code: str
) -> None:
    ask, seen = elicitation("accept")
    harness.configure(**{setting: value})
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG", type="local")  # 1.00 USD setup + 2.00 USD a month
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            code,
            setting,
            "Nothing was bought",
        )
        assert seen == [], "the person must not be asked to approve what the policy refuses"
        assert await s.owned() == [] and await s.balance() == START_BALANCE


# -- KROS_MCP_MAX_MONTHLY_COST_CENTS -----------------------------------------------------------


async def test_max_monthly_cost(harness: Harness) -> None:
    harness.configure(KROS_MCP_MAX_MONTHLY_COST_CENTS=500, KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        cheap = await s.offer("NG", type="local")
        dear = await s.offer("NG", type="toll_free")
        assert cheap["monthly_cost_cents"] <= 500 < dear["monthly_cost_cents"]

        ok = await _preview(s, cheap["inventory_id"])
        assert policy_lines(ok["plan"])["KROS_MCP_MAX_MONTHLY_COST_CENTS"] == "ok"
        assert "within the 500c limit" in line_for(ok["plan"], "KROS_MCP_MAX_MONTHLY_COST_CENTS")

        refused = await _preview(s, dear["inventory_id"])
        line = line_for(refused["plan"], "KROS_MCP_MAX_MONTHLY_COST_CENTS")
        assert (
            "REFUSED" in line
            and f"{dear['monthly_cost_cents']}c a month is over the 500c limit" in line
        )
        assert "would refuse" in refused["message"]

        await s.error(
            "purchase_number",
            {"inventory_id": dear["inventory_id"]},
            "MONTHLY_COST_TOO_HIGH",
            "KROS_MCP_MAX_MONTHLY_COST_CENTS",
            "raise",
            "Nothing was bought",
        )
        assert await s.owned() == [] and await s.balance() == START_BALANCE

        bought = await s.ok("purchase_number", {"inventory_id": cheap["inventory_id"]})
        assert bought["status"] == "purchased"
        assert await s.balance() == START_BALANCE - cheap["first_charge_cents"]


async def test_price_rise_after_the_quote_cannot_slip_past_the_monthly_limit(
    harness: Harness,
) -> None:
    harness.configure(KROS_MCP_MAX_MONTHLY_COST_CENTS=500)
    async with harness.connect() as s:
        offer = await s.offer("NG", type="local")
        args = {"inventory_id": offer["inventory_id"]}
        first = await s.ok("purchase_number", args)
        assert first["status"] == "confirmation_required"
        await s.set_price(offer["inventory_id"], monthly_cost_cents=900)

        changed = await s.ok(
            "purchase_number", {**args, "confirmation_token": first["confirmation_token"]}
        )
        assert changed["status"] == "price_changed" and changed["executed"] is False
        assert changed["quote"]["monthly_cost_cents"] == 900
        # Confirming the new price does not get round the operator's limit.
        await s.error(
            "purchase_number",
            {**args, "confirmation_token": changed["confirmation_token"]},
            "MONTHLY_COST_TOO_HIGH",
            "900c a month",
            "KROS_MCP_MAX_MONTHLY_COST_CENTS",
            "Nothing was bought",
        )
        preview = await _preview(s, offer["inventory_id"])
        assert policy_lines(preview["plan"])["KROS_MCP_MAX_MONTHLY_COST_CENTS"] == "REFUSED"
        assert await s.owned() == [] and await s.balance() == START_BALANCE


# -- KROS_MCP_DAILY_BUDGET_CENTS ---------------------------------------------------------------


async def _cheap_offers(s, count: int) -> list[dict]:
    """`count` NG local offers at the plain price (memorable numbers cost more)."""
    found = await s.ok("search_available", {"country": "NG", "type": "local", "limit": 20})
    offers = [o for o in found["offers"] if o["first_charge_cents"] == 300]
    assert len(offers) >= count, found
    return offers[:count]


async def test_daily_budget(harness: Harness, store_clock: OffsetClock) -> None:
    harness.configure(KROS_MCP_DAILY_BUDGET_CENTS=700, KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        policy = await policy_of(s)
        assert policy["daily_budget_cents"] == 700
        assert policy["spent_last_24h_cents"] == 0 and policy["budget_left_cents"] == 700
        a, b, c = await _cheap_offers(s, 3)  # 3.00 USD each

        preview = await _preview(s, a["inventory_id"])
        assert "300c fits the 700c left of the 700c daily budget" in line_for(
            preview["plan"], "KROS_MCP_DAILY_BUDGET_CENTS"
        )

        for offer, left in ((a, 400), (b, 100)):
            assert (await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]}))[
                "status"
            ] == "purchased"
            policy = await policy_of(s)
            assert (
                policy["spent_last_24h_cents"] == 700 - left and policy["budget_left_cents"] == left
            )

        preview = await _preview(s, c["inventory_id"])
        line = line_for(preview["plan"], "KROS_MCP_DAILY_BUDGET_CENTS")
        assert "REFUSED" in line and "300c is more than the 100c left of the 700c budget" in line
        assert "would refuse" in preview["message"]

        await s.error(
            "purchase_number",
            {"inventory_id": c["inventory_id"]},
            "BUDGET_EXCEEDED",
            "100c left",
            "KROS_MCP_DAILY_BUDGET_CENTS",
            "24-hour window",
            "Nothing was bought",
        )
        assert len(await s.owned()) == 2
        assert await s.balance() == START_BALANCE - 600
        assert (await policy_of(s))["spent_last_24h_cents"] == 600  # the refusal reserved nothing

        # Almost a day later the spend still counts; just over a day later it no longer does.
        store_clock.advance(86_400 - 60)
        assert (await policy_of(s))["budget_left_cents"] == 100
        store_clock.advance(61)
        policy = await policy_of(s)
        assert policy["spent_last_24h_cents"] == 0 and policy["budget_left_cents"] == 700
        (c,) = await _cheap_offers(s, 1)  # offers shown a day ago have expired: search again
        preview = await _preview(s, c["inventory_id"])
        assert "300c fits the 700c left" in line_for(preview["plan"], "KROS_MCP_DAILY_BUDGET_CENTS")
        assert (await s.ok("purchase_number", {"inventory_id": c["inventory_id"]}))[
            "status"
        ] == "purchased"
        assert (await policy_of(s))["spent_last_24h_cents"] == 300
        assert len(await s.owned()) == 3


async def test_daily_budget_is_kept_across_restarts_and_with_tokens(harness: Harness) -> None:
    harness.configure(KROS_MCP_DAILY_BUDGET_CENTS=500)
    async with harness.connect() as s:
        a, b = await _cheap_offers(s, 2)
        # Two tokens obtained while the budget had room for either ...
        tokens = [
            (await s.ok("purchase_number", {"inventory_id": o["inventory_id"]}))[
                "confirmation_token"
            ]
            for o in (a, b)
        ]
    async with harness.connect() as s:  # ... and a restart in between ...
        bought = await s.ok(
            "purchase_number", {"inventory_id": a["inventory_id"], "confirmation_token": tokens[0]}
        )
        assert bought["status"] == "purchased"
        # ... still cannot both be spent.
        await s.error(
            "purchase_number",
            {"inventory_id": b["inventory_id"], "confirmation_token": tokens[1]},
            "BUDGET_EXCEEDED",
            "200c left",
            "Nothing was bought",
        )
        assert len(await s.owned()) == 1 and await s.balance() == START_BALANCE - 300
        assert (await policy_of(s))["budget_left_cents"] == 200


async def test_no_limits_by_default(harness: Harness) -> None:
    async with harness.connect() as s:
        policy = await policy_of(s)
        assert policy["allowed_countries"] == "all" and policy["tools"] == "all"
        assert policy["daily_budget_cents"] is None and policy["budget_left_cents"] is None
        assert policy["max_monthly_cost_cents"] is None and policy["protected_numbers"] == []
        assert policy["read_only"] is False
        preview = await _preview(s, (await s.offer("AE", type="toll_free"))["inventory_id"])
        assert policy_lines(preview["plan"]) == dict.fromkeys(RULES, "ok")


async def test_daily_budget_holds_under_concurrent_purchases(harness: Harness) -> None:
    """Both calls pass the policy check before either has spent: the atomic reservation lets one through."""
    import anyio

    harness.configure(KROS_MCP_DAILY_BUDGET_CENTS=500, KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        offers = await _cheap_offers(s, 4)
        results: list = []

        async def buy(offer: dict) -> None:
            results.append(await s.call("purchase_number", {"inventory_id": offer["inventory_id"]}))

        async with anyio.create_task_group() as tg:
            for offer in offers:
                tg.start_soon(buy, offer)
        bought = [r for r in results if not r.is_error]
        refused = [r for r in results if r.is_error]
        assert len(bought) == 1 and len(refused) == 3
        assert all("BUDGET_EXCEEDED" in r.content[0].text for r in refused)
        assert len(await s.owned()) == 1 and await s.balance() == START_BALANCE - 300
        assert (await policy_of(s))["spent_last_24h_cents"] == 300
