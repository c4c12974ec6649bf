"""The sandbox serves KrosAI's contract: auth, isolation, inventory, purchase, routing, release."""

from __future__ import annotations

import collections

import httpx2
import phonenumbers
import pytest
from starlette.applications import Starlette

from kros_mcp.krosai import (
    AuthenticationError,
    EndpointNotFoundError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    KrosAIClient,
    KYCError,
    NotFoundError,
    NumberNotAvailableError,
)
from kros_mcp.sandbox import (
    BLOCKS,
    COUNTRIES,
    SANDBOX_API_KEY,
    SandboxTransport,
    create_app,
    generate_inventory,
)
from tests.support.krosai import make_client

pytestmark = pytest.mark.anyio


def raw(app: Starlette, key: str | None = SANDBOX_API_KEY) -> httpx2.AsyncClient:
    """A plain HTTP client on the sandbox, for what the typed client never sends."""
    headers = {"x-api-key": key} if key else {}
    return httpx2.AsyncClient(
        base_url="http://sandbox.test", transport=SandboxTransport(app), headers=headers
    )


async def new_org(app: Starlette, kyc: str = "approved", balance: int = 10_000) -> str:
    async with raw(app, None) as http:
        response = await http.post(
            "/_sandbox/orgs", json={"kyc_status": kyc, "balance_cents": balance}
        )
    assert response.status_code == 201, response.text
    return response.json()["api_key"]


async def balance(app: Starlette, key: str = SANDBOX_API_KEY) -> int:
    async with raw(app, key) as http:
        return (await http.get("/_sandbox/org")).json()["balance_cents"]


async def first_offer(client: KrosAIClient, country: str = "NG", **filters: str):
    page = await client.search_available(country, limit=1, **filters)
    return page.items[0]


# -- authentication and isolation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "UNAUTHORIZED"),
        ({"x-api-key": "kros_live_" + "a" * 32}, "INVALID_API_KEY"),
        ({"x-api-key": "kros_test_unknown"}, "INVALID_API_KEY"),
        ({"authorization": "Bearer nonsense"}, "INVALID_API_KEY"),
    ],
)
async def test_requests_without_a_sandbox_key_get_401(
    sandbox_app: Starlette, headers: dict, code: str
) -> None:
    """Only the sandbox's own kros_test_ keys are accepted."""
    async with raw(sandbox_app, None) as http:
        response = await http.get("/v1/phone-numbers", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_bearer_authorization_is_accepted(sandbox_app: Starlette) -> None:
    async with raw(sandbox_app, None) as http:
        response = await http.get(
            "/v1/phone-numbers", headers={"authorization": f"Bearer {SANDBOX_API_KEY}"}
        )
    assert response.status_code == 200


async def test_client_maps_bad_key_to_authentication_error(sandbox_app: Starlette) -> None:
    async with make_client(sandbox_app, api_key="kros_live_nope") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_numbers()
    assert info.value.status == 401


async def test_organisations_see_only_their_own_numbers(
    sandbox_app: Starlette, client: KrosAIClient
) -> None:
    offer = await first_offer(client)
    mine = (await client.purchase(offer.id)).number
    other_key = await new_org(sandbox_app)
    async with make_client(sandbox_app, api_key=other_key) as other:
        assert (await other.list_numbers()).items == []
        with pytest.raises(NotFoundError):
            await other.get_number(mine.id)
        with pytest.raises(NotFoundError):
            await other.update_number(mine.id, allow_inbound=False)
        with pytest.raises(NotFoundError):
            await other.release_number(mine.id)
        # Endpoints are per organisation too: ours cannot be used by the other one.
        with pytest.raises(EndpointNotFoundError):
            await other.purchase((await first_offer(other)).id, endpoint_id="ep_support_agent")
    assert (await client.get_number(mine.id)).id == mine.id


# -- inventory -------------------------------------------------------------------------------------


def test_every_inventory_number_is_valid_for_its_country() -> None:
    """phonenumbers accepts every generated number for its country and type."""
    items = list(generate_inventory(40))
    assert len(items) == 40 * len(BLOCKS)
    for item in items:
        parsed = phonenumbers.parse(item.e164)
        assert phonenumbers.is_valid_number_for_region(parsed, item.country), item
        assert item.id.startswith(f"inv_{item.country.lower()}_")
    kinds = {(i.country, i.type) for i in items}
    for country in COUNTRIES:
        assert {(country, "local"), (country, "mobile"), (country, "toll_free")} <= kinds


def test_inventory_is_deterministic() -> None:
    assert [i.e164 for i in generate_inventory(5, seed=7)] == [
        i.e164 for i in generate_inventory(5, seed=7)
    ]
    assert [i.e164 for i in generate_inventory(5, seed=7)] != [
        i.e164 for i in generate_inventory(5, seed=8)
    ]


async def test_search_filters_by_type_and_area_code(client: KrosAIClient) -> None:
    page = await client.search_available("ke", type="mobile", area_code="0712", limit=100)
    assert page.items and all(i.type == "mobile" and i.area_code == "712" for i in page.items)
    assert all(i.number.startswith("+254712") for i in page.items)
    assert page.total == len(page.items)
    every = await client.search_available("KE", limit=100)
    assert every.total is not None and every.total > page.total
    assert {i.type for i in every.items} == {"local", "mobile", "toll_free"}
    offer = every.items[0]
    assert (
        offer.setup_cost_cents and offer.monthly_cost_cents and offer.capabilities["voice"] is True
    )


async def test_search_limit_defaults_to_20_and_caps_at_100(
    sandbox_app: Starlette, client: KrosAIClient
) -> None:
    async with raw(sandbox_app) as http:
        default = (await http.get("/v1/phone-numbers/available", params={"country": "NG"})).json()
        assert len(default["available_numbers"]) == 20
        too_many = await http.get(
            "/v1/phone-numbers/available", params={"country": "NG", "limit": 101}
        )
        assert too_many.status_code == 400 and too_many.json()["code"] == "INVALID_REQUEST"
        action_form = (
            await http.get("/v1/phone-numbers", params={"action": "available", "country": "NG"})
        ).json()
        assert action_form["available_numbers"] == default["available_numbers"]
    assert len((await client.search_available("NG", limit=100)).items) == 70  # 7 blocks x 10


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "MISSING_FIELDS"),
        ({"country": "ZA"}, "UNSUPPORTED_COUNTRY"),
        ({"country": "NG", "type": "satellite"}, "INVALID_REQUEST"),
        ({"country": "NG", "limit": "0"}, "INVALID_REQUEST"),
        ({"country": "NG", "limit": "ten"}, "INVALID_REQUEST"),
        ({"country": "NG", "area_code": "80a"}, "INVALID_REQUEST"),
    ],
)
async def test_bad_search_parameters_get_documented_400s(
    sandbox_app: Starlette, params: dict, code: str
) -> None:
    async with raw(sandbox_app) as http:
        response = await http.get("/v1/phone-numbers/available", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("country", "code"), [("", "MISSING_FIELDS"), ("ZA", "UNSUPPORTED_COUNTRY")]
)
async def test_client_raises_typed_errors_for_bad_searches(
    client: KrosAIClient, country: str, code: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await client.search_available(country)
    assert info.value.code == code and info.value.status == 400
    with pytest.raises(InvalidRequestError):
        await client.search_available("NG", limit=500)


# -- purchase ----------------------------------------------------------------------------------------


async def test_purchase_debits_setup_plus_first_month(
    sandbox_app: Starlette, client: KrosAIClient
) -> None:
    offer = await first_offer(client, "AE", type="mobile")
    before = await balance(sandbox_app)
    receipt = await client.purchase(offer.id, endpoint_id="ep_support_agent", allow_outbound=False)
    number = receipt.number
    assert number.number == offer.number and number.inventory_id == offer.id
    assert number.total_cost_cents == offer.setup_cost_cents + offer.monthly_cost_cents
    assert (
        number.endpoint_id == "ep_support_agent"
        and number.allow_outbound is False
        and number.allow_inbound
    )
    assert await balance(sandbox_app) == before - number.total_cost_cents
    assert offer.id not in {
        i.id for i in (await client.search_available("AE", type="mobile", limit=100)).items
    }
    detail = await client.get_number(number.id)
    assert detail.endpoint is not None and detail.endpoint.name == "Support Agent"
    assert detail.sip_credentials and detail.sip_credentials["password"]


@pytest.mark.parametrize(
    ("kyc", "code"),
    [
        ("not_submitted", "KYC_REQUIRED"),
        ("initiated", "KYC_INITIATED"),
        ("pending", "KYC_PENDING"),
        ("declined", "KYC_DECLINED"),
    ],
)
async def test_purchase_is_refused_until_kyc_is_approved(
    sandbox_app: Starlette, kyc: str, code: str
) -> None:
    key = await new_org(sandbox_app, kyc=kyc)
    async with make_client(sandbox_app, api_key=key) as client:
        offer = await first_offer(client)
        with pytest.raises(KYCError) as info:
            await client.purchase(offer.id)
        assert info.value.code == code and info.value.status == 400
        assert (await client.list_numbers()).total == 0
    assert await balance(sandbox_app, key) == 10_000


async def test_purchase_refused_on_insufficient_balance(sandbox_app: Starlette) -> None:
    key = await new_org(sandbox_app, balance=100)
    async with make_client(sandbox_app, api_key=key) as client:
        with pytest.raises(InsufficientBalanceError) as info:
            await client.purchase((await first_offer(client, type="toll_free")).id)
    assert info.value.details["balance_cents"] == 100
    assert await balance(sandbox_app, key) == 100


async def test_purchase_of_sold_or_unknown_number(client: KrosAIClient) -> None:
    offer = await first_offer(client)
    await client.purchase(offer.id)
    with pytest.raises(NumberNotAvailableError):
        await client.purchase(offer.id)
    with pytest.raises(NumberNotAvailableError):
        await client.purchase("inv_ng_0000000")


async def test_purchase_with_unknown_endpoint_buys_nothing(
    sandbox_app: Starlette, client: KrosAIClient
) -> None:
    before = await balance(sandbox_app)
    with pytest.raises(EndpointNotFoundError):
        await client.purchase((await first_offer(client)).id, endpoint_id="ep_nope")
    assert await balance(sandbox_app) == before and (await client.list_numbers()).total == 0


async def test_idempotency_key_replays_and_rejects_other_bodies(
    sandbox_app: Starlette, client: KrosAIClient
) -> None:
    offer, other = (await client.search_available("GH", limit=2)).items
    first = await client.purchase(offer.id, idempotency_key="order-1")
    again = await client.purchase(offer.id, idempotency_key="order-1")
    assert again.number.id == first.number.id
    assert (await client.list_numbers()).total == 1
    with pytest.raises(IdempotencyConflictError) as info:
        await client.purchase(other.id, idempotency_key="order-1")
    assert info.value.status == 422
    async with raw(sandbox_app) as http:
        replay = await http.post(
            "/v1/phone-numbers",
            json={"inventoryId": offer.id},
            headers={"Idempotency-Key": "order-1"},
        )
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    purchases = [t for t in await transactions(sandbox_app) if t["kind"] == "purchase"]
    assert len(purchases) == 1


async def transactions(app: Starlette, key: str = SANDBOX_API_KEY) -> list[dict]:
    async with raw(app, key) as http:
        return (await http.get("/_sandbox/org/transactions")).json()["transactions"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "MISSING_FIELDS"),
        ({"inventory_id": 42}, "INVALID_REQUEST"),
        ({"inventory_id": "inv_x", "allow_inbound": "yes"}, "INVALID_REQUEST"),
        ({"inventory_id": "inv_x", "surprise": 1}, "INVALID_REQUEST"),
        ([1, 2], "INVALID_REQUEST"),
    ],
)
async def test_bad_purchase_bodies_get_400(sandbox_app: Starlette, body: object, code: str) -> None:
    async with raw(sandbox_app) as http:
        response = await http.post("/v1/phone-numbers", json=body)
    assert response.status_code == 400 and response.json()["code"] == code


async def test_malformed_and_oversized_bodies(sandbox_app: Starlette) -> None:
    async with raw(sandbox_app) as http:
        broken = await http.post(
            "/v1/phone-numbers", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 400 and broken.json()["code"] == "INVALID_REQUEST"
        huge = await http.post(
            "/v1/phone-numbers", content=b'{"inventory_id": "' + b"x" * 70_000 + b'"}'
        )
        assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
        nowhere = await http.get("/v1/nowhere")
        assert nowhere.status_code == 404 and nowhere.json()["code"] == "NOT_FOUND"
        wrong_method = await http.put("/v1/phone-numbers")
        assert (
            wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
        )


# -- update and release ------------------------------------------------------------------------------


async def test_patch_is_partial_and_null_detaches(client: KrosAIClient) -> None:
    number = (
        await client.purchase((await first_offer(client)).id, endpoint_id="ep_support_agent")
    ).number
    updated = await client.update_number(number.id, allow_outbound=False)
    assert (
        updated.endpoint_id == "ep_support_agent"
        and updated.allow_outbound is False
        and updated.allow_inbound
    )
    moved = await client.update_number(number.id, endpoint_id="ep_webhook_handler")
    assert moved.endpoint_id == "ep_webhook_handler" and moved.allow_outbound is False
    detached = await client.update_number(number.id, endpoint_id=None)
    assert detached.endpoint_id is None and detached.endpoint is None
    with pytest.raises(EndpointNotFoundError):
        await client.update_number(number.id, endpoint_id="ep_missing")
    with pytest.raises(NotFoundError):
        await client.update_number("pn_missing", allow_inbound=True)


async def test_patch_rejects_unknown_fields_and_null_flags(
    sandbox_app: Starlette, client: KrosAIClient
) -> None:
    number = (await client.purchase((await first_offer(client)).id)).number
    async with raw(sandbox_app) as http:
        for body in ({"endpoint": "x"}, {"allow_inbound": None}, {"allow_outbound": 1}):
            response = await http.patch(f"/v1/phone-numbers/{number.id}", json=body)
            assert response.status_code == 400, body


async def test_release_returns_number_to_the_pool(client: KrosAIClient) -> None:
    offer = await first_offer(client, "RW")
    number = (await client.purchase(offer.id)).number
    result = await client.release_number(number.id)
    assert result.success and number.number in (result.message or "")
    with pytest.raises(NotFoundError):
        await client.get_number(number.id)
    with pytest.raises(NotFoundError):
        await client.release_number(number.id)
    assert offer.id in {i.id for i in (await client.search_available("RW", limit=100)).items}
    again = await client.purchase(offer.id)
    assert again.number.id != number.id


async def test_list_pages_and_filters(client: KrosAIClient) -> None:
    offers = (await client.search_available("EG", limit=5)).items + (
        await client.search_available("KE", limit=3)
    ).items
    for offer in offers:
        await client.purchase(offer.id)
    page = await client.list_numbers(country="eg", limit=2, offset=2)
    assert page.total == 5 and len(page.items) == 2 and page.offset == 2
    assert [n.number for n in [x async for x in client.iter_numbers(page_size=3)]] == [
        o.number for o in offers
    ]
    assert (await client.list_numbers(status="suspended")).total == 0


async def test_the_default_organisation_is_ready_to_buy(tmp_path) -> None:
    app = create_app(tmp_path / "fresh.sqlite3", inventory_per_block=1)
    assert await balance(app) == 10_000
    async with raw(app) as http:
        endpoints = (await http.get("/v1/endpoints")).json()
    assert {e["id"] for e in endpoints["endpoints"]} == {"ep_support_agent", "ep_webhook_handler"}
    app.state.sandbox.db.close()


async def test_state_persists_in_the_database_file(tmp_path) -> None:
    app = create_app(tmp_path / "kept.sqlite3", inventory_per_block=2)
    async with make_client(app) as client:
        bought = (await client.purchase((await first_offer(client)).id)).number
    app.state.sandbox.db.close()
    reopened = create_app(tmp_path / "kept.sqlite3", inventory_per_block=2)
    async with make_client(reopened) as client:
        assert (await client.get_number(bought.id)).number == bought.number
    assert await balance(reopened) == 10_000 - bought.total_cost_cents
    reopened.state.sandbox.db.close()


def test_inventory_counts_cover_every_country() -> None:
    counts = collections.Counter(i.country for i in generate_inventory(3))
    assert set(counts) == set(COUNTRIES)
