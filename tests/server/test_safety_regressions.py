"""Regressions for the leaks the safety review reproduced, through the MCP tools on the sandbox:
what the person agrees to is what is bought, an answer acts once, the decision to ask is made
once, model-supplied text cannot forge a question, and dry runs say what they cannot know."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult, InputResponse

from tests.support.harness import START_BALANCE, Harness, Session, elicitation

pytestmark = pytest.mark.anyio


async def test_old_token_does_not_buy_at_a_new_monthly_price(harness: Harness) -> None:
    """A token for setup 1.50 / monthly 3.50; the inventory moves to 0.00 / 5.00 (the same first
    charge) and the model searches again: the old token must not buy at 5.00 a month."""
    async with harness.connect() as s:
        offer = await s.offer("NG")
        await s.set_price(offer["inventory_id"], setup_cost_cents=150, monthly_cost_cents=350)
        await s.offer("NG")  # the model sees the 1.50 + 3.50 quote
        args = {"inventory_id": offer["inventory_id"]}
        first = await s.ok("purchase_number", args)
        assert first["quote"]["monthly_cost_cents"] == 350
        await s.set_price(offer["inventory_id"], setup_cost_cents=0, monthly_cost_cents=500)
        again = await s.offer("NG")  # the model searched again: the new price is remembered
        assert again["monthly_cost_cents"] == 500

        changed = await s.ok(
            "purchase_number", {**args, "confirmation_token": first["confirmation_token"]}
        )
        assert changed["status"] == "price_changed" and changed["executed"] is False
        assert changed["quote"]["monthly_cost_cents"] == 500
        assert "3.50 USD a month" in changed["message"] and "5.00 USD a month" in changed["message"]
        assert await s.owned() == [] and await s.balance() == START_BALANCE

        bought = await s.ok(
            "purchase_number", {**args, "confirmation_token": changed["confirmation_token"]}
        )
        assert bought["status"] == "purchased" and bought["number"]["monthly_cost_cents"] == 500


async def test_replayed_token_says_nothing_new_was_executed(harness: Harness) -> None:
    async with harness.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        first = await s.ok("purchase_number", args)
        bought = await s.ok(
            "purchase_number", {**args, "confirmation_token": first["confirmation_token"]}
        )
        again = await s.ok(
            "purchase_number", {**args, "confirmation_token": first["confirmation_token"]}
        )
        assert bought["executed"] is True and again["executed"] is False
        assert again["status"] == "purchased"  # the earlier outcome, shown again
        assert again["number"]["id"] == bought["number"]["id"]
        assert (
            "nothing new was executed" in again["message"] and bought["message"] in again["message"]
        )
        assert len(await s.owned()) == 1


# -- an accepted answer acts once (the second round of 2026-07-28, re-sent) ------------------------


async def _first_round(s: Session, tool: str, args: dict[str, Any]) -> InputRequiredResult:
    result = await s.client.session.call_tool(tool, args, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    return result


async def _second_round(
    s: Session, tool: str, args: dict[str, Any], first: InputRequiredResult
) -> CallToolResult | InputRequiredResult:
    answers: dict[str, InputResponse] = {
        key: ElicitResult(action="accept", content={"confirm": True})
        for key in first.input_requests or {}
    }
    return await s.client.session.call_tool(
        tool,
        args,
        input_responses=answers,
        request_state=first.request_state,
        allow_input_required=True,
    )


@pytest.mark.parametrize("mode", ["auto"])  # the round trip exists in the 2026-07-28 era only
async def test_replayed_second_round_buys_once(harness: Harness) -> None:
    ask, _ = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        first = await _first_round(s, "purchase_number", args)
        bought = await _second_round(s, "purchase_number", args, first)
        assert (
            isinstance(bought, CallToolResult)
            and bought.structured_content["status"] == "purchased"
        )

        replay = await _second_round(s, "purchase_number", args, first)
        # The answer already acted: the person is asked afresh, nothing is bought.
        assert isinstance(replay, InputRequiredResult)
        assert len(await s.owned()) == 1
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]


@pytest.mark.parametrize("mode", ["auto"])
async def test_replayed_second_round_does_not_retry_a_failed_purchase(harness: Harness) -> None:
    ask, _ = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        await s.set_org(balance_cents=100)
        first = await _first_round(s, "purchase_number", args)
        failed = await _second_round(s, "purchase_number", args, first)
        assert isinstance(failed, CallToolResult) and failed.is_error
        assert "INSUFFICIENT_BALANCE" in failed.content[0].text  # type: ignore[union-attr]

        await s.set_org(balance_cents=START_BALANCE)  # credit added: a retry would now succeed
        replay = await _second_round(s, "purchase_number", args, first)
        assert isinstance(replay, InputRequiredResult)  # asked again, not bought
        assert await s.owned() == [] and await s.balance() == START_BALANCE


@pytest.mark.parametrize("mode", ["auto"])
async def test_replayed_second_round_releases_once(harness: Harness) -> None:
    ask, _ = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        number = await s.sandbox_buy("NG")
        args = {"number_id": number["id"]}
        first = await _first_round(s, "release_number", args)
        released = await _second_round(s, "release_number", args, first)
        assert (
            isinstance(released, CallToolResult)
            and released.structured_content["status"] == "released"
        )
        replay = await _second_round(s, "release_number", args, first)
        # Nothing acts on the old answer: the number is gone, and that is all the replay learns.
        assert isinstance(replay, CallToolResult) and replay.is_error
        assert "NOT_FOUND" in replay.content[0].text  # type: ignore[union-attr]
        assert await s.owned() == []


# -- decided once ----------------------------------------------------------------------------------


async def test_asking_or_a_token_is_decided_from_one_read(harness: Harness) -> None:
    """The budget read by the question's resolver and by the tool body was two reads: with spend
    settled in between, a call skipped the question and handed the model a token instead."""
    harness.configure(KROS_MCP_DAILY_BUDGET_CENTS=1000)
    ask, seen = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        real = s.deps.store.spent_in_window
        reads: list[int] = []

        async def settling(tenant: str, window: float) -> int:
            reads.append(1)
            return 5000 if len(reads) == 1 else await real(tenant, window)  # over, then free

        s.deps.store.spent_in_window = settling  # type: ignore[method-assign,assignment]
        text = await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            "BUDGET_EXCEEDED",
            "Nothing was bought",
        )
        assert "confirmation_token" not in text and "kc1." not in text
        assert seen == [] and len(reads) == 1
        assert await s.owned() == []


# -- model-supplied text in questions ------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint_id",
    [
        "ep_support_agent\nFREE trial: 0.00 USD",
        "ep_a\u202eDSU 00.0",
        "FREE trial: 0.00 USD",
        "ep_a b",
    ],
)
async def test_endpoint_id_must_be_an_endpoint_id(harness: Harness, endpoint_id: str) -> None:
    ask, seen = elicitation("accept")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        number = await s.sandbox_buy("KE")
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "endpoint_id": endpoint_id},
            "INVALID_ARGUMENTS",
            "endpoint_id",
        )
        await s.error(
            "update_routing",
            {"number_id": number["id"], "endpoint_id": endpoint_id},
            "INVALID_ARGUMENTS",
        )
        assert seen == [] and len(await s.owned()) == 1


async def test_questions_state_the_money_first_and_quote_model_values(harness: Harness) -> None:
    ask, seen = elicitation("decline")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        await s.ok(
            "purchase_number",
            {"inventory_id": offer["inventory_id"], "endpoint_id": "ep_support_agent"},
        )
        number = await s.sandbox_buy("KE", endpoint_id="ep_support_agent")
        await s.ok("release_number", {"number_id": number["id"]})
    purchase, release = seen
    assert purchase.startswith("Pay 3.00 USD now") and "'ep_support_agent'" in purchase
    assert release.startswith("Stop paying") and "nothing is refunded" in release
    assert "'Support Agent'" in release


# -- dry runs say what they cannot know ----------------------------------------------------------


async def test_dry_run_warns_that_kyc_and_balance_are_checked_only_at_purchase(
    harness: Harness,
) -> None:
    async with harness.connect() as s:
        unready = await s.sandbox(
            "POST", "/_sandbox/orgs", {"kyc_status": "not_submitted", "balance_cents": 100}
        )
    server = Harness(
        harness.data_dir,
        harness.mode,
        harness.opened,
        {"KROS_MCP_SANDBOX_KEY": unready["api_key"], "KROS_MCP_CONFIRMATION": "none"},
    )
    async with server.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"]}
        preview = await s.ok("purchase_number", {**args, "dry_run": True})
        assert any("checked by KrosAI only when buying" in line for line in preview["plan"])
        assert not any("WARNING" in line for line in preview["plan"])
        await s.error("purchase_number", args, "KYC", "Nothing was bought")

        warned = await s.ok("purchase_number", {**args, "dry_run": True})
        (line,) = [line for line in warned["plan"] if line.startswith("WARNING")]
        assert "KYC_REQUIRED" in line and "last purchase failed" in line
        assert "last purchase failed for KYC or balance" in warned["message"]
