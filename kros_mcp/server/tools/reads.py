"""The read tools: owned numbers and numbers for sale. Free, and safe to repeat."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from ...krosai import KrosAIError
from ..context import deps_of, resolve_number_id
from ..errors import to_tool_error
from ..models import (
    NumberDetail,
    NumberList,
    NumberSummary,
    Offer,
    OfferList,
)
from ..quotes import offer_from
from ._params import Country, NumberId, NumberType

__all__ = ["get_number", "list_numbers", "search_available"]


async def list_numbers(
    ctx: Context,
    status: Literal["active", "pending", "suspended", "porting", "inactive"] | None = None,
    country: Annotated[str | None, Field(pattern=r"^[A-Za-z]{2}$", description="ISO code")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> NumberList:
    """The organisation's phone numbers: status, endpoint, monthly cost. Free.
    Text: shared values, then CSV; - = none."""
    deps = deps_of(ctx)
    try:
        page = await deps.client.list_numbers(
            status=status,
            country=country.upper() if country else None,
            limit=limit,
            offset=offset,
        )
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc
    seen = offset + len(page.items)
    # Without a total (KrosAI may omit it), a full page means there may be more.
    more = bool(page.items) and (
        seen < page.total if page.total is not None else len(page.items) >= limit
    )
    return NumberList(
        numbers=[NumberSummary.of(n) for n in page.items],
        total=page.total,
        next_offset=seen if more else None,
    )


async def get_number(ctx: Context, number_id: NumberId) -> NumberDetail:
    """One owned number in full: endpoint, call flags, SIP URI, cost. Free."""
    deps = deps_of(ctx)
    try:
        return NumberDetail.of(
            await deps.client.get_number(await resolve_number_id(deps, number_id))
        )
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc


async def search_available(
    ctx: Context,
    country: Country,
    type: NumberType | None = None,
    area_code: Annotated[str | None, Field(pattern=r"^0?\d{1,5}$", description="e.g. 803")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
    max_monthly_cost_cents: Annotated[int | None, Field(ge=0)] = None,
) -> OfferList:
    """Numbers for sale: setup and monthly cost in cents. Free. Buy with purchase_number
    (dry_run=true first). Text as list_numbers."""
    deps = deps_of(ctx)
    country = country.upper()
    fetch = 100 if max_monthly_cost_cents is not None else limit
    try:
        page = await deps.client.search_available(
            country, type=type, area_code=area_code, limit=fetch
        )
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc
    items = [
        i
        for i in page.items
        if max_monthly_cost_cents is None or (i.monthly_cost_cents or 0) <= max_monthly_cost_cents
    ][:limit]
    query = {"type": type, "area_code": area_code, "offset": 0}
    await deps.store.remember_offers(
        deps.tenant, [offer_from(i, country, query) for i in items], deps.settings.offer_ttl
    )
    return OfferList(offers=[Offer.of(i) for i in items], total=page.total)
