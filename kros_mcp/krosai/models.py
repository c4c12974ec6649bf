"""Pydantic models for KrosAI phone-number resources.

KrosAI publishes several shapes for the same objects (see ARCHITECTURE.md): `number` or `e164`,
snake_case or camelCase costs, list wrappers `phone_numbers`, `data` or a bare list. These models
accept all of them, normalise to one spelling, and keep unknown fields (in `model_extra`).

What names a thing is checked against its pattern (formats.py): ids, phone numbers (normalised to
E.164), countries, types, area codes, capability names. A value that fails is a malformed answer,
never passed on. Free text (names, statuses, messages) is kept as sent; whoever shows it cleans it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from .formats import COUNTRY, CURRENCY, ENDPOINT_ID, INVENTORY_ID, NUMBER_ID, WORD, matches
from .numbers import e164

__all__ = [
    "KNOWN_NUMBER_STATUSES",
    "NUMBER_TYPES",
    "AvailableNumber",
    "AvailableNumberPage",
    "Endpoint",
    "EndpointPage",
    "EndpointSummary",
    "NumberType",
    "PhoneNumber",
    "PhoneNumberPage",
    "PurchaseReceipt",
    "ReleaseResult",
]

NumberType = Literal["local", "mobile", "toll_free"]
NUMBER_TYPES: tuple[str, ...] = ("local", "mobile", "toll_free")
# Statuses from the guide and the OpenAPI spec; others are passed through unchanged.
KNOWN_NUMBER_STATUSES: tuple[str, ...] = ("active", "pending", "suspended", "porting", "inactive")


def _aliases(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def _whole(pattern: str) -> StringConstraints:
    """A string that must match `pattern` whole, checked inside pydantic-core while the answer is
    parsed (Rust regex: the patterns are ASCII-only, and its `$` never admits a trailing
    newline, unlike Python's)."""
    return StringConstraints(pattern=f"^(?:{pattern})$")


def _phone_number(value: Any) -> Any:
    normalised = e164(value, valid=False) if isinstance(value, str) else None
    if normalised is None:
        raise ValueError("not an international phone number")
    return normalised


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _area_code(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# Annotated left to right: the pattern is checked after the before-validator's change of case.
_NumberId = Annotated[str, _whole(NUMBER_ID)]
_InventoryId = Annotated[str, _whole(INVENTORY_ID)]
_EndpointId = Annotated[str, _whole(ENDPOINT_ID)]
_Phone = Annotated[str, BeforeValidator(_phone_number)]
_Country = Annotated[str, _whole(COUNTRY), BeforeValidator(_upper)]
_Currency = Annotated[str, _whole(CURRENCY), BeforeValidator(_upper)]
_Word = Annotated[str, _whole(WORD), BeforeValidator(_lower)]
_AreaCode = Annotated[str, _whole(r"[0-9]{1,8}"), BeforeValidator(_area_code)]


class _Model(BaseModel):
    # defer_build: validators are built on first use, not while the server starts.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)


class EndpointSummary(_Model):
    """The endpoint a number routes calls to, as embedded in a number's detail view."""

    id: _EndpointId
    name: str | None = None
    type: str | None = None
    provider: str | None = None
    url: str | None = None
    status: str | None = None


# KrosAI states no currency (its documents say only "cents"); if it ever does, it is kept: an
# ISO 4217 code, since it is written into the person's confirmation question beside the amount.
_CURRENCY = Field(
    default=None, validation_alias=_aliases("currency", "currency_code", "currencyCode")
)


class Endpoint(_Model):
    """Where calls to a number can be routed: a voice-agent provider, a webhook or SIP.

    A webhook endpoint may carry its signing secret (`secret`): kept out of reprs, never shown.
    """

    id: str
    name: str | None = None
    type: str | None = None
    status: str | None = None
    url: str | None = Field(default=None, repr=False)
    provider_config: dict[str, Any] | None = Field(
        default=None, repr=False, validation_alias=_aliases("provider_config", "providerConfig")
    )
    created_at: datetime | None = Field(
        default=None, validation_alias=_aliases("created_at", "createdAt")
    )
    updated_at: datetime | None = Field(
        default=None, validation_alias=_aliases("updated_at", "updatedAt")
    )

    @property
    def provider(self) -> str | None:
        provider = (self.provider_config or {}).get("provider")
        return provider if isinstance(provider, str) else None

    def __repr_args__(self) -> Any:
        # Unknown fields (a webhook's `secret`) are left out of the repr.
        return [(k, v) for k, v in super().__repr_args__() if k in type(self).model_fields]


class EndpointPage(_Model):
    """One page of endpoints."""

    items: list[Endpoint]
    total: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        return _wrap_list(data, ("endpoints", "data", "results"))


class PhoneNumber(_Model):
    """A phone number the organisation owns."""

    id: _NumberId
    number: _Phone = Field(
        validation_alias=_aliases("number", "e164", "phone_number", "phoneNumber")
    )
    country: _Country | None = None
    type: _Word | None = None
    status: str = "active"
    endpoint_id: _EndpointId | None = Field(
        default=None, validation_alias=_aliases("endpoint_id", "endpointId")
    )
    endpoint: EndpointSummary | None = None
    allow_inbound: bool | None = Field(
        default=None, validation_alias=_aliases("allow_inbound", "allowInbound")
    )
    allow_outbound: bool | None = Field(
        default=None, validation_alias=_aliases("allow_outbound", "allowOutbound")
    )
    setup_cost_cents: int | None = Field(
        default=None, validation_alias=_aliases("setup_cost_cents", "setupCostCents")
    )
    monthly_cost_cents: int | None = Field(
        default=None, validation_alias=_aliases("monthly_cost_cents", "monthlyCostCents")
    )
    total_cost_cents: int | None = Field(
        default=None, validation_alias=_aliases("total_cost_cents", "totalCostCents")
    )
    inventory_id: _InventoryId | None = Field(
        default=None, validation_alias=_aliases("inventory_id", "inventoryId")
    )
    sip_uri: str | None = Field(default=None, validation_alias=_aliases("sip_uri", "sipUri"))
    # May hold a SIP password: kept out of reprs.
    sip_credentials: dict[str, Any] | None = Field(
        default=None, repr=False, validation_alias=_aliases("sip_credentials", "sipCredentials")
    )
    created_at: datetime | None = Field(
        default=None, validation_alias=_aliases("created_at", "createdAt")
    )
    updated_at: datetime | None = Field(
        default=None, validation_alias=_aliases("updated_at", "updatedAt")
    )
    currency: _Currency | None = _CURRENCY

    @property
    def is_known_status(self) -> bool:
        return self.status in KNOWN_NUMBER_STATUSES


class AvailableNumber(_Model):
    """A number in the inventory that can be bought."""

    id: _InventoryId = Field(validation_alias=_aliases("id", "inventory_id", "inventoryId"))
    number: _Phone = Field(
        validation_alias=_aliases("number", "e164", "phone_number", "phoneNumber")
    )
    country: _Country | None = None
    type: _Word | None = None
    area_code: _AreaCode | None = Field(
        default=None, validation_alias=_aliases("area_code", "areaCode")
    )
    setup_cost_cents: int | None = Field(
        default=None, validation_alias=_aliases("setup_cost_cents", "setupCostCents")
    )
    monthly_cost_cents: int | None = Field(
        default=None, validation_alias=_aliases("monthly_cost_cents", "monthlyCostCents")
    )
    capabilities: dict[str, bool] = Field(default_factory=dict)
    currency: _Currency | None = _CURRENCY

    @field_validator("capabilities", mode="before")
    @classmethod
    def _capabilities(cls, value: Any) -> Any:
        # Capability names are shown as they are: any that is not a plain word is left out.
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if matches(WORD, k)}
        return value

    @property
    def first_charge_cents(self) -> int | None:
        """Setup plus the first month: what a purchase debits."""
        if self.setup_cost_cents is None or self.monthly_cost_cents is None:
            return None
        return self.setup_cost_cents + self.monthly_cost_cents


def _wrap_list(data: Any, keys: tuple[str, ...]) -> Any:
    """Accept a bare list or any of the published wrapper keys, as `items`."""
    if isinstance(data, list):
        return {"items": data}
    if isinstance(data, dict) and "items" not in data:
        for key in keys:
            if isinstance(data.get(key), list):
                return {**{k: v for k, v in data.items() if k != key}, "items": data[key]}
    return data


class PhoneNumberPage(_Model):
    """One page of owned numbers."""

    items: list[PhoneNumber]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        return _wrap_list(data, ("phone_numbers", "phoneNumbers", "data", "numbers", "results"))


class AvailableNumberPage(_Model):
    """Numbers available for purchase matching a search."""

    items: list[AvailableNumber]
    total: int | None = None
    currency: _Currency | None = _CURRENCY

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        return _wrap_list(
            data,
            (
                "available_numbers",
                "availableNumbers",
                "data",
                "numbers",
                "phone_numbers",
                "results",
            ),
        )


class PurchaseReceipt(_Model):
    """The outcome of a purchase that went through."""

    number: PhoneNumber
    idempotency_key: str
    # True when the API's answer was lost and the number was found among owned numbers instead.
    reconciled: bool = False
    attempts: int = 1


class ReleaseResult(_Model):
    """The outcome of releasing a number."""

    number_id: str
    success: bool = True
    message: str | None = None
    # True when an earlier attempt's answer was lost and a retry found the number already gone.
    confirmed_by_retry: bool = False
