"""Faults, rate limits and races: nothing bought twice, nothing bought unreported."""

from __future__ import annotations

import logging
import threading
import time

import anyio
import httpx2
import pytest
from starlette.applications import Starlette

from kros_mcp.krosai import (
    KrosAIClient,
    NumberNotAvailableError,
    PurchaseNotCompleted,
    PurchaseOutcomeUnknown,
    RateLimitError,
    ReconcilePolicy,
    RetryPolicy,
)
from kros_mcp.sandbox import SANDBOX_API_KEY, SandboxDB, SandboxTransport
from kros_mcp.sandbox.db import SandboxError
from tests.support.krosai import FAST_RECONCILE, FAST_RETRY, RunningSandbox, make_client

pytestmark = pytest.mark.anyio


async def control(
    app_or_root: Starlette | str, method: str, path: str, **kwargs: object
) -> httpx2.Response:
    """Call a /_sandbox control, in-process (app) or over the socket (root URL)."""
    if isinstance(app_or_root, str):
        http = httpx2.AsyncClient(base_url=app_or_root, headers={"x-api-key": SANDBOX_API_KEY})
    else:
        http = httpx2.AsyncClient(
            base_url="http://sandbox.test",
            transport=SandboxTransport(app_or_root),
            headers={"x-api-key": SANDBOX_API_KEY},
        )
    async with http:
        response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code < 400, response.text
    return response


async def arm(target: Starlette | str, **fault: object) -> None:
    await control(target, "POST", "/_sandbox/faults", json=fault)


async def ledger(target: Starlette | str) -> tuple[int, list[dict]]:
    org = (await control(target, "GET", "/_sandbox/org")).json()
    txs = (await control(target, "GET", "/_sandbox/org/transactions")).json()["transactions"]
    return org["balance_cents"], [t for t in txs if t["kind"] == "purchase"]


async def assert_bought_once(
    client: KrosAIClient, target: Starlette | str, inventory_id: str, price: int
) -> None:
    owned = [n async for n in client.iter_numbers()]
    assert [n.inventory_id for n in owned] == [inventory_id]
    balance, purchases = await ledger(target)
    assert balance == 10_000 - price
    assert [p["amount_cents"] for p in purchases] == [-price]


@pytest.mark.parametrize("kind", ["drop_after", "error_after"])
async def test_purchase_committed_but_answer_lost_is_reported_once(
    sandbox_app: Starlette, kind: str
) -> None:
    """The connection drops (or a 500 comes back) after the purchase commits: reported purchased, once."""
    async with make_client(sandbox_app) as client:
        offer = (await client.search_available("NG", limit=1)).items[0]
        await arm(sandbox_app, kind=kind, operation="purchase", status=500)
        receipt = await client.purchase(offer.id)
        assert receipt.reconciled and receipt.attempts == 1
        assert receipt.number.inventory_id == offer.id
        await assert_bought_once(client, sandbox_app, offer.id, offer.first_charge_cents)


async def test_dropped_connection_over_a_real_socket(sandbox_server: RunningSandbox) -> None:
    """Over TCP, uvicorn really cuts the connection; the client still reports one purchase."""
    async with KrosAIClient(
        SANDBOX_API_KEY,
        base_url=sandbox_server.base_url,
        retry=FAST_RETRY,
        reconcile=FAST_RECONCILE,
    ) as client:
        offer = (await client.search_available("KE", limit=1)).items[0]
        await arm(sandbox_server.root, kind="drop_after", operation="purchase")
        receipt = await client.purchase(offer.id)
        assert receipt.reconciled
        await assert_bought_once(client, sandbox_server.root, offer.id, offer.first_charge_cents)


async def test_server_error_before_the_write_is_not_a_purchase(sandbox_app: Starlette) -> None:
    async with make_client(sandbox_app) as client:
        offer = (await client.search_available("GH", limit=1)).items[0]
        await arm(sandbox_app, kind="error_before", operation="purchase", status=503)
        with pytest.raises(PurchaseNotCompleted) as info:
            await client.purchase(offer.id)
        assert info.value.cause.code == "SERVICE_UNAVAILABLE"
        assert (await client.list_numbers()).total == 0
        assert await ledger(sandbox_app) == (10_000, [])
        # Safe to try again with the same key: it goes through once.
        receipt = await client.purchase(offer.id, idempotency_key=info.value.idempotency_key)
        assert not receipt.reconciled
        await assert_bought_once(client, sandbox_app, offer.id, offer.first_charge_cents)


async def test_gateway_timeout_with_nothing_bought_is_honestly_unknown(
    sandbox_app: Starlette,
) -> None:
    """A 504 may hide a request still running behind the gateway: not found means unknown, not 'no'."""
    async with make_client(sandbox_app) as client:
        offer = (await client.search_available("EG", limit=1)).items[0]
        await arm(sandbox_app, kind="error_before", operation="purchase", status=504)
        with pytest.raises(PurchaseOutcomeUnknown):
            await client.purchase(offer.id)
        assert await ledger(sandbox_app) == (10_000, [])


async def test_timeout_then_late_commit_is_unknown_then_visible(
    sandbox_server: RunningSandbox,
) -> None:
    """The server is slower than the client's deadline and commits afterwards: never reported 'not bought'."""
    quick = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, deadline=0.3)
    async with KrosAIClient(
        SANDBOX_API_KEY,
        base_url=sandbox_server.base_url,
        retry=quick,
        reconcile=ReconcilePolicy(scan_delays=(0.0,)),
    ) as client:
        offer = (await client.search_available("AE", limit=1)).items[0]
        await arm(sandbox_server.root, kind="latency", operation="purchase", seconds=0.6)
        with pytest.raises(PurchaseOutcomeUnknown):
            await client.purchase(offer.id)
        await anyio.sleep(0.8)
        await assert_bought_once(client, sandbox_server.root, offer.id, offer.first_charge_cents)


async def test_reads_are_retried_on_429_honouring_retry_after(sandbox_app: Starlette) -> None:
    async with make_client(sandbox_app) as client:
        await arm(sandbox_app, kind="rate_limit", operation="list", retry_after=0.25, times=2)
        started = time.monotonic()
        page = await client.list_numbers()
        assert time.monotonic() - started >= 0.5
        assert page.total == 0
        faults = (await control(sandbox_app, "GET", "/_sandbox/faults")).json()["faults"]
        assert faults == []  # both uses consumed: two 429s, then success


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_reads_are_retried_on_gateway_errors(sandbox_app: Starlette, status: int) -> None:
    async with make_client(sandbox_app) as client:
        await arm(sandbox_app, kind="error_before", operation="search", status=status, times=2)
        assert (await client.search_available("RW", limit=3)).items


async def test_release_retried_after_lost_answer_reports_released(sandbox_app: Starlette) -> None:
    async with make_client(sandbox_app) as client:
        number = (
            await client.purchase((await client.search_available("NG", limit=1)).items[0].id)
        ).number
        await arm(sandbox_app, kind="drop_after", operation="release")
        result = await client.release_number(number.id)
        assert result.confirmed_by_retry and result.success
        assert (await client.list_numbers()).total == 0


async def test_purchase_rate_limit_is_5_per_second_with_fractional_retry_after(
    sandbox_app: Starlette,
) -> None:
    async with httpx2.AsyncClient(
        base_url="http://sandbox.test/v1",
        transport=SandboxTransport(sandbox_app),
        headers={"x-api-key": SANDBOX_API_KEY},
    ) as http:
        offers = (
            await http.get("/phone-numbers/available", params={"country": "KE", "limit": 6})
        ).json()
        statuses = []
        for offer in offers["available_numbers"]:
            response = await http.post(
                "/phone-numbers", json={"inventory_id": offer["inventory_id"]}
            )
            statuses.append(response.status_code)
            assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
                response.headers
            )
    assert statuses[:5] == [201] * 5 and statuses[5] == 429
    body = response.json()
    assert body["code"] == "RATE_LIMIT_EXCEEDED" and 0 < body["retry_after"] <= 1
    assert (
        0 < float(response.headers["retry-after"]) <= 1
        and response.headers["x-ratelimit-limit"] == "5"
    )


async def test_client_waits_out_the_purchase_rate_limit(sandbox_app: Starlette) -> None:
    patient = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, deadline=10.0, max_attempts=10)
    async with make_client(sandbox_app, retry=patient) as client:
        offers = (await client.search_available("NG", limit=8)).items
        for offer in offers:
            await client.purchase(offer.id)
        assert (await client.list_numbers()).total == 8


async def test_rate_limit_longer_than_deadline_is_raised_at_once(sandbox_app: Starlette) -> None:
    async with make_client(sandbox_app, retry=RetryPolicy(deadline=1.0)) as client:
        await arm(sandbox_app, kind="rate_limit", operation="get", retry_after=5.0)
        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            await client.get_number("pn_any")
        assert time.monotonic() - started < 0.5 and info.value.retry_after == 5.0


async def test_fifty_concurrent_purchases_of_one_number(sandbox_server: RunningSandbox) -> None:
    """Over real sockets: exactly one success and 49 NUMBER_NOT_AVAILABLE."""
    await control(
        sandbox_server.root,
        "PUT",
        "/_sandbox/rate-limits",
        json={"purchase": 10_000, "default": 10_000},
    )
    outcomes: list[str] = []
    async with KrosAIClient(
        SANDBOX_API_KEY, base_url=sandbox_server.base_url, retry=FAST_RETRY, timeout=30
    ) as client:
        offer = (await client.search_available("NG", type="toll_free", limit=1)).items[0]

        async def buy() -> None:
            try:
                await client.purchase(offer.id)
                outcomes.append("purchased")
            except NumberNotAvailableError:
                outcomes.append("NUMBER_NOT_AVAILABLE")

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(buy)
        assert sorted(outcomes).count("purchased") == 1
        assert outcomes.count("NUMBER_NOT_AVAILABLE") == 49
        await assert_bought_once(client, sandbox_server.root, offer.id, offer.first_charge_cents)


def test_purchases_are_atomic_across_database_connections(tmp_path) -> None:
    """Separate connections on one file (as separate processes would be) race for one item."""
    path = tmp_path / "shared.sqlite3"
    SandboxDB(path, inventory_per_block=1).close()
    dbs = [SandboxDB(path, inventory_per_block=0) for _ in range(8)]
    org = dbs[0].org_for_key(SANDBOX_API_KEY)
    item = dbs[0].search_inventory("NG", None, None, 1, 0)[0][0]["id"]
    results: list[str] = []
    barrier = threading.Barrier(len(dbs))

    def buy(db: SandboxDB) -> None:
        barrier.wait()
        try:
            db.purchase(
                org,
                inventory_id=item,
                endpoint_id=None,
                allow_inbound=True,
                allow_outbound=True,
                idempotency_key=None,
                request_hash="x",
                render=lambda row: {"id": row["id"]},
            )
            results.append("ok")
        except SandboxError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=buy, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["NUMBER_NOT_AVAILABLE"] * 7 + ["ok"]
    assert len(dbs[0].transactions(org.id)) == 2  # the opening credit and one purchase
    for db in dbs:
        db.close()


async def test_api_key_never_reaches_logs_or_errors(
    sandbox_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "kros_test_" + "S3CR3T" * 5
    caplog.set_level(logging.DEBUG)
    async with make_client(sandbox_app, api_key=secret) as client:
        texts = [repr(client)]
        for call in (client.list_numbers(), client.purchase("inv_ng_1"), client.get_number("pn_x")):
            try:
                await call
            except Exception as exc:  # noqa: BLE001 - every error's text is checked
                texts += [str(exc), repr(exc), str(exc.__cause__), repr(exc.__cause__)]
    texts += [record.getMessage() for record in caplog.records]
    assert not [t for t in texts if secret in t or "S3CR3T" in t]
