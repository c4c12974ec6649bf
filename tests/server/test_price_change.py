"""The price check just before buying (server/purchase.py price_changed): the agreed quote must
still hold, price for price; a token that quotes no price never buys, and never crashes."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from kros_mcp.safety import (
    ConfirmationTokens,
    Mode,
    PurchaseTerms,
    Step,
    TokenClaims,
    TokenState,
)
from kros_mcp.server.confirmation import Confirmation, PurchasePlan
from kros_mcp.server.purchase import price_changed
from kros_mcp.store import StoredOffer

OFFER = StoredOffer("inv_1", "+2348031234567", "NG", "mobile", "803", 100, 500)
ARGS = {"inventory_id": "inv_1", "endpoint_id": None, "allow_inbound": True, "allow_outbound": True}
QUOTE = {"number": OFFER.number, "setup_cost_cents": 100, "monthly_cost_cents": 500}


def _plan(quote: dict[str, Any] | None) -> PurchasePlan:
    claims = TokenClaims("tok", "t_a", "purchase_number", "digest", quote, 2e9)
    confirmation = Confirmation(Mode.AUTO, False, TokenState.VALID, claims, None, Step.PROCEED)
    return PurchasePlan(OFFER, PurchaseTerms.of(OFFER, ARGS), [], confirmation, False)


def _deps() -> Any:
    return SimpleNamespace(tokens=ConfirmationTokens([b"k" * 32]), tenant="t_a")


def test_the_same_price_lets_the_purchase_go_on() -> None:
    assert price_changed(_deps(), _plan(QUOTE), OFFER) is None


def test_a_token_that_quotes_no_price_never_buys() -> None:
    result = price_changed(_deps(), _plan(None), OFFER)
    assert result is not None and result.status == "price_changed" and not result.executed
    assert result.confirmation_token  # a fresh token, for the price as it is now


def test_a_monthly_change_with_the_same_first_charge_stops_the_purchase() -> None:
    now = replace(OFFER, setup_cost_cents=0, monthly_cost_cents=600)
    result = price_changed(_deps(), _plan(QUOTE), now)
    assert result is not None and result.quote.monthly_cost_cents == 600
    assert "5.00 USD a month" in result.message and "6.00 USD a month" in result.message
