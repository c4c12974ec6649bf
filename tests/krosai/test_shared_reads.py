"""Identical reads in flight at the same moment share one KrosAI request, within one tenant only,
and never for a write, a reconciliation's scan, or a read that starts after a write."""

from __future__ import annotations

from collections import Counter

import anyio
import httpx2
import pytest

from kros_mcp.krosai import KrosAIClient

from .fakes import API_KEY, BASE_URL, FAST_RECONCILE, FAST_RETRY, number_json

pytestmark = pytest.mark.anyio


class GatedAPI(httpx2.AsyncBaseTransport):
    """Holds every GET until `release` is set; counts requests by method, path and query, and by
    the API key that sent them."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.seen: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()
        self.endpoint = "ep_old"

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.seen[f"{request.method} {request.url.path}?{request.url.query.decode()}"] += 1
        self.keys[request.headers["x-api-key"]] += 1
        if request.method == "PATCH":
            self.endpoint = "ep_new"
            return httpx2.Response(200, json=number_json(endpoint_id=self.endpoint))
        endpoint = self.endpoint  # what is true when the request arrives
        await self.release.wait()
        if request.url.path.endswith("/phone-numbers"):
            body = {"phone_numbers": [number_json(endpoint_id=endpoint)], "total": 1}
            return httpx2.Response(200, json=body)
        return httpx2.Response(200, json=number_json(endpoint_id=endpoint))

    def gets(self) -> int:
        return sum(n for k, n in self.seen.items() if k.startswith("GET"))


def client_on(api: GatedAPI, key: str = API_KEY) -> KrosAIClient:
    return KrosAIClient(
        key, base_url=BASE_URL, transport=api, retry=FAST_RETRY, reconcile=FAST_RECONCILE
    )


async def _all_waiting(api: GatedAPI, count: int) -> None:
    with anyio.fail_after(5):
        while api.gets() < count:
            await anyio.sleep(0.001)
    await anyio.sleep(0.01)  # let joiners reach the flight they join


async def test_identical_reads_in_flight_share_one_request() -> None:
    api = GatedAPI()
    pages, numbers = [], []
    async with client_on(api) as client:
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(lambda: _append(pages, client.list_numbers(limit=20)))
                tg.start_soon(lambda: _append(numbers, client.get_number("pn_1")))
            tg.start_soon(lambda: _append(pages, client.list_numbers(limit=5)))  # not identical
            await _all_waiting(api, 3)
            api.release.set()
        assert len(pages) == 21 and len(numbers) == 20
        assert api.gets() == 3, api.seen
        await client.list_numbers(limit=20)  # once answered, nothing is cached
    assert api.gets() == 4


async def _append(out: list[object], call: object) -> None:
    out.append(await call)  # type: ignore[misc]


async def test_reads_are_never_shared_across_tenants() -> None:
    api = GatedAPI()
    other_key = "kros_test_OTHERORG456789"
    async with (
        client_on(api) as ours,
        client_on(api, other_key) as theirs,
        anyio.create_task_group() as tg,
    ):
        for client in (ours, theirs, ours, theirs):
            tg.start_soon(client.list_numbers)
        await _all_waiting(api, 2)
        api.release.set()
    assert api.keys == {API_KEY: 1, other_key: 1}


async def test_fresh_reads_and_reconciliation_scans_are_never_shared() -> None:
    api = GatedAPI()
    async with client_on(api) as client, anyio.create_task_group() as tg:
        tg.start_soon(lambda: client.list_numbers(limit=100, offset=0))
        tg.start_soon(lambda: client.list_numbers(limit=100, offset=0, fresh=True))
        tg.start_soon(lambda: _drain(client))  # iter_numbers: the reconciliation scan
        tg.start_soon(client.get_number, "pn_1")
        tg.start_soon(lambda: client.get_number("pn_1", fresh=True))
        await _all_waiting(api, 5)
        api.release.set()
    assert api.gets() == 5, api.seen


async def _drain(client: KrosAIClient) -> None:
    async for _ in client.iter_numbers():
        pass


async def test_a_read_after_a_write_does_not_join_a_read_from_before_it() -> None:
    api = GatedAPI()
    async with client_on(api) as client:
        seen: list[str | None] = []

        async def read() -> None:
            seen.append((await client.get_number("pn_1")).endpoint_id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)  # in flight before the write
            await _all_waiting(api, 1)
            await client.update_number("pn_1", endpoint_id="ep_new")
            tg.start_soon(read)  # starts after the write has been answered
            await _all_waiting(api, 2)
            api.release.set()
    assert api.gets() == 2
    assert sorted(seen, key=str) == ["ep_new", "ep_old"]
