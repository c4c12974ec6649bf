"""Models accept every published shape of KrosAI's objects and lists."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from kros_mcp.krosai import (
    APIError,
    AvailableNumber,
    AvailableNumberPage,
    PhoneNumber,
    PhoneNumberPage,
    ResponseFormatError,
)

from .fakes import Scripted, make_client, number_json

SIP_SECRET = "sip-pa55word-XYZ"


def test_phone_number_accepts_e164_instead_of_number() -> None:
    """`e164` is read as the number."""
    number = PhoneNumber.model_validate({"id": "pn_1", "e164": "+14155550100"})
    assert number.number == "+14155550100"
    assert "e164" not in (number.model_extra or {})


@pytest.mark.parametrize("key", ["number", "e164", "phone_number", "phoneNumber"])
def test_phone_number_spellings(key: str) -> None:
    """Every published spelling of the number field lands in `number`."""
    assert (
        PhoneNumber.model_validate({"id": "pn_1", key: "+442071234567"}).number == "+442071234567"
    )


def test_phone_number_camel_case_fields() -> None:
    """camelCase costs and routing fields normalise to snake_case attributes."""
    number = PhoneNumber.model_validate(
        {
            "id": "pn_1",
            "number": "+14155550100",
            "setupCostCents": 100,
            "monthlyCostCents": 115,
            "totalCostCents": 215,
            "endpointId": "ep_9",
            "allowInbound": True,
            "allowOutbound": False,
            "inventoryId": "inv_7",
            "sipUri": "sip:+14155550100@sip.krosai.test",
            "createdAt": "2025-01-02T03:04:05Z",
        }
    )
    assert (number.setup_cost_cents, number.monthly_cost_cents, number.total_cost_cents) == (
        100,
        115,
        215,
    )
    assert (number.endpoint_id, number.allow_inbound, number.allow_outbound) == (
        "ep_9",
        True,
        False,
    )
    assert number.inventory_id == "inv_7"
    assert number.sip_uri == "sip:+14155550100@sip.krosai.test"
    assert number.created_at is not None and number.created_at.year == 2025
    assert not number.model_extra


def test_phone_number_snake_case_fields() -> None:
    """The snake_case spelling from the OpenAPI spec is read as well."""
    number = PhoneNumber.model_validate(
        number_json(monthly_cost_cents=115, endpoint_id="ep_1", allow_inbound=False)
    )
    assert (number.monthly_cost_cents, number.endpoint_id, number.allow_inbound) == (
        115,
        "ep_1",
        False,
    )


def test_unknown_fields_are_kept() -> None:
    """Fields this client does not know yet are kept in `model_extra`, not dropped or rejected."""
    number = PhoneNumber.model_validate(
        number_json(emergency_address={"city": "SF"}, smsEnabled=True)
    )
    assert number.model_extra == {"emergency_address": {"city": "SF"}, "smsEnabled": True}


def test_unknown_status_passes_through() -> None:
    """A status outside the documented ones is kept as sent."""
    number = PhoneNumber.model_validate(number_json(status="pending_regulatory_review"))
    assert number.status == "pending_regulatory_review"
    assert not number.is_known_status
    assert PhoneNumber.model_validate(number_json(status="active")).is_known_status


def test_embedded_endpoint_is_parsed() -> None:
    """An embedded endpoint becomes an EndpointSummary."""
    number = PhoneNumber.model_validate(
        number_json(endpoint={"id": "ep_1", "name": "Support", "type": "sip"})
    )
    assert number.endpoint is not None and (number.endpoint.id, number.endpoint.name) == (
        "ep_1",
        "Support",
    )


@pytest.mark.parametrize("key", ["sip_credentials", "sipCredentials"])
def test_sip_credentials_are_kept_out_of_repr(key: str) -> None:
    """SIP credentials are readable as an attribute but never shown in repr or str."""
    number = PhoneNumber.model_validate(
        number_json(**{key: {"username": "u1", "password": SIP_SECRET}})
    )
    assert number.sip_credentials == {"username": "u1", "password": SIP_SECRET}
    assert SIP_SECRET not in repr(number)
    assert SIP_SECRET not in str(number)


def test_available_number_variants_and_first_charge() -> None:
    """Inventory items accept `inventoryId`/`e164`/camelCase costs and report setup + first month."""
    item = AvailableNumber.model_validate(
        {
            "inventoryId": "inv_1",
            "e164": "+14155550100",
            "setupCostCents": 100,
            "monthlyCostCents": 115,
            "areaCode": "415",
            "capabilities": {"voice": True, "sms": False},
        }
    )
    assert (item.id, item.number, item.area_code) == ("inv_1", "+14155550100", "415")
    assert item.first_charge_cents == 215
    assert item.capabilities == {"voice": True, "sms": False}
    assert (
        AvailableNumber.model_validate({"id": "inv_2", "number": "+14155550100"}).first_charge_cents
        is None
    )


NUMBERS = [
    number_json("pn_1", "+14155550100"),
    number_json("pn_2", "+14155550101", inventory_id=None),
]


@pytest.mark.parametrize(
    "body",
    [
        {"phone_numbers": NUMBERS, "total": 2},
        {"phoneNumbers": NUMBERS, "total": 2},
        {"data": NUMBERS, "total": 2},
        {"numbers": NUMBERS, "total": 2},
        {"results": NUMBERS, "total": 2},
        {"items": NUMBERS, "total": 2},
        NUMBERS,
    ],
    ids=["phone_numbers", "phoneNumbers", "data", "numbers", "results", "items", "bare-list"],
)
def test_phone_number_page_wrappers(body: Any) -> None:
    """Owned-number lists are read from any published wrapper, or a bare list."""
    page = PhoneNumberPage.model_validate(body)
    assert [n.id for n in page.items] == ["pn_1", "pn_2"]
    assert page.total == (None if isinstance(body, list) else 2)


INVENTORY = [
    {"id": "inv_1", "number": "+14155550100"},
    {"inventory_id": "inv_2", "e164": "+14155550101"},
]


@pytest.mark.parametrize(
    "body",
    [
        {"available_numbers": INVENTORY},
        {"availableNumbers": INVENTORY},
        {"data": INVENTORY},
        {"phone_numbers": INVENTORY},
        INVENTORY,
    ],
    ids=["available_numbers", "availableNumbers", "data", "phone_numbers", "bare-list"],
)
def test_available_page_wrappers(body: Any) -> None:
    """Search results are read from any published wrapper, or a bare list."""
    page = AvailableNumberPage.model_validate(body)
    assert [(n.id, n.number) for n in page.items] == [
        ("inv_1", "+14155550100"),
        ("inv_2", "+14155550101"),
    ]


# -- through the client -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("wrapper", [None, "data", "phone_number", "phoneNumber"])
async def test_single_number_bare_or_wrapped(wrapper: str | None) -> None:
    """get_number reads a bare object or one wrapped in `data` / `phone_number`."""
    body = {"id": "pn_1", "e164": "+14155550100", "status": "active"}
    handler = Scripted(
        httpx2.Response(200, json=body if wrapper is None else {"success": True, wrapper: body})
    )
    async with make_client(handler) as client:
        number = await client.get_number("pn_1")
    assert (number.id, number.number) == ("pn_1", "+14155550100")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "response",
    [
        httpx2.Response(200, text="<html>OK</html>", headers={"content-type": "text/html"}),
        httpx2.Response(200, text=""),
        httpx2.Response(200, json={"id": "pn_1"}),
        httpx2.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "empty", "missing-number", "list"],
)
async def test_unreadable_success_is_response_format_error(response: httpx2.Response) -> None:
    """A 2xx body the client cannot read raises ResponseFormatError, not a crash or an APIError."""
    async with make_client(Scripted(response)) as client:
        with pytest.raises(ResponseFormatError) as caught:
            await client.get_number("pn_1")
    assert not isinstance(caught.value, APIError)
    assert caught.value.code == "BAD_RESPONSE"


@pytest.mark.anyio
async def test_response_format_error_names_the_bad_field() -> None:
    """The error says which field was wrong, so the mismatch can be diagnosed."""
    async with make_client(Scripted(httpx2.Response(200, json={"id": "pn_1"}))) as client:
        with pytest.raises(ResponseFormatError, match="number"):
            await client.get_number("pn_1")


@pytest.mark.anyio
async def test_list_page_with_bad_item_is_response_format_error() -> None:
    """A list whose items are not numbers raises ResponseFormatError."""
    async with make_client(Scripted(httpx2.Response(200, json={"data": [{"foo": 1}]}))) as client:
        with pytest.raises(ResponseFormatError):
            await client.list_numbers()
