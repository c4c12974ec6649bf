"""The price check just before buying (server/purchase.py price_change)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from kros_mcp.safety import TokenClaims
from kros_mcp.server.purchase import price_change
from kros_mcp.store import StoredOffer

OFFER = StoredOffer("inv_1", "+2348031234567", "NG", "mobile", "803", 100, 500)


def _claims(price_cents: int | None) -> TokenClaims:
    return TokenClaims("tok", "t_a", "purchase_number", "digest", price_cents, 2e9)


def _check(claims: TokenClaims | None, current: StoredOffer) -> Any:
    deps: Any = object()  # not reached: no new token is issued on these paths
    return price_change(deps, OFFER, current, claims, {}, ["buy"], "check")


def test_the_same_price_lets_the_purchase_go_on() -> None:
    assert _check(_claims(600), OFFER) is None


def test_a_token_that_quotes_no_price_is_refused_not_a_crash() -> None:
    with pytest.raises(ToolError, match="quotes no price, so nothing was bought"):
        _check(_claims(None), OFFER)
