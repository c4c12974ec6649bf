"""What the app-only tools return to the view: offers with policy verdicts, quotes, previews.

These go to the view, not to the model (a host keeps app-only tool results out of the model's
context), so they carry what a person needs to decide: every amount with its currency, and the
operator's verdicts in words.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..models import NumberDetail

__all__ = [
    "AppActions",
    "AppContext",
    "AppOffer",
    "BuyOutcome",
    "OfferPage",
    "PurchaseQuote",
    "ReleaseOutcome",
    "ReleaseQuote",
    "Verdict",
]


class Verdict(BaseModel):
    """One rule of the operator's policy applied to one action."""

    code: str  # POLICY_OK, BUDGET_EXCEEDED, COUNTRY_NOT_ALLOWED, NUMBER_PROTECTED, ...
    rule: str  # the setting behind it, e.g. KROS_MCP_DAILY_BUDGET_CENTS
    allowed: bool
    label: str  # for the person: "Over your daily budget: 2.00 USD left of 50.00 USD"


class AppActions(BaseModel):
    """What the operator lets the view do (the write tools that are enabled)."""

    buy: bool
    route: bool
    release: bool


class AppContext(BaseModel):
    currency: str
    backend: Literal["sandbox", "krosai"]
    actions: AppActions
    daily_budget_cents: int | None = None
    spent_24h_cents: int | None = None
    max_monthly_cost_cents: int | None = None
    allowed_countries: list[str] | None = None
    quote_ttl_seconds: int


class AppOffer(BaseModel):
    inventory_id: str
    number: str
    country: str
    type: str | None = None
    area_code: str | None = None
    setup_cost_cents: int
    monthly_cost_cents: int
    first_charge_cents: int
    capabilities: list[str]
    buyable: bool  # every policy rule allows it (KYC and balance are KrosAI's to check)
    refusals: list[Verdict] = Field(default_factory=list)


class OfferPage(BaseModel):
    offers: list[AppOffer]
    currency: str
    offset: int
    next_offset: int | None = None  # where the next page of matches starts; None on the last
    total: int | None = None  # numbers for sale before the filters, as KrosAI counts them
    filtered: bool  # capability or price filters were applied by this server


class PurchaseQuote(BaseModel):
    """Exactly what a Buy click agrees to: the number, both prices and the routing."""

    inventory_id: str
    number: str
    country: str
    type: str | None = None
    setup_cost_cents: int
    monthly_cost_cents: int
    first_charge_cents: int
    currency: str
    endpoint_id: str | None = None
    allow_inbound: bool
    allow_outbound: bool
    plan: list[str]
    buyable: bool
    refusals: list[Verdict] = Field(default_factory=list)
    expires_at: str | None = None  # when the Buy button stops working (no proof: None)
    previous_setup_cost_cents: int | None = None  # set when the price moved since it was shown
    previous_monthly_cost_cents: int | None = None


class BuyOutcome(BaseModel):
    status: Literal["purchased", "price_changed"]
    executed: bool
    message: str
    quote: PurchaseQuote
    number: NumberDetail | None = None


class ReleaseQuote(BaseModel):
    """Exactly what a Release click agrees to, and what stops working."""

    number_id: str
    number: str
    status: str
    endpoint_id: str | None = None
    monthly_cost_cents: int | None = None
    currency: str
    effects: list[str]
    releasable: bool
    refusals: list[Verdict] = Field(default_factory=list)
    expires_at: str | None = None


class ReleaseOutcome(BaseModel):
    status: Literal["released"]
    executed: bool
    message: str
    number_id: str
    number: str
