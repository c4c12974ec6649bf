"""Endpoints, tolerant parsing, errors that say why KrosAI was unreachable, a wrong base URL, and
what a caller hears (retries, slow answers, reconciliation) within a KrosAI time budget."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest

from kros_mcp.krosai import (
    AvailableNumberPage,
    BaseURLError,
    ClientEvent,
    KrosAIClient,
    PurchaseOutcomeUnknown,
    RetryPolicy,
    TransportError,
    _observe,
    budget,
    observing,
)
from kros_mcp.sandbox import SANDBOX_API_KEY, SandboxTransport, create_app

from .fakes import Scripted, error_response, make_client, number_json

pytestmark = pytest.mark.anyio

ENDPOINTS = {
    "endpoints": [
        {
            "id": "ep_abc123",
            "name": "Customer Support Agent",
            "type": "agent",
            "url": "sip:agent@sip.rtc.elevenlabs.io",
            "status": "active",
            "provider_config": {"provider": "elevenlabs", "agent_id": "agent_xyz"},
            "created_at": "2025-01-10T10:00:00Z",
            "updated_at": "2025-01-10T10:00:00Z",
        },
        {
            "id": "ep_def456",
            "name": "Custom Handler",
            "type": "webhook",
            "url": "https://api.yourapp.com/call-handler",
            "status": "inactive",
            "secret": "whsec_topsecret",
            "created_at": "2025-01-09T15:00:00Z",
            "updated_at": "2025-01-09T15:00:00Z",
        },
    ],
    "total": 2,
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[ClientEvent] = []

    async def __call__(self, event: ClientEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


async def test_endpoints_are_listed_from_the_guides_shape() -> None:
    handler = Scripted(httpx2.Response(200, json=ENDPOINTS))
    async with make_client(handler) as client:
        page = await client.list_endpoints(status="active")
        found = [e async for e in client.iter_endpoints()]
    assert [e.id for e in page.items] == ["ep_abc123", "ep_def456"]
    assert page.items[0].provider == "elevenlabs" and page.items[1].status == "inactive"
    assert handler.requests[0].url.params["status"] == "active"
    assert [e.id for e in found] == ["ep_abc123", "ep_def456"]
    assert "whsec_topsecret" not in repr(page)


@pytest.mark.parametrize("field", ["inventory_id", "id", "inventoryId"])
def test_available_numbers_accept_every_spelling_of_the_inventory_id(field: str) -> None:
    page = AvailableNumberPage.model_validate(
        {"available_numbers": [{field: "inv_ng_001", "number": "+2348012345678"}]}
    )
    assert page.items[0].id == "inv_ng_001"


def test_a_stated_currency_is_kept() -> None:
    page = AvailableNumberPage.model_validate(
        {
            "available_numbers": [
                {"inventory_id": "inv_ng_1", "number": "+2348012345678", "currency": "NGN"}
            ],
            "currency": "NGN",
        }
    )
    assert page.currency == "NGN" and page.items[0].currency == "NGN"


async def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_says_so() -> None:
    port = await _closed_port()
    base = f"http://127.0.0.1:{port}/v1"
    fast = RetryPolicy(max_attempts=1, deadline=5)
    async with KrosAIClient("kros_test_x", base_url=base, retry=fast) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_numbers()
    assert caught.value.reason == "refused" and caught.value.unreachable
    assert caught.value.base_url == base
    assert "refused" in caught.value.message


async def test_dns_failure_says_so() -> None:
    def fail(request: httpx2.Request) -> httpx2.Response:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx2.ConnectError(str(exc), request=request) from exc

    fast = RetryPolicy(max_attempts=1, deadline=5)
    async with make_client(fail, retry=fast) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_numbers()
    assert caught.value.reason == "dns" and "DNS" in caught.value.message


@pytest.fixture
async def plain_http_server() -> AsyncIterator[int]:
    """A socket that answers anything with plain text, so a TLS handshake with it fails."""

    async def serve(stream: Any) -> None:
        async with stream:
            await stream.receive(1024)
            await stream.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        yield port
        group.cancel_scope.cancel()


async def test_tls_failure_says_so(plain_http_server: int) -> None:
    base = f"https://127.0.0.1:{plain_http_server}/v1"
    fast = RetryPolicy(max_attempts=1, deadline=5)
    async with KrosAIClient("kros_test_x", base_url=base, retry=fast) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_numbers()
    assert caught.value.reason == "tls", caught.value.message
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)
    assert any(isinstance(e, ssl.SSLError) for e in _causes(caught.value))


def _causes(exc: BaseException) -> list[BaseException]:
    found, current = [], exc.__cause__ or exc.__context__
    while current is not None and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


@pytest.mark.parametrize(
    ("base", "hint"), [("http://sandbox.test", "/v1"), ("http://sandbox.test/api", "/v1")]
)
async def test_a_base_url_without_its_version_path_is_explained(
    tmp_path: Any, base: str, hint: str
) -> None:
    app = create_app(tmp_path / "s.db", inventory_per_block=2)
    client = KrosAIClient(SANDBOX_API_KEY, base_url=base, transport=SandboxTransport(app))
    async with client:
        for call in (
            client.list_numbers(),
            client.search_available("NG"),
            client.list_endpoints(),
        ):
            with pytest.raises(BaseURLError) as caught:
                await call
            assert "version path" in caught.value.message and hint in caught.value.message
    app.state.sandbox.db.close()


async def test_a_versioned_base_url_that_serves_nothing_is_explained() -> None:
    handler = Scripted(error_response(404, message="Not Found"))
    async with make_client(handler) as client:
        with pytest.raises(BaseURLError) as caught:
            await client.list_numbers()
    assert "looks wrong" in caught.value.message and "version path" not in caught.value.message


async def test_retries_are_heard_by_the_observer() -> None:
    ok = httpx2.Response(200, json={"phone_numbers": [], "total": 0})
    handler = Scripted(error_response(503, "SERVICE_UNAVAILABLE"), ok)
    heard = Recorder()
    async with make_client(handler) as client:
        with observing(heard):
            await client.list_numbers()
        await client.list_numbers()  # outside the block: nobody hears
    assert heard.kinds() == ["retry"]
    assert "SERVICE_UNAVAILABLE" in heard.events[0].message


async def test_reconciliation_is_heard_step_by_step() -> None:
    handler = Scripted(
        httpx2.ReadTimeout,
        httpx2.Response(200, json={"phone_numbers": [number_json(inventory_id="inv_9")]}),
    )
    heard = Recorder()
    async with make_client(handler) as client:
        with observing(heard):
            receipt = await client.purchase("inv_9")
    assert receipt.reconciled
    assert heard.kinds() == ["reconcile", "reconcile", "reconcile"]
    assert "bought as pn_1" in heard.events[-1].message


async def test_a_slow_answer_is_reported_while_it_is_awaited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_observe, "SLOW_AFTER", 0.05)

    async def slow(request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep(0.18)
        return httpx2.Response(200, json={"phone_numbers": []})

    heard = Recorder()
    async with make_client(slow) as client:
        with observing(heard):
            await client.list_numbers()
    assert heard.kinds()[:2] == ["slow", "slow"]
    assert "has not answered GET /phone-numbers" in heard.events[0].message


async def test_a_failing_observer_never_fails_the_call() -> None:
    async def broken(event: ClientEvent) -> None:
        raise RuntimeError("notification channel gone")

    ok = httpx2.Response(200, json={"phone_numbers": []})
    async with make_client(Scripted(error_response(503), ok)) as client:
        with observing(broken):
            page = await client.list_numbers()
    assert page.items == []


async def test_a_budget_caps_the_kros_ai_time_of_several_calls() -> None:
    async def hang(request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep(10)
        raise AssertionError("unreachable")

    patient = RetryPolicy(max_attempts=1, deadline=30)
    async with make_client(hang, retry=patient) as client:
        started = time.monotonic()
        with budget(0.3):
            with pytest.raises(TransportError):
                await client.list_numbers()
            with pytest.raises(TransportError) as second:
                await client.list_numbers()
    assert time.monotonic() - started < 2
    assert not second.value.request_sent  # nothing left of the budget: never sent


async def test_reconciliation_stops_when_the_budget_is_spent() -> None:
    async def lost_then_hang(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            raise httpx2.ReadTimeout("lost", request=request)
        await anyio.sleep(10)
        raise AssertionError("unreachable")

    async with make_client(lost_then_hang) as client:
        started = time.monotonic()
        with budget(0.5), pytest.raises(PurchaseOutcomeUnknown):
            await client.purchase("inv_1")
    assert time.monotonic() - started < 3
