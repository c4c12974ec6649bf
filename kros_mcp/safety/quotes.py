"""What a person agrees to, bound whole: the quote and the arguments of a purchase or a release.

A purchase's terms are the inventory id, the number, the setup and the monthly price, and the
routing arguments (endpoint, inbound, outbound). A release's terms are the number id and its E.164
number. Terms are bound to a confirmation (token or question) by their digest; at purchase time
the quote KrosAI gives now must equal the agreed one, price for price, or nothing is bought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..krosai import AvailableNumber, KrosAIClient, same_number
from ..store import StoredOffer
from .tokens import arguments_digest

__all__ = [
    "PurchaseTerms",
    "ReleaseTerms",
    "offer_from",
    "quote_holds",
    "refresh_offer",
]

_REFRESH_PAGES = 3


@dataclass(frozen=True)
class PurchaseTerms:
    """Everything a purchase confirmation agrees to."""

    inventory_id: str
    number: str
    setup_cost_cents: int
    monthly_cost_cents: int
    endpoint_id: str | None
    allow_inbound: bool
    allow_outbound: bool

    @classmethod
    def of(cls, offer: StoredOffer, arguments: dict[str, Any]) -> PurchaseTerms:
        return cls(
            inventory_id=offer.inventory_id,
            number=offer.number,
            setup_cost_cents=offer.setup_cost_cents,
            monthly_cost_cents=offer.monthly_cost_cents,
            endpoint_id=arguments["endpoint_id"],
            allow_inbound=arguments["allow_inbound"],
            allow_outbound=arguments["allow_outbound"],
        )

    @property
    def first_charge_cents(self) -> int:
        return self.setup_cost_cents + self.monthly_cost_cents

    def arguments(self) -> dict[str, Any]:
        """The tool arguments these terms were agreed for."""
        return {
            "inventory_id": self.inventory_id,
            "endpoint_id": self.endpoint_id,
            "allow_inbound": self.allow_inbound,
            "allow_outbound": self.allow_outbound,
        }

    def quote(self) -> dict[str, Any]:
        """The price part, as a token carries it."""
        return {
            "number": self.number,
            "setup_cost_cents": self.setup_cost_cents,
            "monthly_cost_cents": self.monthly_cost_cents,
        }

    def subject(self) -> str:
        """A digest of the whole terms: what a question about them is keyed by."""
        return arguments_digest({"tool": "purchase_number", **self.arguments(), **self.quote()})


@dataclass(frozen=True)
class ReleaseTerms:
    """Everything a release confirmation agrees to: this number id, with this number."""

    number_id: str
    number: str

    def arguments(self) -> dict[str, Any]:
        return {"number_id": self.number_id, "number": self.number}

    def subject(self) -> str:
        return arguments_digest({"tool": "release_number", **self.arguments()})


def quote_holds(agreed: dict[str, Any] | None, current: StoredOffer) -> bool:
    """Whether the quote agreed to (number, setup and monthly price) is the current one."""
    if agreed is None:
        return False
    return (
        same_number(str(agreed.get("number") or ""), current.number)
        and agreed.get("setup_cost_cents") == current.setup_cost_cents
        and agreed.get("monthly_cost_cents") == current.monthly_cost_cents
    )


def offer_from(
    item: AvailableNumber, country: str, query: dict[str, Any], currency: str
) -> StoredOffer:
    """The offer to remember for an inventory item shown by a search; `currency` is used when
    KrosAI states none for the item."""
    return StoredOffer(
        inventory_id=item.id,
        number=item.number,
        country=item.country or country,
        type=item.type,
        area_code=item.area_code,
        setup_cost_cents=item.setup_cost_cents or 0,
        monthly_cost_cents=item.monthly_cost_cents or 0,
        capabilities=tuple(sorted(k for k, v in item.capabilities.items() if v)),
        query=query,
        currency=item.currency or currency,
    )


async def refresh_offer(client: KrosAIClient, offer: StoredOffer) -> StoredOffer | None:
    """The offer as KrosAI prices it now, or None if it is no longer for sale (or cannot be found).

    KrosAI has no lookup by inventory id, so the search that showed the offer is run again from
    where it was shown, then narrowed by type and area code from the start.
    """
    q = offer.query
    searches = [(q.get("type"), q.get("area_code"), int(q.get("offset") or 0))]
    searches += [(offer.type, offer.area_code, page * 100) for page in range(_REFRESH_PAGES)]
    for number_type, area_code, offset in searches:
        result = await client.search_available(
            offer.country, type=number_type, area_code=area_code, limit=100, offset=offset or None
        )
        for item in result.items:
            if item.id == offer.inventory_id:
                return offer_from(item, offer.country, offer.query, offer.currency)
    return None
