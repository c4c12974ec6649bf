"""The read tools: owned numbers and numbers for sale. Free, and safe to repeat."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from ...krosai import KrosAIError, PhoneNumber
from ..context import deps_of, resolve_number_id
from ..errors import to_tool_error
from ..models import (
    NumberDetail,
    NumberList,
    NumberSummary,
    Offer,
    OfferList,
)
from ..offer_search import MAX_PAGES, PAGE_SIZE, OfferFilter, SearchPage, search_offers
from ..quotes import offer_from
from ._params import Country, NumberId, NumberType

__all__ = ["get_number", "list_numbers", "search_available"]


async def list_numbers(
    ctx: Context,
    status: Literal["active", "pending", "suspended", "porting", "inactive"] | None = None,
    country: Annotated[str | None, Field(pattern=r"^[A-Za-z]{2}$")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> NumberList:
    """Owned numbers. Free. Text: shared values, then CSV; - = none."""
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
        currency=_currency(page.items, deps.settings.currency),
    )


def _currency(numbers: list[PhoneNumber], default: str) -> str:
    stated = {n.currency for n in numbers if n.currency}
    return stated.pop() if len(stated) == 1 else default


async def get_number(ctx: Context, number_id: NumberId) -> NumberDetail:
    """An owned number in full. Free."""
    deps = deps_of(ctx)
    try:
        number = await deps.client.get_number(await resolve_number_id(deps, number_id))
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc
    detail = NumberDetail.of(number)
    detail.currency = detail.currency or deps.settings.currency
    return detail


async def search_available(
    ctx: Context,
    country: Country,
    type: NumberType | None = None,
    area_code: Annotated[str | None, Field(pattern=r"^0?\d{1,5}$")] = None,
    capability: Literal["voice", "sms"] | None = None,
    digits: Annotated[
        str | None, Field(pattern=r"^\+?\d{1,15}\*?$", description="555, or 803* (prefix)")
    ] = None,
    max_monthly_cost_cents: Annotated[int | None, Field(ge=0)] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> OfferList:
    """Numbers for sale. Free. Text as list_numbers."""
    deps = deps_of(ctx)
    country = country.upper()
    prefix = digits.rstrip("*") if digits and digits.endswith("*") else None
    where = OfferFilter(capability, None if prefix else digits, prefix, max_monthly_cost_cents)
    try:
        page = await search_offers(
            deps.client,
            country,
            type=type,
            area_code=area_code,
            limit=limit,
            offset=offset,
            where=where,
            calling_code=calling_code,
        )
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc
    currency = page.currency or deps.settings.currency
    shown = [
        offer_from(i, country, {"type": type, "area_code": area_code, "offset": at}, currency)
        for i, at in zip(page.items, page.page_offsets, strict=True)
    ]
    await deps.store.remember_offers(deps.tenant, shown, deps.settings.offer_ttl)
    return OfferList(
        offers=[Offer.of(offer) for offer in shown],
        total=None if where.active else page.total,
        next_offset=page.next_offset,
        note=filter_note(where, offset, page) if where.active else None,
        currency=currency,
    )


def calling_code(country: str) -> str:
    """The country calling code, e.g. 234 for NG (empty when unknown)."""
    import phonenumbers

    code = phonenumbers.country_code_for_region(country)
    return str(code) if code else ""


def filter_note(where: OfferFilter, offset: int, page: SearchPage) -> str:
    read_to = offset + page.scanned
    of = f" of {page.total:,}" if page.total is not None else ""
    more = (
        f" More may match: search again with offset={page.next_offset}."
        if page.next_offset is not None
        else " No more offers."
    )
    return (
        f"{', '.join(where.active)} filtered by this server (KrosAI cannot): read offers "
        f"{offset:,}-{max(read_to - 1, offset):,}{of} (at most {MAX_PAGES * PAGE_SIZE} a call), "
        f"{len(page.items)} matched.{more}"
    )
