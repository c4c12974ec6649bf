"""Many calls at once: requests to KrosAI are bounded, and identical searches share one request."""

from __future__ import annotations

from collections import Counter

import anyio
import httpx2
import pytest

from kros_mcp.krosai import KrosAIClient
from kros_mcp.krosai._singleflight import SingleFlight

from .fakes import API_KEY, BASE_URL, FAST_RECONCILE, FAST_RETRY

pytestmark = pytest.mark.anyio


class SlowAPI(httpx2.AsyncBaseTransport):
    """Answers after a short pause, counting requests by query and the most in flight at once."""

    def __init__(self, pause: float = 0.02) -> None:
        self.pause = pause
        self.in_flight = 0
        self.most_in_flight = 0
        self.seen: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.seen[f"{request.url.path}?{request.url.query.decode()}"] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await anyio.sleep(self.pause)
        finally:
            self.in_flight -= 1
        if request.url.path.endswith("/available"):
            country = request.url.params["country"]
            return httpx2.Response(
                200,
                json={
                    "available_numbers": [
                        {
                            "id": f"inv_{country}_1",
                            "number": "+254700000001",
                            "country": country,
                            "type": "mobile",
                        }
                    ]
                },
            )
        return httpx2.Response(200, json={"phone_numbers": [], "total": 0})


def client_on(api: SlowAPI, **kwargs: object) -> KrosAIClient:
    return KrosAIClient(
        API_KEY,
        base_url=BASE_URL,
        transport=api,
        retry=FAST_RETRY,
        reconcile=FAST_RECONCILE,
        **kwargs,
    )  # type: ignore[arg-type]


async def test_requests_in_flight_never_exceed_the_connection_limit() -> None:
    api = SlowAPI()
    async with client_on(api, max_connections=8) as client, anyio.create_task_group() as tg:
        for offset in range(200):
            tg.start_soon(lambda o=offset: client.list_numbers(limit=10, offset=o))
    assert sum(api.seen.values()) == 200
    assert api.most_in_flight == 8


async def test_identical_searches_in_flight_share_one_request() -> None:
    api = SlowAPI(pause=0.05)
    pages: list[object] = []
    async with client_on(api) as client:

        async def search(country: str) -> None:
            pages.append(await client.search_available(country, limit=100))

        async with anyio.create_task_group() as tg:
            for i in range(300):
                tg.start_soon(search, "KE" if i % 2 else "GH")
        assert len(pages) == 300
        assert sorted(api.seen.values()) == [1, 1], api.seen  # one request per distinct search
        # Once answered, the next identical search asks KrosAI again: nothing is cached.
        await client.search_available("KE", limit=100)
    assert sum(api.seen.values()) == 3


async def test_a_failed_shared_search_fails_every_caller_with_the_same_error() -> None:
    flights: SingleFlight[int] = SingleFlight()
    runs = 0

    async def broken() -> int:
        nonlocal runs
        runs += 1
        await anyio.sleep(0.02)
        raise ValueError("upstream said no")

    errors: list[str] = []

    async def call() -> None:
        try:
            await flights.run("k", broken)
        except ValueError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
    assert runs == 1
    assert errors == ["upstream said no"] * 5
    assert len(flights) == 0


async def test_callers_waiting_on_a_cancelled_search_run_it_themselves() -> None:
    flights: SingleFlight[str] = SingleFlight()
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        await anyio.sleep(0.05)
        return "page"

    results: list[str] = []
    leader = anyio.CancelScope()

    async def lead() -> None:
        with leader:
            await flights.run("k", work)

    async def follow() -> None:
        results.append(await flights.run("k", work))

    async with anyio.create_task_group() as tg:
        tg.start_soon(lead)
        await anyio.sleep(0.01)
        tg.start_soon(follow)
        await anyio.sleep(0.01)
        leader.cancel()
    assert results == ["page"]
    assert runs == 2
