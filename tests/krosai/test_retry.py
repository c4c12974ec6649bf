"""Retries of reads, PATCH and DELETE: what is retried, how long the client waits, when it stops."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import pytest

from kros_mcp.krosai import (
    APIError,
    AuthenticationError,
    BaseURLError,
    ConflictError,
    InvalidRequestError,
    KrosAIClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from kros_mcp.krosai._retry import Deadline

from .fakes import Scripted, error_response, fresh, make_client, number_json

Call = Callable[[KrosAIClient], Awaitable[Any]]

# One idempotent call per retried method, with the answer that makes it succeed.
OPERATIONS: dict[str, tuple[Call, httpx2.Response]] = {
    "GET": (lambda c: c.get_number("pn_1"), httpx2.Response(200, json=number_json())),
    "GET-list": (
        lambda c: c.list_numbers(),
        httpx2.Response(200, json={"phone_numbers": [number_json()]}),
    ),
    "PATCH": (
        lambda c: c.update_number("pn_1", allow_inbound=False),
        httpx2.Response(200, json=number_json(allow_inbound=False)),
    ),
    "DELETE": (lambda c: c.release_number("pn_1"), httpx2.Response(200, json={"success": True})),
}


def _check_success(op: str, result: Any) -> None:
    if op == "GET":
        assert result.id == "pn_1"
    elif op == "GET-list":
        assert [n.id for n in result.items] == ["pn_1"]
    elif op == "PATCH":
        assert result.allow_inbound is False
    else:
        assert result.success is True and result.number_id == "pn_1"


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_retryable_status_is_retried(op: str, status: int) -> None:
    """429, 502, 503 and 504 are retried and the second answer is returned."""
    call, ok = OPERATIONS[op]
    handler = Scripted(error_response(status), ok)
    async with make_client(handler) as client:
        _check_success(op, await call(client))
    assert handler.calls == 2
    assert handler.requests[0].url == handler.requests[1].url
    assert handler.requests[0].content == handler.requests[1].content


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize(
    "exc",
    [
        httpx2.ConnectError,
        httpx2.ConnectTimeout,
        httpx2.ReadTimeout,
        httpx2.RemoteProtocolError,
        httpx2.ReadError,
    ],
)
async def test_transport_failure_is_retried(op: str, exc: type[httpx2.HTTPError]) -> None:
    """Connection failures, timeouts and dropped connections are retried."""
    call, ok = OPERATIONS[op]
    handler = Scripted(exc, ok)
    async with make_client(handler) as client:
        _check_success(op, await call(client))
    assert handler.calls == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, InvalidRequestError),
        (500, ServerError),
    ],
)
@pytest.mark.parametrize("op", OPERATIONS)
async def test_final_status_is_not_retried(op: str, status: int, cls: type[APIError]) -> None:
    """Client errors and a plain 500 are raised after a single request."""
    call, ok = OPERATIONS[op]
    handler = Scripted(error_response(status, message="final answer"), ok)
    if op == "GET-list" and status == 404:
        # A list route always exists: its 404 says the base URL is wrong (test_network_errors).
        async with make_client(handler) as client:
            with pytest.raises(BaseURLError):
                await call(client)
        assert handler.calls == 1
        return
    async with make_client(handler) as client:
        with pytest.raises(cls) as caught:
            await call(client)
    assert handler.calls == 1
    assert caught.value.status == status
    assert caught.value.message == "final answer"


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPERATIONS)
async def test_fractional_retry_after_is_honoured(op: str) -> None:
    """After a 429 with `Retry-After: 0.05` the client waits at least 50 ms before retrying."""
    call, ok = OPERATIONS[op]
    stamps: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            return error_response(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "0.05"})
        return fresh(ok)

    async with make_client(handler) as client:
        _check_success(op, await call(client))
    assert len(stamps) == 2
    assert stamps[1] - stamps[0] >= 0.05


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("step", "cls"),
    [
        (error_response(503), ServerError),
        (error_response(429, "RATE_LIMIT_EXCEEDED"), RateLimitError),
        (httpx2.ConnectError, TransportError),
        (httpx2.ReadTimeout, TransportError),
    ],
)
async def test_max_attempts_is_respected(step: Any, cls: type[Exception]) -> None:
    """A call that keeps failing stops after `max_attempts` requests and raises the last failure."""
    handler = Scripted(step)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.01, deadline=5)
    async with make_client(handler, retry=policy) as client:
        with pytest.raises(cls):
            await client.get_number("pn_1")
    assert handler.calls == 3


@pytest.mark.anyio
async def test_connect_error_says_request_not_sent() -> None:
    """When the server could not be reached the TransportError says the request never left."""
    async with make_client(Scripted(httpx2.ConnectError)) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_numbers()
    assert caught.value.request_sent is False


@pytest.mark.anyio
async def test_retry_after_beyond_deadline_raises_at_once() -> None:
    """A Retry-After longer than the time left raises RateLimitError at once, without sleeping."""
    handler = Scripted(error_response(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "10"}))
    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01, deadline=5)
    async with make_client(handler, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await client.list_numbers()
    assert time.monotonic() - started < 0.5
    assert handler.calls == 1
    assert caught.value.retry_after == 10


@pytest.mark.anyio
async def test_retry_after_beyond_max_retry_after_raises_at_once() -> None:
    """A Retry-After above the policy's `max_retry_after` is not waited for, even inside the deadline."""
    handler = Scripted(error_response(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "2"}))
    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01, max_retry_after=0.5, deadline=60)
    async with make_client(handler, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError):
            await client.list_numbers()
    assert time.monotonic() - started < 0.5
    assert handler.calls == 1


@pytest.mark.anyio
async def test_slow_server_hits_deadline_not_a_hang() -> None:
    """A server that never answers gives TransportError when the call's deadline passes."""
    calls = 0

    async def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        await anyio.sleep(30)
        return httpx2.Response(200, json=number_json())

    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01, deadline=0.2)
    async with make_client(handler, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await client.get_number("pn_1")
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 2
    assert caught.value.request_sent is True
    assert calls == 1


@pytest.mark.anyio
async def test_deadline_bounds_many_retries() -> None:
    """With plenty of attempts left, the overall deadline still ends the call."""
    handler = Scripted(httpx2.ConnectError)
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.05, deadline=0.3)
    async with make_client(handler, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(TransportError):
            await client.list_numbers()
    assert time.monotonic() - started < 1
    assert 2 <= handler.calls < 20


# -- RetryPolicy and Deadline ----------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(1, 10))
def test_backoff_is_jittered_doubling_and_capped(attempt: int) -> None:
    """Backoff doubles from `initial_backoff`, is capped at `max_backoff`, and jitters in its upper half."""
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4.0)
    ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
    rng = random.Random(attempt)
    waits = [policy.backoff(attempt, rng) for _ in range(200)]
    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    assert len(set(waits)) > 1


def test_deadline_counts_down_and_refuses_waits_past_it() -> None:
    """A Deadline reports time left and refuses a wait that would not leave time for another try."""
    now = [100.0]
    deadline = Deadline(10, clock=lambda: now[0])
    assert deadline.remaining() == 10
    now[0] = 107.0
    assert deadline.remaining() == pytest.approx(3)
    assert deadline.allows(2.9)
    assert not deadline.allows(3.0)
    now[0] = 200.0
    assert deadline.remaining() == 0
