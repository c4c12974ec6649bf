"""Amounts are shown in the operator's currency (KROS_MCP_CURRENCY) wherever KrosAI states none:
in the purchase and release questions, the tools' messages, and the MCP App. A person agrees to
an amount and its currency together, so neither is ever assumed."""

from __future__ import annotations

import pytest

from tests.support.harness import Harness, elicitation

from ._apps import app_ok, apps_client

pytestmark = pytest.mark.anyio

CURRENCY = "NGN"


def _only_ours(*texts: str) -> None:
    for text in texts:
        assert "USD" not in text, text
        assert CURRENCY in text, text


async def test_tool_questions_and_messages_use_the_operators_currency(harness: Harness) -> None:
    ask, seen = elicitation("decline")
    harness.configure(KROS_MCP_CURRENCY=CURRENCY)
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        preview = await s.ok(
            "purchase_number", {"inventory_id": offer["inventory_id"], "dry_run": True}
        )
        assert preview["quote"]["currency"] == CURRENCY
        await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})  # declined
        number = await s.sandbox_buy("NG")
        release = await s.ok("release_number", {"number_id": number["id"], "dry_run": True})
        await s.ok("release_number", {"number_id": number["id"]})  # declined
    assert len(seen) == 2
    _only_ours(*seen, " ".join(preview["plan"]), " ".join(release["plan"]))


async def test_token_path_message_uses_the_operators_currency(harness: Harness) -> None:
    harness.configure(KROS_MCP_CURRENCY=CURRENCY)
    async with harness.connect() as s:
        offer = await s.offer("NG")
        asked = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
    assert asked["status"] == "confirmation_required"
    _only_ours(asked["message"])


async def test_the_app_shows_the_operators_currency(harness: Harness) -> None:
    harness.configure(KROS_MCP_CURRENCY=CURRENCY, KROS_MCP_DAILY_BUDGET_CENTS=1)
    async with harness.connect(**apps_client()) as s:
        context = await app_ok(s, "app_context")
        page = await app_ok(s, "app_offers", {"country": "NG", "limit": 2})
        offer = page.data["offers"][0]
        quote = await app_ok(s, "app_quote_purchase", {"inventory_id": offer["inventory_id"]})
        number = await s.sandbox_buy("NG")
        release = await app_ok(s, "app_preview_release", {"number_id": number["id"]})
    assert context.data["currency"] == page.data["currency"] == CURRENCY
    assert quote.data["currency"] == release.data["currency"] == CURRENCY
    labels = [r["label"] for r in offer["refusals"]]
    assert any(label.startswith("Over your daily budget") for label in labels), labels
    _only_ours(context.text, quote.text, " ".join(labels), " ".join(release.data["effects"]))
