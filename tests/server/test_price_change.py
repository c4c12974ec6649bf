"""The price-change result (server/purchase.py price_change_result): what a model is told when
the agreed quote moved, and the fresh token it gets on the token path."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from kros_mcp.safety import (
    Confirmation,
    ConfirmationTokens,
    Mode,
    PurchaseTerms,
    Step,
    TokenClaims,
    TokenState,
)
from kros_mcp.safety.purchase import PriceChanged, PurchasePlan
from kros_mcp.server.purchase import price_change_result
from kros_mcp.store import StoredOffer

OFFER = StoredOffer("inv_1", "+2348031234567", "NG", "mobile", "803", 100, 500)
ARGS = {"inventory_id": "inv_1", "endpoint_id": None, "allow_inbound": True, "allow_outbound": True}
QUOTE = {"number": OFFER.number, "setup_cost_cents": 100, "monthly_cost_cents": 500}


def _plan(claims: TokenClaims | None) -> PurchasePlan:
    token = TokenState.VALID if claims else TokenState.ABSENT
    confirmation = Confirmation(Mode.AUTO, claims is None, token, claims, None, Step.PROCEED)
    return PurchasePlan(OFFER, PurchaseTerms.of(OFFER, ARGS), [], confirmation, False)


def _deps() -> Any:
    return SimpleNamespace(tokens=ConfirmationTokens([b"k" * 32]), tenant="t_a")


def test_the_new_quote_and_both_prices_are_shown() -> None:
    now = replace(OFFER, setup_cost_cents=0, monthly_cost_cents=600)
    result = price_change_result(_deps(), _plan(None), PriceChanged(QUOTE, now))
    assert result.status == "price_changed" and result.executed is False
    assert result.quote.monthly_cost_cents == 600 and result.confirmation_token is None
    assert "5.00 USD a month" in result.message and "6.00 USD a month" in result.message
    assert result.plan[0].startswith("Buy +2348031234567") and "6.00 USD now" in result.plan[0]


def test_the_token_path_gets_a_token_for_the_new_quote() -> None:
    claims = TokenClaims("tok", "t_a", "purchase_number", "digest", QUOTE, 2e9)
    now = replace(OFFER, monthly_cost_cents=700)
    result = price_change_result(_deps(), _plan(claims), PriceChanged(QUOTE, now))
    assert result.confirmation_token and result.token_expires_at
    fresh = _deps().tokens.verify(
        result.confirmation_token, tenant="t_a", tool="purchase_number", arguments=ARGS
    )
    assert fresh.quote == {**QUOTE, "monthly_cost_cents": 700}
