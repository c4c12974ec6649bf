"""Requests the client sends and how it reads the answers: listing, search, update, release."""

from __future__ import annotations

import json

import anyio
import httpx2
import pytest

from kros_mcp.krosai import InvalidRequestError, KrosAIClient, NotFoundError

from .fakes import (
    API_KEY,
    BASE_URL,
    FakeKrosAI,
    Scripted,
    api_path,
    error_response,
    make_client,
    number_json,
)


def _owned(count: int) -> list[dict]:
    return [number_json(f"pn_{i:03d}", f"+1415555{i:04d}", f"inv_{i:03d}") for i in range(count)]


# -- request basics -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_requests_carry_api_key_header_and_no_authorization() -> None:
    """Every request sends `x-api-key` with the key, asks for JSON, and sends no Authorization."""
    fake = FakeKrosAI(owned=_owned(1))
    async with make_client(fake) as client:
        await client.list_numbers()
        await client.get_number("pn_000")
        await client.update_number("pn_000", allow_inbound=True)
        await client.release_number("pn_000")
    assert len(fake.requests) == 4
    for request in fake.requests:
        assert request.headers["x-api-key"] == API_KEY
        assert "authorization" not in request.headers
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"] == "kros-mcp"


@pytest.mark.anyio
async def test_custom_user_agent_and_trailing_slash_base_url() -> None:
    """A trailing slash on base_url does not double the slash; user_agent is sent as given."""
    handler = Scripted(httpx2.Response(200, json={"phone_numbers": []}))
    async with make_client(handler, base_url=BASE_URL + "/", user_agent="my-agent/1.0") as client:
        await client.list_numbers()
    request = handler.requests[0]
    assert request.url.path == "/v1/phone-numbers"
    assert request.headers["user-agent"] == "my-agent/1.0"


@pytest.mark.anyio
async def test_list_numbers_sends_filters_and_drops_unset_ones() -> None:
    """list_numbers passes status, country, limit and offset, omitting filters left as None."""
    handler = Scripted(httpx2.Response(200, json={"phone_numbers": [number_json()], "total": 1}))
    async with make_client(handler) as client:
        page = await client.list_numbers(status="active", country="US", limit=5, offset=10)
        await client.list_numbers()
    first, second = (dict(r.url.params) for r in handler.requests)
    assert first == {"status": "active", "country": "US", "limit": "5", "offset": "10"}
    assert second == {"limit": "20", "offset": "0"}
    assert page.total == 1 and page.items[0].id == "pn_1"


# -- iter_numbers ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("with_total", [True, False])
async def test_iter_numbers_pages_through_everything_once(with_total: bool) -> None:
    """250 numbers are yielded once each, in order, in pages of at most 100."""
    fake = FakeKrosAI(owned=_owned(250), with_total=with_total)
    async with make_client(fake) as client:
        ids = [n.id for n in [n async for n in client.iter_numbers(page_size=1000)]]
    assert ids == [f"pn_{i:03d}" for i in range(250)]
    limits = [int(r.url.params["limit"]) for r in fake.requests]
    assert max(limits) <= 100
    assert [int(r.url.params["offset"]) for r in fake.requests] == [0, 100, 200]


@pytest.mark.anyio
async def test_iter_numbers_exact_multiple_without_total_stops() -> None:
    """Without a total, a full last page costs one more (empty) request and then iteration ends."""
    fake = FakeKrosAI(owned=_owned(200), with_total=False)
    async with make_client(fake) as client:
        ids = [n.id async for n in client.iter_numbers()]
    assert len(ids) == 200
    assert len(fake.requests) == 3


@pytest.mark.anyio
async def test_iter_numbers_passes_filters() -> None:
    """Filters given to iter_numbers are sent on every page request."""
    fake = FakeKrosAI(owned=_owned(3))
    async with make_client(fake) as client:
        [n async for n in client.iter_numbers(status="active", country="US", page_size=2)]
    assert all(
        r.url.params["status"] == "active" and r.url.params["country"] == "US"
        for r in fake.requests
    )
    assert [r.url.params["limit"] for r in fake.requests] == ["2", "2"]


@pytest.mark.anyio
async def test_iter_numbers_survives_a_server_page_cap_below_100() -> None:
    """When KrosAI returns fewer than asked but its total says more, iteration goes on to the end."""
    fake = FakeKrosAI(owned=_owned(120), page_cap=50)
    async with make_client(fake) as client:
        ids = [n.id async for n in client.iter_numbers()]
    assert len(ids) == 120
    assert len(set(ids)) == 120


@pytest.mark.anyio
async def test_iter_numbers_ends_when_server_ignores_offset() -> None:
    """A server that ignores `offset` and repeats its first page does not make iteration loop forever."""
    page = _owned(100)
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        assert calls <= 5, "iter_numbers kept asking for the same page"
        return httpx2.Response(200, json={"data": page})

    async with make_client(handler) as client:
        ids = [n.id async for n in client.iter_numbers()]
    assert len(ids) == 100


@pytest.mark.anyio
async def test_iter_numbers_deduplicates_shifted_pages() -> None:
    """A number pushed onto the next page by a purchase mid-listing is yielded only once."""
    owned = _owned(4)
    seen_offsets: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        seen_offsets.append(offset)
        page = owned[offset : offset + limit]
        if offset == 0:
            owned.insert(0, number_json("pn_new", "+14155559999", "inv_new"))  # newest first
        return httpx2.Response(200, json={"phone_numbers": page, "total": len(owned)})

    async with make_client(handler) as client:
        ids = [n.id async for n in client.iter_numbers(page_size=2)]
    assert ids == ["pn_000", "pn_001", "pn_002", "pn_003"]
    assert seen_offsets == [0, 2, 4]


# -- search_available -----------------------------------------------------------------------


INVENTORY = [
    {"id": "inv_1", "number": "+14155550100", "country": "US", "type": "local"},
    {"inventoryId": "inv_2", "e164": "+14155550101", "monthlyCostCents": 115},
]


@pytest.mark.anyio
async def test_search_available_sends_filters() -> None:
    """Search sends country, type, area code and limit, and reads the available numbers."""
    handler = Scripted(httpx2.Response(200, json={"available_numbers": INVENTORY}))
    async with make_client(handler) as client:
        page = await client.search_available("US", type="local", area_code="415", limit=5)
    request = handler.requests[0]
    assert api_path(request) == "/phone-numbers/available"
    assert dict(request.url.params) == {
        "country": "US",
        "type": "local",
        "area_code": "415",
        "limit": "5",
    }
    assert [(n.id, n.number) for n in page.items] == [
        ("inv_1", "+14155550100"),
        ("inv_2", "+14155550101"),
    ]
    assert page.items[1].monthly_cost_cents == 115


def _action_only(routes: list[str], not_found: httpx2.Response):
    """A server that only knows `GET /phone-numbers?action=available`."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = api_path(request)
        if path == "/phone-numbers" and request.url.params.get("action") == "available":
            routes.append("action")
            return httpx2.Response(200, json={"data": INVENTORY})
        routes.append(path)
        return httpx2.Response(
            not_found.status_code, headers=not_found.headers, content=not_found.content
        )

    return handler


@pytest.mark.anyio
@pytest.mark.parametrize(
    "not_found",
    [
        error_response(404, "NOT_FOUND", "Phone number not found"),
        error_response(404, "PHONE_NUMBER_NOT_FOUND", "Phone number not found"),
        httpx2.Response(404),
        httpx2.Response(405, text="Method Not Allowed"),
    ],
    ids=["NOT_FOUND", "PHONE_NUMBER_NOT_FOUND", "bare-404", "405"],
)
async def test_search_auto_route_falls_back_and_remembers(not_found: httpx2.Response) -> None:
    """In auto mode a 404 on /available falls back to `?action=available`, and later searches go straight there."""
    routes: list[str] = []
    async with make_client(_action_only(routes, not_found)) as client:
        first = await client.search_available("US", limit=5)
        second = await client.search_available("GB")
    assert routes == ["/phone-numbers/available", "action", "action"]
    assert [n.id for n in first.items] == [n.id for n in second.items] == ["inv_1", "inv_2"]


@pytest.mark.anyio
async def test_search_action_route_keeps_filters() -> None:
    """The action form carries `action=available` alongside the search filters."""
    handler = Scripted(httpx2.Response(200, json=INVENTORY))
    async with make_client(handler, available_route="action") as client:
        await client.search_available("US", type="mobile")
    request = handler.requests[0]
    assert api_path(request) == "/phone-numbers"
    assert dict(request.url.params) == {
        "action": "available",
        "country": "US",
        "type": "mobile",
        "limit": "20",
    }


@pytest.mark.anyio
async def test_search_path_route_does_not_fall_back() -> None:
    """With `available_route="path"` a 404 is raised rather than trying another route."""
    routes: list[str] = []
    async with make_client(
        _action_only(routes, httpx2.Response(404)), available_route="path"
    ) as client:
        with pytest.raises(NotFoundError):
            await client.search_available("US")
    assert routes == ["/phone-numbers/available"]


@pytest.mark.anyio
async def test_search_real_error_is_raised_not_retried_elsewhere() -> None:
    """A genuine error on /available (400) is raised and does not switch routes for later searches."""
    handler = Scripted(
        error_response(400, "UNSUPPORTED_COUNTRY", "Country XX is not supported"),
        httpx2.Response(200, json={"available_numbers": INVENTORY}),
    )
    async with make_client(handler) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.search_available("XX")
        await client.search_available("US")
    assert caught.value.code == "UNSUPPORTED_COUNTRY"
    assert [api_path(r) for r in handler.requests] == ["/phone-numbers/available"] * 2


# -- update_number --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({"allow_inbound": False}, {"allow_inbound": False}),
        (
            {"endpoint_id": "ep_2", "allow_outbound": True},
            {"endpoint_id": "ep_2", "allow_outbound": True},
        ),
        ({"endpoint_id": None}, {"endpoint_id": None}),
    ],
    ids=["one-field", "two-fields", "detach-endpoint"],
)
async def test_update_sends_only_given_fields(kwargs: dict, sent: dict) -> None:
    """PATCH carries only the fields passed; `endpoint_id=None` is sent as null to detach."""
    fake = FakeKrosAI(owned=[number_json(endpoint_id="ep_1", allow_inbound=True)])
    async with make_client(fake) as client:
        number = await client.update_number("pn_1", **kwargs)
    request = fake.requests[0]
    assert (request.method, api_path(request)) == ("PATCH", "/phone-numbers/pn_1")
    assert json.loads(request.content) == sent
    for field, value in sent.items():
        assert getattr(number, field) == value


# -- release_number -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response", "success", "message"),
    [
        (
            httpx2.Response(200, json={"success": True, "message": "Phone number released"}),
            True,
            "Phone number released",
        ),
        (
            httpx2.Response(200, json={"success": False, "message": "Release scheduled"}),
            False,
            "Release scheduled",
        ),
        (httpx2.Response(204), True, None),
        (httpx2.Response(200, json={"data": {"id": "pn_1"}}), True, None),
    ],
    ids=["success", "not-success", "204", "other-json"],
)
async def test_release_reads_answer(
    response: httpx2.Response, success: bool, message: str | None
) -> None:
    """The release answer's success flag and message are reported."""
    handler = Scripted(response)
    async with make_client(handler) as client:
        result = await client.release_number("pn_1")
    assert (result.number_id, result.success, result.message, result.confirmed_by_retry) == (
        "pn_1",
        success,
        message,
        False,
    )
    assert (handler.requests[0].method, api_path(handler.requests[0])) == (
        "DELETE",
        "/phone-numbers/pn_1",
    )


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["timeout_after", "drop_after"])
async def test_release_lost_answer_then_404_is_released(fault: str) -> None:
    """If the first DELETE's answer was lost after the server released it, the retry's 404 means released."""
    fake = FakeKrosAI(owned=[number_json()]).fail("DELETE", fault)
    async with make_client(fake) as client:
        result = await client.release_number("pn_1")
    assert result.confirmed_by_retry is True
    assert result.success is True
    assert len(fake.requests_of("DELETE")) == 2
    assert fake.owned == []


@pytest.mark.anyio
async def test_release_plain_404_raises_not_found() -> None:
    """Releasing an unknown number raises NotFoundError after one request."""
    fake = FakeKrosAI(owned=[number_json()])
    async with make_client(fake) as client:
        with pytest.raises(NotFoundError):
            await client.release_number("pn_404")
    assert len(fake.requests) == 1
    assert len(fake.owned) == 1


@pytest.mark.anyio
async def test_release_404_after_unsent_attempt_raises_not_found() -> None:
    """A 404 after an attempt that never left (ConnectError) is a real not-found, not a release."""
    fake = FakeKrosAI().fail("DELETE", "connect")
    async with make_client(fake) as client:
        with pytest.raises(NotFoundError):
            await client.release_number("pn_404")
    assert len(fake.requests) == 2


# -- path segments --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("number_id", "raw_path"),
    [
        ("../secret", "/v1/phone-numbers/..%2Fsecret"),
        ("../../admin", "/v1/phone-numbers/..%2F..%2Fadmin"),
        ("a/b", "/v1/phone-numbers/a%2Fb"),
        ("pn_1?status=all", "/v1/phone-numbers/pn_1%3Fstatus%3Dall"),
        ("pn_1#frag", "/v1/phone-numbers/pn_1%23frag"),
        ("pn 1", "/v1/phone-numbers/pn%201"),
    ],
)
async def test_ids_are_escaped_into_one_path_segment(number_id: str, raw_path: str) -> None:
    """An id can never leave `/phone-numbers/{id}`: slashes, `?` and `#` are percent-encoded."""
    handler = Scripted(httpx2.Response(200, json=number_json()))
    async with make_client(handler) as client:
        await client.get_number(number_id)
    request = handler.requests[0]
    assert request.url.raw_path.decode() == raw_path
    assert not request.url.query
    assert request.url.path != "/v1/secret"


@pytest.mark.anyio
@pytest.mark.parametrize("number_id", ["..", ".", ""])
@pytest.mark.parametrize("op", ["get", "update", "release"])
async def test_dot_and_empty_ids_are_refused(number_id: str, op: str) -> None:
    """`..`, `.` and empty ids are refused before any request, so they cannot hit the collection or /v1."""
    handler = Scripted(httpx2.Response(200, json=number_json()))
    async with make_client(handler) as client:
        call = {
            "get": lambda: client.get_number(number_id),
            "update": lambda: client.update_number(number_id, allow_inbound=False),
            "release": lambda: client.release_number(number_id),
        }[op]
        with pytest.raises(ValueError):
            await call()
    assert handler.calls == 0


def test_client_is_usable_without_context_manager() -> None:
    """The client can be built with a SecretStr key and defaults, without opening a connection."""
    from pydantic import SecretStr

    client = KrosAIClient(SecretStr(API_KEY))
    assert client.base_url == "https://api.krosai.com/v1"
    anyio.run(client.aclose)
