"""The API key is sent to KrosAI and shown nowhere else: reprs, errors, logs."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import httpx2
import pytest
from pydantic import SecretStr

from kros_mcp.krosai import (
    AuthenticationError,
    KrosAIClient,
    KrosAIError,
    PurchaseError,
    ServerError,
    mask_api_key,
)
from kros_mcp.krosai._auth import ApiKeyAuth

from .fakes import API_KEY, FakeKrosAI, Scripted, error_response, make_client, number_json

LOGGERS = ("httpx2", "httpcore2", "kros_mcp")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """An exception, its causes and contexts, and a PurchaseError's `cause`."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "cause", None)]


def _assert_no_key_in(exc: BaseException) -> None:
    for link in _chain(exc):
        for text in (str(link), repr(link), repr(link.args), repr(vars(link).get("details"))):
            assert API_KEY not in text, f"API key leaked through {type(link).__name__}"
    assert API_KEY not in "".join(traceback.format_exception(exc))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _assert_no_key_in_logs(logs: pytest.LogCaptureFixture) -> None:
    assert logs.records, "expected the calls to log something"
    assert API_KEY not in logs.text
    for record in logs.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)


def test_mask_api_key_shows_only_the_prefix() -> None:
    """Masking keeps the live/test prefix and hides every secret character."""
    assert mask_api_key(API_KEY) == "kros_test_****"
    assert mask_api_key(SecretStr("kros_live_abcdef")) == "kros_live_****"
    assert mask_api_key("sk-something-else") == "****"
    assert mask_api_key(None) == "<none>"


def test_client_and_auth_reprs_hide_the_key() -> None:
    """repr and str of the client and its auth show a masked key, never the key."""
    client = KrosAIClient(API_KEY, transport=httpx2.MockTransport(lambda r: httpx2.Response(200)))
    for text in (
        repr(client),
        str(client),
        repr(ApiKeyAuth(SecretStr(API_KEY))),
        repr(vars(client)),
    ):
        assert API_KEY not in text
    assert "kros_test_****" in repr(client)
    assert API_KEY not in repr(client._http.headers)


@pytest.mark.anyio
async def test_key_is_sent_as_x_api_key_only() -> None:
    """Each request carries the key in `x-api-key` and nowhere else (no Authorization, not in the URL)."""
    handler = Scripted(httpx2.Response(200, json={"phone_numbers": []}))
    async with make_client(handler) as client:
        await client.list_numbers()
        await client.search_available("US")
    for request in handler.requests:
        assert request.headers["x-api-key"] == API_KEY
        assert "authorization" not in request.headers
        assert API_KEY not in str(request.url)
        assert API_KEY not in repr(request)


@pytest.mark.anyio
async def test_failing_and_retried_calls_leak_no_key(logs: pytest.LogCaptureFixture) -> None:
    """Retries, transport failures, error answers and purchase reconciliation log and raise no key."""
    fake = FakeKrosAI(owned=[number_json()], inventory=[{"id": "inv_9", "number": "+14155550199"}])
    fake.fail("GET", 503, "connect", "timeout_before", None, "drop_after", None, 401)
    fake.fail("POST", "timeout_before")
    raised: list[BaseException] = []
    async with make_client(fake) as client:
        await client.get_number("pn_1")  # 503, ConnectError, ReadTimeout, then the answer
        await client.list_numbers()  # dropped connection, then the answer
        for call in (
            lambda: client.get_number("pn_1"),  # 401
            lambda: client.get_number("pn_404"),  # 404
            lambda: client.purchase("inv_9"),  # timeout, then reconcile: unknown
        ):
            with pytest.raises(KrosAIError) as caught:
                await call()
            raised.append(caught.value)
    assert [type(e).__name__ for e in raised] == [
        "AuthenticationError",
        "NotFoundError",
        "PurchaseOutcomeUnknown",
    ]
    for exc in raised:
        _assert_no_key_in(exc)
    _assert_no_key_in_logs(logs)
    assert any(r.name.startswith("kros_mcp") for r in logs.records)
    assert any(r.name == "httpx2" for r in logs.records)


@pytest.mark.anyio
async def test_exhausted_transport_retries_leak_no_key(logs: pytest.LogCaptureFixture) -> None:
    """A TransportError after every retry failed carries no key in itself or its httpx cause."""
    async with make_client(Scripted(httpx2.ReadTimeout)) as client:
        with pytest.raises(KrosAIError) as caught:
            await client.list_numbers()
    assert isinstance(caught.value.__cause__, httpx2.ReadTimeout)
    _assert_no_key_in(caught.value)
    _assert_no_key_in_logs(logs)


@pytest.mark.anyio
async def test_key_echoed_by_krosai_is_redacted(logs: pytest.LogCaptureFixture) -> None:
    """An error body that echoes the API key does not carry it into the raised error or the logs."""
    echo = error_response(401, "INVALID_API_KEY", f"Invalid API key: {API_KEY}")
    nested = httpx2.Response(
        500,
        json={
            "error": {
                "message": f"failed for key {API_KEY}",
                "code": "INTERNAL_ERROR",
                "details": {"key": API_KEY},
            }
        },
    )
    bare = httpx2.Response(401, text=f"bad key {API_KEY}")
    async with make_client(Scripted(echo)) as client:
        with pytest.raises(AuthenticationError) as auth:
            await client.get_number("pn_1")
    async with make_client(Scripted(bare)) as client:
        with pytest.raises(AuthenticationError) as bare_auth:
            await client.list_numbers()
    fake = FakeKrosAI(inventory=[{"id": "inv_1", "number": "+14155550100"}]).fail("POST", nested)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseError) as purchase:
            await client.purchase("inv_1")
    assert "Invalid API key" in auth.value.message
    assert isinstance(purchase.value.cause, ServerError)
    for exc in (auth.value, bare_auth.value, purchase.value):
        _assert_no_key_in(exc)
    _assert_no_key_in_logs(logs)
