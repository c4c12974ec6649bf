"""The view's reads: what it may do here, and offers with the operator's verdicts on each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ...krosai import AvailableNumber, KrosAIClient, KrosAIError
from ...store import StoredOffer, StoreError
from ..context import deps_of
from ..deps import Deps
from ..errors import to_tool_error
from ..quotes import offer_from
from ..tools._params import Country, NumberType
from ._adapter import purchase_verdicts, spent_today
from .common import app_result, person_verdicts, require_app_client
from .models import AppActions, AppContext, AppOffer, OfferPage

__all__ = ["app_context", "app_offers"]

_PAGE = 100  # KrosAI's largest page
_MAX_PAGES = 3  # pages read per call when this server filters (KrosAI has no such filters)


async def app_context(ctx: Context) -> Annotated[CallToolResult, AppContext]:
    """For the kros-mcp app: the actions the operator allows, the budget and the currency."""
    require_app_client(ctx, "app_context")
    deps = deps_of(ctx)
    enabled = {
        name: deps.policy.tool_enabled(name, write=True).allowed
        for name in ("purchase_number", "update_routing", "release_number")
    }
    try:
        spent = await spent_today(deps) if deps.policy.daily_budget_cents is not None else None
    except StoreError as exc:
        raise to_tool_error(exc) from exc
    countries = deps.policy.allowed_countries
    context = AppContext(
        currency=deps.settings.currency,
        backend=deps.backend,
        actions=AppActions(
            buy=enabled["purchase_number"],
            route=enabled["update_routing"],
            release=enabled["release_number"],
        ),
        daily_budget_cents=deps.policy.daily_budget_cents,
        spent_24h_cents=spent,
        max_monthly_cost_cents=deps.policy.max_monthly_cost_cents,
        allowed_countries=sorted(countries) if countries is not None else None,
        quote_ttl_seconds=int(deps.tokens.ttl_seconds),
    )
    return app_result(context, f"kros-mcp app ({deps.backend}), amounts in {context.currency}.")


async def app_offers(
    ctx: Context,
    country: Country,
    type: NumberType | None = None,
    area_code: Annotated[str | None, Field(pattern=r"^0?\d{1,5}$")] = None,
    capability: Literal["voice", "sms"] | None = None,
    max_setup_cost_cents: Annotated[int | None, Field(ge=0)] = None,
    max_monthly_cost_cents: Annotated[int | None, Field(ge=0)] = None,
    offset: Annotated[int, Field(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
) -> Annotated[CallToolResult, OfferPage]:
    """For the kros-mcp app: one page of offers, filtered, each with the operator's verdicts."""
    require_app_client(ctx, "app_offers")
    deps = deps_of(ctx)
    country = country.upper()
    currency = deps.settings.currency  # KrosAI states none; an offer that does keeps its own

    def keep(item: AvailableNumber) -> bool:
        setup, monthly = item.setup_cost_cents or 0, item.monthly_cost_cents or 0
        return (
            (capability is None or bool(item.capabilities.get(capability)))
            and (max_setup_cost_cents is None or setup <= max_setup_cost_cents)
            and (max_monthly_cost_cents is None or monthly <= max_monthly_cost_cents)
        )

    filtered = capability is not None or (max_setup_cost_cents, max_monthly_cost_cents) != (
        None,
        None,
    )
    try:
        found, next_offset, total = await _scan(
            deps.client, country, type, area_code, offset, limit, keep if filtered else None
        )
        offers = [offer_from(item, country, query, currency) for item, query in found]
        await deps.store.remember_offers(deps.tenant, offers, deps.settings.offer_ttl)
        spent = await spent_today(deps)
    except (KrosAIError, StoreError) as exc:
        raise to_tool_error(exc) from exc
    shown = [_with_verdicts(deps, offer, spent) for offer in offers]
    page = OfferPage(
        offers=shown,
        currency=_page_currency(offers, currency),
        offset=offset,
        next_offset=next_offset,
        total=total,
        filtered=filtered,
    )
    return app_result(page, f"{len(shown)} offers in {country} shown in the kros-mcp app.")


def _page_currency(offers: list[StoredOffer], default: str) -> str:
    stated = {offer.currency for offer in offers}
    return stated.pop() if len(stated) == 1 else default


def _with_verdicts(deps: Deps, offer: StoredOffer, spent_24h_cents: int) -> AppOffer:
    refusals = person_verdicts(
        deps, purchase_verdicts(deps, offer, spent_24h_cents), spent_24h_cents
    )
    return AppOffer(
        inventory_id=offer.inventory_id,
        number=offer.number,
        country=offer.country,
        type=offer.type,
        area_code=offer.area_code,
        setup_cost_cents=offer.setup_cost_cents,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        capabilities=list(offer.capabilities),
        buyable=not refusals,
        refusals=refusals,
    )


async def _scan(
    client: KrosAIClient,
    country: str,
    number_type: str | None,
    area_code: str | None,
    offset: int,
    limit: int,
    keep: Callable[[AvailableNumber], bool] | None,
) -> tuple[list[tuple[AvailableNumber, dict[str, object]]], int | None, int | None]:
    """Matches from KrosAI's pages starting at `offset`, each with the search that found it (to
    price it again before buying); where the next page of matches starts; KrosAI's total."""
    found: list[tuple[AvailableNumber, dict[str, object]]] = []
    position, total = offset, None
    size = _PAGE if keep is not None else limit
    for _ in range(_MAX_PAGES if keep is not None else 1):
        page = await client.search_available(
            country, type=number_type, area_code=area_code, limit=size, offset=position or None
        )
        total = page.total
        query: dict[str, object] = {"type": number_type, "area_code": area_code, "offset": position}
        for index, item in enumerate(page.items):
            if keep is None or keep(item):
                found.append((item, query))
                if len(found) == limit:
                    after = position + index + 1
                    more = total is None or after < total
                    return found, after if more else None, total
        position += len(page.items)
        if len(page.items) < size or (total is not None and position >= total):
            return found, None, total
    return found, position, total
