"""Offers shown to the model, and checking a quoted price again just before buying."""

from __future__ import annotations

from typing import Any

from ..krosai import AvailableNumber, KrosAIClient
from ..store import StoredOffer

__all__ = ["offer_from", "refresh_offer"]

_REFRESH_PAGES = 3


def offer_from(item: AvailableNumber, country: str, query: dict[str, Any]) -> StoredOffer:
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
                return offer_from(item, offer.country, offer.query)
    return None
