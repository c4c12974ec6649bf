"""Quote binding: what a person agrees to is the whole quote, and it must still hold to buy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kros_mcp.safety import PurchaseTerms, ReleaseTerms, quote_holds
from kros_mcp.store import StoredOffer

OFFER = StoredOffer(
    inventory_id="inv_ng_1",
    number="+2348031234567",
    country="NG",
    type="local",
    area_code="803",
    setup_cost_cents=150,
    monthly_cost_cents=350,
)
ARGS = {
    "inventory_id": "inv_ng_1",
    "endpoint_id": "ep_a",
    "allow_inbound": True,
    "allow_outbound": False,
}


def test_terms_bind_quote_and_arguments() -> None:
    terms = PurchaseTerms.of(OFFER, ARGS)
    assert terms.arguments() == ARGS
    assert terms.quote() == {
        "number": "+2348031234567",
        "setup_cost_cents": 150,
        "monthly_cost_cents": 350,
    }
    assert terms.first_charge_cents == 500


@pytest.mark.parametrize(
    "change",
    [
        {"inventory_id": "inv_ng_2"},
        {"number": "+2348031234568"},
        {"setup_cost_cents": 0},
        {"monthly_cost_cents": 500},
        {"endpoint_id": "ep_b"},
        {"endpoint_id": None},
        {"allow_inbound": False},
        {"allow_outbound": True},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_term_changes_the_subject(change: dict[str, object]) -> None:
    """A question is keyed by the whole terms: change any one and it is another question."""
    terms = PurchaseTerms.of(OFFER, ARGS)
    assert replace(terms, **change).subject() != terms.subject()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "holds"),
    [
        ({}, True),
        ({"number": "+234 803 123 4567"}, True),  # the same number, spelt otherwise
        ({"setup_cost_cents": 0, "monthly_cost_cents": 500}, False),  # same first charge
        ({"monthly_cost_cents": 351}, False),
        ({"setup_cost_cents": 149}, False),
        ({"number": "+2348031234568"}, False),
    ],
)
def test_quote_holds_only_for_the_same_number_and_both_prices(
    now: dict[str, object], holds: bool
) -> None:
    agreed = PurchaseTerms.of(OFFER, ARGS).quote()
    assert quote_holds(agreed, replace(OFFER, **now)) is holds  # type: ignore[arg-type]


def test_no_agreed_quote_never_holds() -> None:
    assert quote_holds(None, OFFER) is False
    assert quote_holds({}, OFFER) is False


def test_release_terms_bind_the_id_and_the_number() -> None:
    terms = ReleaseTerms("pn_1", "+2348031234567")
    assert terms.arguments() == {"number_id": "pn_1", "number": "+2348031234567"}
    assert ReleaseTerms("pn_2", terms.number).subject() != terms.subject()
    assert ReleaseTerms(terms.number_id, "+2348031234568").subject() != terms.subject()
    purchase = PurchaseTerms.of(OFFER, ARGS)
    assert terms.subject() != purchase.subject()
