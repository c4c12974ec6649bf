"""What the tools return: compact, typed, and the same shape every time (output schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..krosai import Endpoint as KrosEndpoint
from ..krosai import PhoneNumber
from ..safety.text import ENDPOINT_ID_ARGUMENT, INVENTORY_ID_ARGUMENT, clean_text
from ..store import StoredOffer

__all__ = [
    "Endpoint",
    "EndpointId",
    "EndpointInfo",
    "EndpointList",
    "InventoryId",
    "NumberDetail",
    "NumberList",
    "NumberSummary",
    "Offer",
    "OfferList",
    "PurchaseResult",
    "Quote",
    "ReleaseResult",
    "Routing",
    "RoutingResult",
]


# Ids the model passes in: exactly an id of the kind, nothing else (they reach the person's
# confirmation question and the audit trail).
# The patterns bound the length too.
EndpointId = Annotated[str, Field(pattern=ENDPOINT_ID_ARGUMENT)]
InventoryId = Annotated[str, Field(pattern=INVENTORY_ID_ARGUMENT)]


class _Out(BaseModel):
    """A tool result: fields without a value are left out, not sent as null (fewer tokens).

    Dumps leave them out by default; a model_serializer would do the same but cost a Python call
    per nested model on every dump (results.tool_result dumps with exclude_none as well).
    Validators are built on first use rather than at import (start-up time)."""

    model_config = ConfigDict(defer_build=True)

    def model_dump(self, *, exclude_none: bool = True, **options: Any) -> dict[str, Any]:
        return super().model_dump(exclude_none=exclude_none, **options)

    def model_dump_json(self, *, exclude_none: bool = True, **options: Any) -> str:
        return super().model_dump_json(exclude_none=exclude_none, **options)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def call_directions(inbound: bool | None, outbound: bool | None) -> str | None:
    """Which calls a number takes, in one short word: in+out, in, out or none."""
    if inbound is None and outbound is None:
        return None
    return {(True, True): "in+out", (True, False): "in", (False, True): "out"}.get(
        (bool(inbound), bool(outbound)), "none"
    )


class NumberSummary(_Out):
    id: str
    number: str
    country: str | None = None
    type: str | None = None
    status: str
    endpoint_id: str | None = None
    calls: str | None = Field(None, description="in+out, in, out or none")
    monthly_cost_cents: int | None = None
    updated_at: str | None = None

    @classmethod
    def of(cls, n: PhoneNumber) -> NumberSummary:
        return cls(
            id=n.id,
            number=n.number,
            country=n.country,
            type=n.type,
            status=clean_text(n.status, limit=40) or "",
            endpoint_id=n.endpoint_id,
            calls=call_directions(n.allow_inbound, n.allow_outbound),
            monthly_cost_cents=n.monthly_cost_cents,
            updated_at=_iso(n.updated_at),
        )


class NumberList(_Out):
    numbers: list[NumberSummary]
    total: int | None = None
    next_offset: int | None = None  # absent on the last page
    currency: str | None = None


class EndpointInfo(_Out):
    id: str
    name: str | None = None
    type: str | None = None
    provider: str | None = None
    status: str | None = None

    @classmethod
    def of(cls, e: KrosEndpoint) -> EndpointInfo:
        return cls(
            id=e.id,
            name=clean_text(e.name, limit=100),
            type=clean_text(e.type, limit=40),
            provider=clean_text(e.provider, limit=40),
            status=clean_text(e.status, limit=40),
        )


class EndpointList(_Out):
    endpoints: list[EndpointInfo]
    total: int | None = None


class Endpoint(_Out):
    id: str
    name: str | None = None
    type: str | None = None
    provider: str | None = None


class NumberDetail(_Out):
    id: str
    number: str
    country: str | None = None
    type: str | None = None
    status: str
    endpoint: Endpoint | None = None
    allow_inbound: bool | None = None
    allow_outbound: bool | None = None
    monthly_cost_cents: int | None = None
    sip_uri: str | None = None
    sip_username: str | None = None  # the SIP password is never shown
    created_at: str | None = None
    updated_at: str | None = None
    currency: str | None = None

    @classmethod
    def of(cls, n: PhoneNumber) -> NumberDetail:
        endpoint = None
        if n.endpoint is not None:
            endpoint = Endpoint(
                id=n.endpoint.id,
                name=clean_text(n.endpoint.name, limit=100),
                type=clean_text(n.endpoint.type, limit=40),
                provider=clean_text(n.endpoint.provider, limit=40),
            )
        elif n.endpoint_id:
            endpoint = Endpoint(id=n.endpoint_id)
        username = (n.sip_credentials or {}).get("username")
        return cls(
            id=n.id,
            number=n.number,
            country=n.country,
            type=n.type,
            status=clean_text(n.status, limit=40) or "",
            endpoint=endpoint,
            allow_inbound=n.allow_inbound,
            allow_outbound=n.allow_outbound,
            monthly_cost_cents=n.monthly_cost_cents,
            sip_uri=clean_text(n.sip_uri, limit=200),
            sip_username=clean_text(username, limit=100) if isinstance(username, str) else None,
            created_at=n.created_at.isoformat().replace("+00:00", "Z") if n.created_at else None,
            updated_at=_iso(n.updated_at),
            currency=n.currency,
        )


class Offer(_Out):
    inventory_id: str
    number: str
    country: str | None = None
    type: str | None = None
    area_code: str | None = None
    setup_cost_cents: int
    monthly_cost_cents: int
    first_charge_cents: int = Field(description="setup + first month")
    capabilities: list[str]

    @classmethod
    def of(cls, offer: StoredOffer) -> Offer:
        """The offer as shown: exactly the one remembered for pricing a purchase."""
        return cls(
            inventory_id=offer.inventory_id,
            number=offer.number,
            country=offer.country,
            type=offer.type,
            area_code=offer.area_code,
            setup_cost_cents=offer.setup_cost_cents,
            monthly_cost_cents=offer.monthly_cost_cents,
            first_charge_cents=offer.first_charge_cents,
            capabilities=list(offer.capabilities),
        )


class OfferList(_Out):
    offers: list[Offer]
    total: int | None = None  # KrosAI's count; absent when this server filtered (see note)
    next_offset: int | None = None
    note: str | None = None
    currency: str | None = None


class Quote(_Out):
    inventory_id: str
    number: str
    country: str
    type: str | None = None
    setup_cost_cents: int
    monthly_cost_cents: int
    first_charge_cents: int = Field(description="Debited now: setup plus the first month")
    currency: str | None = None

    @classmethod
    def of(cls, offer: StoredOffer) -> Quote:
        return cls(
            currency=offer.currency,
            inventory_id=offer.inventory_id,
            number=offer.number,
            country=offer.country,
            type=offer.type,
            setup_cost_cents=offer.setup_cost_cents,
            monthly_cost_cents=offer.monthly_cost_cents,
            first_charge_cents=offer.first_charge_cents,
        )


PurchaseStatus = Literal[
    "dry_run", "confirmation_required", "declined", "price_changed", "purchased"
]
RoutingStatus = Literal["dry_run", "updated"]
ReleaseStatus = Literal["dry_run", "confirmation_required", "declined", "released"]


class PurchaseResult(_Out):
    status: PurchaseStatus
    executed: bool  # True only if the number was bought
    message: str
    quote: Quote
    plan: list[str] = Field(default_factory=list)
    confirmation_token: str | None = None
    token_expires_at: str | None = None
    number: NumberDetail | None = None


class Routing(_Out):
    endpoint_id: str | None = None
    allow_inbound: bool | None = None
    allow_outbound: bool | None = None


class RoutingResult(_Out):
    status: RoutingStatus
    executed: bool
    message: str
    number_id: str
    number: str
    before: Routing
    after: Routing
    effects: list[str] = Field(default_factory=list)


class ReleaseResult(_Out):
    status: ReleaseStatus
    executed: bool  # True only if the number was released
    message: str
    number_id: str
    number: str
    plan: list[str] = Field(default_factory=list)
    confirmation_token: str | None = None
    token_expires_at: str | None = None
