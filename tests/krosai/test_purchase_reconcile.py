"""Purchases: never sent twice once they may have reached KrosAI; ambiguous outcomes are reconciled."""

from __future__ import annotations

import json

import anyio
import httpx2
import pytest

from kros_mcp.krosai import (
    InsufficientBalanceError,
    KYCError,
    NumberNotAvailableError,
    PurchaseNotCompleted,
    PurchaseOutcomeUnknown,
    RetryPolicy,
    ServerError,
    TransportError,
)

from .fakes import FAST_RETRY, FakeKrosAI, error_response, make_client, number_json

WANTED = {"id": "inv_1", "number": "+14155550100", "country": "US"}
OTHER_OWNED = number_json("pn_old", "+442071234567", inventory_id=None)


def _fake(**kwargs) -> FakeKrosAI:
    kwargs.setdefault("inventory", [WANTED])
    return FakeKrosAI(**kwargs)


def _scans(fake: FakeKrosAI) -> int:
    """How many listings of owned numbers the client made."""
    return sum(
        1
        for r in fake.requests_of("GET")
        if "action" not in r.url.params and r.url.path.endswith("/phone-numbers")
    )


@pytest.mark.anyio
async def test_created_purchase_returns_receipt() -> None:
    """A 201 gives a receipt for the bought number, not marked as reconciled, after one POST."""
    fake = _fake()
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1", endpoint_id="ep_1", allow_inbound=True)
    assert receipt.reconciled is False
    assert receipt.attempts == 1
    assert (receipt.number.number, receipt.number.inventory_id) == ("+14155550100", "inv_1")
    [post] = fake.requests_of("POST")
    assert json.loads(post.content) == {
        "inventory_id": "inv_1",
        "endpoint_id": "ep_1",
        "allow_inbound": True,
    }
    assert post.headers["Idempotency-Key"] == receipt.idempotency_key
    assert receipt.idempotency_key.startswith("kros-mcp-")
    assert _scans(fake) == 0


@pytest.mark.anyio
async def test_created_purchase_wrapped_in_data() -> None:
    """A success answer wrapped in `{"data": {...}}` is read."""
    fake = _fake().fail("POST", httpx2.Response(201, json={"success": True, "data": number_json()}))
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    assert receipt.number.id == "pn_1"


@pytest.mark.anyio
async def test_caller_idempotency_key_is_used() -> None:
    """An idempotency key given by the caller is the one sent and reported."""
    fake = _fake()
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1", idempotency_key="order-42")
    assert fake.requests_of("POST")[0].headers["Idempotency-Key"] == "order-42"
    assert receipt.idempotency_key == "order-42"


@pytest.mark.anyio
async def test_each_purchase_gets_its_own_key() -> None:
    """Two separate purchases send two different Idempotency-Keys."""
    fake = _fake(inventory=[WANTED, {"id": "inv_2", "number": "+14155550101"}])
    async with make_client(fake) as client:
        first = await client.purchase("inv_1")
        second = await client.purchase("inv_2")
    keys = [r.headers["Idempotency-Key"] for r in fake.requests_of("POST")]
    assert keys == [first.idempotency_key, second.idempotency_key]
    assert keys[0] != keys[1]


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["timeout_after", "drop_after"])
async def test_lost_answer_after_purchase_is_reconciled(fault: str) -> None:
    """When the answer is lost after KrosAI bought the number, one POST is sent and the scan finds it."""
    fake = _fake(owned=[OTHER_OWNED]).fail("POST", fault)
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 1
    assert receipt.reconciled is True
    assert (receipt.number.number, receipt.number.inventory_id) == ("+14155550100", "inv_1")
    assert receipt.idempotency_key == fake.requests_of("POST")[0].headers["Idempotency-Key"]


@pytest.mark.anyio
async def test_server_error_with_nothing_bought_is_not_completed() -> None:
    """A 500 with the number not among owned numbers raises PurchaseNotCompleted: safe to try again."""
    fake = _fake(owned=[number_json("pn_old", "+442071234567", "inv_old")]).fail("POST", 500)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseNotCompleted) as caught:
            await client.purchase("inv_1", idempotency_key="k-1")
    error = caught.value
    assert len(fake.requests_of("POST")) == 1
    assert _scans(fake) == 1  # a 500 is final: one clean scan settles it
    assert (error.inventory_id, error.idempotency_key) == ("inv_1", "k-1")
    assert isinstance(error.cause, ServerError) and error.cause.status == 500
    assert error.code == "PURCHASE_NOT_COMPLETED"


@pytest.mark.anyio
async def test_server_error_that_did_buy_is_reconciled() -> None:
    """A 500 sent after the number was in fact bought yields a reconciled receipt, not an error."""
    fake = _fake().fail("POST", ("serve_then", error_response(500, "INTERNAL_ERROR")))
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    assert receipt.reconciled is True
    assert len(fake.requests_of("POST")) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [504, 502, "timeout_before"])
async def test_ambiguous_failure_with_nothing_found_is_unknown(fault) -> None:
    """After a gateway error or timeout, not finding the number is reported as unknown, never as not bought."""
    fake = _fake(owned=[number_json("pn_old", "+442071234567", "inv_old")]).fail("POST", fault)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseOutcomeUnknown) as caught:
            await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 1
    assert _scans(fake) == 2  # every scan in the reconcile policy was tried
    assert caught.value.code == "PURCHASE_OUTCOME_UNKNOWN"
    assert "Check owned numbers" in caught.value.message


@pytest.mark.anyio
async def test_gateway_timeout_then_late_commit_is_found_by_a_later_scan() -> None:
    """A purchase still running behind a 504 is found by a later scan and reported as bought."""
    fake = _fake().fail("POST", "commit_later")
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    assert receipt.reconciled is True
    assert receipt.number.inventory_id == "inv_1"
    assert len(fake.requests_of("POST")) == 1
    assert _scans(fake) == 2  # the first scan did not see it yet


@pytest.mark.anyio
async def test_scan_failure_then_clean_scan_after_500_is_not_completed() -> None:
    """After a 500, one failed scan followed by a clean one still proves nothing was bought."""
    fake = _fake(owned=[number_json("pn_old", "+442071234567", "inv_old")])
    fake.fail("POST", 500).fail("GET", *[503] * FAST_RETRY.max_attempts)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseNotCompleted):
            await client.purchase("inv_1")
    assert _scans(fake) == FAST_RETRY.max_attempts + 1


@pytest.mark.anyio
async def test_connect_error_is_retried_with_same_key() -> None:
    """A purchase that never left (ConnectError) is sent again, with the same Idempotency-Key."""
    fake = _fake().fail("POST", "connect")
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    posts = fake.requests_of("POST")
    assert len(posts) == 2
    assert (
        posts[0].headers["Idempotency-Key"]
        == posts[1].headers["Idempotency-Key"]
        == receipt.idempotency_key
    )
    assert receipt.attempts == 2 and receipt.reconciled is False


@pytest.mark.anyio
async def test_unreachable_purchase_is_not_completed() -> None:
    """When KrosAI cannot be reached at all, PurchaseNotCompleted says nothing was bought."""
    fake = _fake().fail("POST", *["connect"] * 10)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.01, deadline=5)
    async with make_client(fake, retry=policy) as client:
        with pytest.raises(PurchaseNotCompleted) as caught:
            await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 3
    assert (
        isinstance(caught.value.cause, TransportError) and caught.value.cause.request_sent is False
    )
    assert fake.inventory  # nothing was bought


@pytest.mark.anyio
async def test_rate_limited_purchase_is_resent_with_same_key() -> None:
    """A 429 is refused before processing, so the purchase is sent again with the same key."""
    limited = error_response(429, "RATE_LIMIT_EXCEEDED", "slow down", **{"Retry-After": "0.01"})
    fake = _fake().fail("POST", limited)
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    posts = fake.requests_of("POST")
    assert len(posts) == 2
    assert posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    assert posts[0].content == posts[1].content
    assert receipt.attempts == 2 and receipt.reconciled is False


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (error_response(403, "KYC_PENDING", "KYC under review"), KYCError),
        (error_response(403, "KYC_REQUIRED", "Complete KYC"), KYCError),
        (error_response(402, "INSUFFICIENT_BALANCE", "Top up"), InsufficientBalanceError),
        (httpx2.Response(402, text="INSUFFICIENT_BALANCE"), InsufficientBalanceError),
        (error_response(409, "NUMBER_NOT_AVAILABLE", "Sold"), NumberNotAvailableError),
    ],
)
async def test_business_refusal_is_raised_after_one_post(
    response: httpx2.Response, cls: type
) -> None:
    """KYC, balance and availability refusals are raised as-is, after one POST and no scan."""
    fake = _fake().fail("POST", response)
    async with make_client(fake) as client:
        with pytest.raises(cls):
            await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 1
    assert _scans(fake) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [500, "timeout_before"])
async def test_failing_scan_gives_unknown(fault) -> None:
    """If owned numbers cannot be listed, the outcome is unknown, even after a plain 500."""
    fake = _fake().fail("POST", fault).fail("GET", *[503] * 50)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseOutcomeUnknown) as caught:
            await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 1
    assert "checking owned numbers failed" in caught.value.message


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [500, "timeout_before", "timeout_after"])
async def test_records_without_inventory_id_and_no_hint_are_unknown(fault) -> None:
    """When owned numbers lack inventory_id and the number is not known, nothing found proves nothing."""
    fake = _fake(owned=[OTHER_OWNED], records_inventory_id=False).fail("POST", fault)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseOutcomeUnknown):
            await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 1


@pytest.mark.anyio
async def test_expected_number_recognises_record_without_inventory_id() -> None:
    """With `expected_number` the bought number is recognised by its digits, whatever the formatting."""
    fake = _fake(owned=[OTHER_OWNED], records_inventory_id=False).fail("POST", "timeout_after")
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1", expected_number="+1 (415) 555-0100")
    assert receipt.reconciled is True
    assert receipt.number.number == "+14155550100"
    assert len(fake.requests_of("POST")) == 1


@pytest.mark.anyio
async def test_expected_number_makes_clean_scan_conclusive() -> None:
    """With a known number, a 500 and a scan without it prove nothing was bought."""
    fake = _fake(owned=[OTHER_OWNED], records_inventory_id=False).fail("POST", 500)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseNotCompleted):
            await client.purchase("inv_1", expected_number="+14155550100")


@pytest.mark.anyio
async def test_number_seen_in_search_is_recognised() -> None:
    """A number shown by search_available is recognised later without `expected_number`."""
    fake = _fake(owned=[OTHER_OWNED], records_inventory_id=False).fail("POST", "drop_after")
    async with make_client(fake) as client:
        page = await client.search_available("US")
        assert [n.id for n in page.items] == ["inv_1"]
        receipt = await client.purchase("inv_1")
    assert receipt.reconciled is True
    assert receipt.number.number == "+14155550100"


GARBLED_CREATED = httpx2.Response(
    201, text="<html>Created</html>", headers={"content-type": "text/html"}
)


@pytest.mark.anyio
async def test_unreadable_success_body_is_reconciled() -> None:
    """A 2xx purchase answer that cannot be parsed is settled by finding the number, not raised as an error."""
    fake = _fake().fail("POST", ("serve_then", GARBLED_CREATED))
    async with make_client(fake) as client:
        receipt = await client.purchase("inv_1")
    assert receipt.reconciled is True
    assert receipt.number.inventory_id == "inv_1"
    assert len(fake.requests_of("POST")) == 1


@pytest.mark.anyio
async def test_unreadable_success_body_not_found_is_unknown() -> None:
    """A 2xx purchase answer that cannot be parsed is never reported as "not bought"."""
    fake = _fake().fail("POST", GARBLED_CREATED)
    async with make_client(fake) as client:
        with pytest.raises(PurchaseOutcomeUnknown):
            await client.purchase("inv_1")
    assert len(fake.requests_of("POST")) == 1


@pytest.mark.anyio
async def test_slow_purchase_past_deadline_is_unknown_not_resent() -> None:
    """A purchase whose answer does not come before the deadline is reconciled, never re-sent."""
    posts = 0

    async def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            await anyio.sleep(30)
        return httpx2.Response(200, json={"phone_numbers": []})

    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01, deadline=0.2)
    async with make_client(handler, retry=policy) as client:
        with pytest.raises(PurchaseOutcomeUnknown):
            await client.purchase("inv_1")
    assert posts == 1
