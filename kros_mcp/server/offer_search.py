"""Searching the inventory page by page, with the filters KrosAI lacks applied here.

KrosAI filters by country, type and area code. Capability, digits and the monthly price are
filtered by this server on the pages it reads: at most MAX_PAGES of PAGE_SIZE offers per call,
starting at the caller's offset. The result says how far it read and where to go on, so paging
is exact (no offer skipped or shown twice) and counts are never passed off as KrosAI's total.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..krosai import AvailableNumber, KrosAIClient

__all__ = ["MAX_PAGES", "PAGE_SIZE", "OfferFilter", "SearchPage", "search_offers"]

PAGE_SIZE = 100
MAX_PAGES = 5


@dataclass(frozen=True)
class OfferFilter:
    """The filters applied by this server (all None: none)."""

    capability: str | None = None
    contains: str | None = None
    starts_with: str | None = None
    max_monthly_cost_cents: int | None = None

    @property
    def active(self) -> list[str]:
        """The filters in use, by their tool parameter names."""
        used = [
            ("capability", self.capability),
            ("digits", self.contains or self.starts_with),
            ("max_monthly_cost_cents", self.max_monthly_cost_cents),
        ]
        return [name for name, value in used if value is not None]

    def accepts(self, item: AvailableNumber, calling_code: str) -> bool:
        if self.capability is not None and not item.capabilities.get(self.capability):
            return False
        if self.max_monthly_cost_cents is not None and (
            item.monthly_cost_cents is None or item.monthly_cost_cents > self.max_monthly_cost_cents
        ):
            return False
        digits = "".join(ch for ch in item.number if ch.isdigit())
        national = digits[len(calling_code) :] if digits.startswith(calling_code) else digits
        if self.contains is not None and self.contains not in digits:
            return False
        if self.starts_with is not None:
            prefix = self.starts_with.lstrip("+")
            # E.164 digits (2348...) or the national number with or without its trunk 0 (0803, 803).
            if not (digits.startswith(prefix) or national.startswith(prefix.removeprefix("0"))):
                return False
        return True


@dataclass
class SearchPage:
    items: list[AvailableNumber]
    # The KrosAI offset of the page each item came from (to check its price again later).
    page_offsets: list[int] = field(default_factory=list)
    total: int | None = None  # KrosAI's count for the query it filtered
    next_offset: int | None = None
    scanned: int = 0
    currency: str | None = None


async def search_offers(
    client: KrosAIClient,
    country: str,
    *,
    type: str | None,
    area_code: str | None,
    limit: int,
    offset: int,
    where: OfferFilter,
    calling_code: Callable[[str], str],
) -> SearchPage:
    """Up to `limit` offers from `offset` on that pass `where`, reading at most MAX_PAGES pages."""
    code = calling_code(country)
    filtering = bool(where.active)
    size = PAGE_SIZE if filtering else limit
    page = SearchPage(items=[])
    position = offset
    for _ in range(MAX_PAGES if filtering else 1):
        found = await client.search_available(
            country, type=type, area_code=area_code, limit=size, offset=position or None
        )
        page.total = found.total
        page.currency = page.currency or found.currency
        for index, item in enumerate(found.items):
            if len(page.items) == limit:
                # Stop mid-page: the next call starts at the first offer not looked at.
                page.next_offset = position + index
                return page
            page.scanned += 1
            if where.accepts(item, code):
                page.items.append(item)
                page.page_offsets.append(position)
        position += len(found.items)
        exhausted = (
            not found.items
            or (found.total is not None and position >= found.total)
            or (found.total is None and len(found.items) < size)
        )
        if exhausted:
            return page
        if len(page.items) == limit:
            break
    page.next_offset = position
    return page
