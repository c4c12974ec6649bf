"""The state store, one suite for every backend (see conftest.py: `backend`, `store`, `clock`;
backends.py: the storage behind them)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import multiprocessing
import secrets
import sqlite3
from functools import partial
from pathlib import Path

import pytest

from kros_mcp.store import (
    AuditEntry,
    PostgresStateStore,
    RequestClaim,
    SQLiteStateStore,
    StateStore,
    StoredOffer,
    StoreError,
    open_store,
)
from kros_mcp.store import postgres as pg_module
from kros_mcp.store import sqlite as sqlite_module

from .backends import POSTGRES_SKIP_REASON, POSTGRES_URL, Backend, FakeClock

pytestmark = pytest.mark.anyio

A, B = "t_tenant_a", "t_tenant_b"
HOUR = 3600.0
DAY = 86_400.0
LATEST = sqlite_module.LATEST_VERSION


def offer(
    inventory_id: str = "inv_1", *, setup: int = 100, monthly: int = 250, **kwargs: object
) -> StoredOffer:
    fields: dict[str, object] = dict(
        inventory_id=inventory_id,
        number="+14155550100",
        country="US",
        type="local",
        area_code="415",
        setup_cost_cents=setup,
        monthly_cost_cents=monthly,
        capabilities=("voice", "sms"),
        query={"country": "US", "area_code": "415", "limit": 5},
    )
    fields.update(kwargs)
    return StoredOffer(**fields)  # type: ignore[arg-type]


def intent(
    audit_id: str, tenant: str = A, *, created_at: float = 1.0, **kwargs: object
) -> AuditEntry:
    fields: dict[str, object] = dict(
        id=audit_id,
        tenant=tenant,
        tool="purchase_number",
        arguments={"inventory_id": "inv_1"},
        confirmation="token",
        created_at=created_at,
        quote={"first_charge_cents": 350},
    )
    fields.update(kwargs)
    return AuditEntry(**fields)  # type: ignore[arg-type]


def test_backends_agree_on_migrations() -> None:
    assert sqlite_module.LATEST_VERSION == pg_module.LATEST_VERSION
    assert [v for v, _ in sqlite_module.MIGRATIONS] == list(range(1, LATEST + 1))
    assert [v for v, _ in pg_module.MIGRATIONS] == list(range(1, LATEST + 1))


# -- offers ---------------------------------------------------------------------------------------


async def test_offer_round_trip(store: StateStore) -> None:
    shown = offer(
        area_code=None, type=None, capabilities=("voice",), query={"nested": {"a": [1, "é"]}}
    )
    await store.remember_offers(A, [shown, offer("inv_2", setup=0)], ttl_seconds=600)
    got = await store.get_offer(A, "inv_1")
    assert got == shown
    assert isinstance(got.capabilities, tuple)
    assert got.first_charge_cents == 100 + 250
    assert (await store.get_offer(A, "inv_2")) == offer("inv_2", setup=0)


async def test_unknown_offer_is_none(store: StateStore) -> None:
    assert await store.get_offer(A, "inv_missing") is None
    await store.remember_offers(A, [], ttl_seconds=600)  # nothing to keep: fine
    assert await store.get_offer(A, "inv_missing") is None


async def test_offer_expires(store: StateStore, clock: FakeClock) -> None:
    await store.remember_offers(A, [offer()], ttl_seconds=60)
    clock.advance(60)
    assert await store.get_offer(A, "inv_1") is not None  # valid up to and including expiry
    clock.advance(0.5)
    assert await store.get_offer(A, "inv_1") is None


async def test_newer_showing_replaces_offer(store: StateStore, clock: FakeClock) -> None:
    await store.remember_offers(A, [offer(monthly=250)], ttl_seconds=60)
    clock.advance(50)
    await store.remember_offers(A, [offer(monthly=400)], ttl_seconds=60)  # new price, new expiry
    clock.advance(50)
    got = await store.get_offer(A, "inv_1")
    assert got is not None and got.monthly_cost_cents == 400


async def test_same_offer_twice_in_one_batch(store: StateStore) -> None:
    await store.remember_offers(A, [offer(monthly=1), offer(monthly=2)], ttl_seconds=60)
    got = await store.get_offer(A, "inv_1")
    assert got is not None and got.monthly_cost_cents == 2


async def test_offer_from_a_newer_version_ignores_unknown_fields(
    backend: Backend, store: StateStore
) -> None:
    data = dataclasses.asdict(offer())
    data["added_later"] = True
    text = json.dumps(data).replace("'", "''")
    await backend.execute(
        "INSERT INTO {s}offers (tenant, inventory_id, offer, expires_at) "
        f"VALUES ('{A}', 'inv_1', '{text}', 9e18)"
    )
    assert await store.get_offer(A, "inv_1") == offer()


# -- tokens ---------------------------------------------------------------------------------------


async def test_token_used_once(store: StateStore, clock: FakeClock) -> None:
    expires = clock.now + 600
    assert await store.use_token(A, "tok_1", expires) is True
    assert await store.use_token(A, "tok_1", expires) is False
    assert await store.use_token(A, "tok_1", expires + 10) is False
    assert await store.use_token(A, "tok_2", expires) is True


async def test_purge_drops_expired_offers_and_old_tokens_only(
    store: StateStore, clock: FakeClock
) -> None:
    await store.remember_offers(A, [offer("inv_short")], ttl_seconds=10)
    assert await store.use_token(A, "tok_old", clock.now + 10)
    assert await store.use_token(A, "tok_recent", clock.now + 2 * DAY)
    clock.advance(DAY + 60)
    await store.remember_offers(A, [offer("inv_long")], ttl_seconds=HOUR)
    await store.purge_expired()  # type: ignore[attr-defined]
    # A purged token is forgotten (in real use it has long expired, so the signature check refuses
    # it first); one within its grace period is still refused.
    assert await store.use_token(A, "tok_old", clock.now - DAY) is True
    assert await store.use_token(A, "tok_recent", clock.now + DAY) is False
    assert await store.get_offer(A, "inv_long") is not None


async def test_purge_happens_on_its_own(
    backend: Backend, store: StateStore, clock: FakeClock
) -> None:
    await store.remember_offers(A, [offer()], ttl_seconds=10)
    assert await store.use_token(A, "tok_old", clock.now + 10)
    assert await backend.scalar("SELECT COUNT(*) FROM {s}offers") == 1
    clock.advance(2 * DAY)  # the purge schedule is also time-based: the next write purges
    assert await store.use_token(A, "tok_new", clock.now + 10)
    assert await backend.scalar("SELECT COUNT(*) FROM {s}offers") == 0
    assert await backend.scalar("SELECT COUNT(*) FROM {s}used_tokens") == 1


async def test_expired_rows_purged_on_open(
    backend: Backend, store: StateStore, clock: FakeClock
) -> None:
    await store.remember_offers(A, [offer()], ttl_seconds=10)
    clock.advance(60)
    await backend.open(clock)
    assert await backend.scalar("SELECT COUNT(*) FROM {s}offers") == 0


# -- spend ----------------------------------------------------------------------------------------


async def test_reserve_without_budget_always_succeeds_and_counts(store: StateStore) -> None:
    for i in range(3):
        assert await store.reserve_spend(A, f"r{i}", 10_000, budget_cents=None, window_seconds=DAY)
    assert await store.spent_in_window(A, DAY) == 30_000
    # ... and counts against a budget later
    assert not await store.reserve_spend(A, "r3", 1, budget_cents=30_000, window_seconds=DAY)


async def test_budget_boundary(store: StateStore) -> None:
    reserve = partial(store.reserve_spend, A, budget_cents=1000, window_seconds=DAY)
    assert await reserve("r1", 600)
    assert await reserve("r2", 400)  # exactly the budget
    assert not await reserve("r3", 1)
    assert await reserve("r4", 0)
    assert await store.spent_in_window(A, DAY) == 1000


async def test_refused_reservation_records_nothing(store: StateStore) -> None:
    assert not await store.reserve_spend(A, "big", 5000, budget_cents=1000, window_seconds=DAY)
    assert await store.spent_in_window(A, DAY) == 0
    await store.settle_spend(A, "big", spent=True)  # nothing to settle
    assert await store.spent_in_window(A, DAY) == 0
    assert await store.reserve_spend(A, "big", 1000, budget_cents=1000, window_seconds=DAY)


async def test_zero_budget(store: StateStore) -> None:
    assert not await store.reserve_spend(A, "r1", 1, budget_cents=0, window_seconds=DAY)
    assert await store.reserve_spend(A, "r2", 0, budget_cents=0, window_seconds=DAY)


async def test_settle_not_spent_frees_the_budget(store: StateStore) -> None:
    assert await store.reserve_spend(A, "r1", 800, budget_cents=1000, window_seconds=DAY)
    assert not await store.reserve_spend(A, "r2", 800, budget_cents=1000, window_seconds=DAY)
    await store.settle_spend(A, "r1", spent=False)
    assert await store.spent_in_window(A, DAY) == 0
    assert await store.reserve_spend(A, "r2", 800, budget_cents=1000, window_seconds=DAY)


async def test_settle_spent_at_final_amount(store: StateStore) -> None:
    assert await store.reserve_spend(A, "r1", 800, budget_cents=1000, window_seconds=DAY)
    await store.settle_spend(A, "r1", spent=True, amount_cents=300)
    assert await store.spent_in_window(A, DAY) == 300
    assert await store.reserve_spend(A, "r2", 700, budget_cents=1000, window_seconds=DAY)
    assert not await store.reserve_spend(A, "r3", 1, budget_cents=1000, window_seconds=DAY)


async def test_settle_spent_keeps_reserved_amount(store: StateStore) -> None:
    assert await store.reserve_spend(A, "r1", 800, budget_cents=None, window_seconds=DAY)
    await store.settle_spend(A, "r1", spent=True)
    assert await store.spent_in_window(A, DAY) == 800
    # Committed spend is not dropped by a late "not spent".
    await store.settle_spend(A, "r1", spent=False)
    assert await store.spent_in_window(A, DAY) == 800


async def test_settle_unknown_reservation_is_a_noop(store: StateStore) -> None:
    await store.settle_spend(A, "nope", spent=True, amount_cents=500)
    await store.settle_spend(A, "nope", spent=False)
    assert await store.spent_in_window(A, DAY) == 0


async def test_same_reservation_id_twice_counts_once(store: StateStore) -> None:
    assert await store.reserve_spend(A, "r1", 600, budget_cents=1000, window_seconds=DAY)
    assert await store.reserve_spend(A, "r1", 600, budget_cents=1000, window_seconds=DAY)
    assert await store.spent_in_window(A, DAY) == 600


async def test_spend_leaves_the_window(store: StateStore, clock: FakeClock) -> None:
    assert await store.reserve_spend(A, "r1", 1000, budget_cents=1000, window_seconds=HOUR)
    await store.settle_spend(A, "r1", spent=True)
    clock.advance(HOUR - 1)
    assert await store.spent_in_window(A, HOUR) == 1000
    assert not await store.reserve_spend(A, "r2", 1, budget_cents=1000, window_seconds=HOUR)
    clock.advance(1)
    assert await store.spent_in_window(A, HOUR) == 0
    assert await store.spent_in_window(A, 2 * HOUR) == 1000  # still in a longer window
    assert await store.reserve_spend(A, "r2", 1000, budget_cents=1000, window_seconds=HOUR)


async def test_bad_amounts_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError):
        await store.reserve_spend(A, "r1", -1, budget_cents=None, window_seconds=DAY)
    await store.reserve_spend(A, "r1", 1, budget_cents=None, window_seconds=DAY)
    with pytest.raises(ValueError):
        await store.settle_spend(A, "r1", spent=True, amount_cents=-5)
    assert await store.spent_in_window(A, DAY) == 1


# -- idempotency keys -----------------------------------------------------------------------------


async def test_request_lifecycle(store: StateStore) -> None:
    assert await store.claim_request(A, "key_1", "digest_1") == RequestClaim("new")
    assert await store.claim_request(A, "key_1", "digest_1") == RequestClaim("in_progress")
    result = {"number_id": "pn_1", "charged_cents": 350, "nested": {"list": [1, 2.5, None, "é"]}}
    await store.finish_request(A, "key_1", result)
    claim = await store.claim_request(A, "key_1", "digest_1")
    assert claim == RequestClaim("done", result)
    # A finished key is never released, nor finished again.
    await store.release_request(A, "key_1")
    await store.finish_request(A, "key_1", {"other": True})
    assert await store.claim_request(A, "key_1", "digest_1") == RequestClaim("done", result)


async def test_request_conflict(store: StateStore) -> None:
    assert (await store.claim_request(A, "key_1", "digest_1")).state == "new"
    assert await store.claim_request(A, "key_1", "digest_2") == RequestClaim("conflict")
    await store.finish_request(A, "key_1", {"ok": True})
    assert await store.claim_request(A, "key_1", "digest_2") == RequestClaim("conflict")


async def test_release_lets_the_key_be_tried_again(store: StateStore) -> None:
    assert (await store.claim_request(A, "key_1", "digest_1")).state == "new"
    await store.release_request(A, "key_1")
    # Released: the same key may come back, even with other arguments.
    assert (await store.claim_request(A, "key_1", "digest_2")).state == "new"
    await store.release_request(A, "never_claimed")


async def test_finish_unclaimed_key_is_a_noop(store: StateStore) -> None:
    await store.finish_request(A, "key_1", {"ok": True})
    assert (await store.claim_request(A, "key_1", "digest_1")).state == "new"


async def test_result_must_be_json(store: StateStore) -> None:
    await store.claim_request(A, "key_1", "d")
    with pytest.raises((TypeError, ValueError)):
        await store.finish_request(A, "key_1", {"bad": object()})
    assert (await store.claim_request(A, "key_1", "d")).state == "in_progress"


# -- audit ----------------------------------------------------------------------------------------


async def test_audit_intent_then_outcome(store: StateStore, clock: FakeClock) -> None:
    await store.audit_intent(intent("a1", created_at=clock.now))
    [entry] = await store.audit_page(A, limit=10)
    assert entry.seq is not None
    assert entry == dataclasses.replace(intent("a1", created_at=clock.now), seq=entry.seq)
    assert entry.status == "intent" and entry.outcome is None and entry.finished_at is None
    assert await store.audit_unfinished(A) == [entry]

    clock.advance(5)
    outcome = {"result": "purchased", "number_id": "pn_1"}
    await store.audit_outcome(A, "a1", "succeeded", outcome)
    [done] = await store.audit_page(A, limit=10)
    assert (done.status, done.outcome, done.finished_at, done.seq) == (
        "succeeded",
        outcome,
        clock.now,
        entry.seq,
    )
    assert done.quote == {"first_charge_cents": 350}
    assert await store.audit_unfinished(A) == []

    # An outcome may be revised (unknown, then reconciled).
    await store.audit_outcome(A, "a1", "reconciled", {"reconciled": True})
    [again] = await store.audit_page(A, limit=10)
    assert (again.status, again.outcome) == ("reconciled", {"reconciled": True})


async def test_audit_entry_without_quote(store: StateStore) -> None:
    await store.audit_intent(intent("a1", quote=None, confirmation="none", arguments={}))
    [entry] = await store.audit_page(A, limit=1)
    assert entry.quote is None and entry.arguments == {} and entry.confirmation == "none"


async def test_audit_paging(store: StateStore) -> None:
    for i in range(5):
        await store.audit_intent(intent(f"a{i}", created_at=float(i)))
    page = await store.audit_page(A, limit=2)
    assert [e.id for e in page] == ["a4", "a3"]
    seqs = [e.seq for e in page]
    assert seqs[0] is not None and seqs[1] is not None and seqs[0] > seqs[1]
    page2 = await store.audit_page(A, limit=2, before=page[-1].seq)
    assert [e.id for e in page2] == ["a2", "a1"]
    page3 = await store.audit_page(A, limit=2, before=page2[-1].seq)
    assert [e.id for e in page3] == ["a0"]
    assert await store.audit_page(A, limit=2, before=page3[-1].seq) == []
    assert [e.id for e in await store.audit_page(A, limit=100)] == ["a4", "a3", "a2", "a1", "a0"]
    assert await store.audit_page(A, limit=0) == []
    # `before` is exclusive
    assert [e.id for e in await store.audit_page(A, limit=1, before=page[0].seq)] == ["a3"]


async def test_audit_unfinished_all_tenants_oldest_first(store: StateStore) -> None:
    await store.audit_intent(intent("a1", A))
    await store.audit_intent(intent("b1", B))
    await store.audit_intent(intent("a2", A))
    await store.audit_intent(intent("b2", B))
    await store.audit_outcome(A, "a1", "failed", {"error": "declined"})
    assert [e.id for e in await store.audit_unfinished()] == ["b1", "a2", "b2"]
    assert [e.id for e in await store.audit_unfinished(A)] == ["a2"]
    assert [e.id for e in await store.audit_unfinished(B)] == ["b1", "b2"]
    assert await store.audit_unfinished("t_nobody") == []


async def test_audit_duplicate_and_unknown_ids(store: StateStore) -> None:
    await store.audit_intent(intent("a1", tool="purchase_number"))
    await store.audit_intent(intent("a1", tool="release_number"))  # a retry: the first record stays
    [entry] = await store.audit_page(A, limit=10)
    assert entry.tool == "purchase_number"
    await store.audit_outcome(A, "unknown_id", "failed", {"error": "x"})  # no-op
    assert len(await store.audit_page(A, limit=10)) == 1


async def test_audit_statuses_are_checked(store: StateStore) -> None:
    with pytest.raises(ValueError):
        await store.audit_intent(intent("a1", status="bogus"))
    await store.audit_intent(intent("a1"))
    with pytest.raises(ValueError):
        await store.audit_outcome(A, "a1", "bogus", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await store.audit_outcome(A, "a1", "intent", {})
    assert [e.status for e in await store.audit_page(A, limit=1)] == ["intent"]


async def test_driver_errors_become_store_errors(backend: Backend, store: StateStore) -> None:
    await backend.execute("DROP TABLE {s}spend")
    with pytest.raises(StoreError, match="reserve_spend failed"):
        await store.reserve_spend(A, "r1", 1, budget_cents=10, window_seconds=DAY)
    with pytest.raises(StoreError, match="spent_in_window failed"):
        await store.spent_in_window(A, DAY)
    # The store is still usable for everything else.
    assert await store.use_token(A, "tok", 2e9)
    assert (await store.claim_request(A, "k", "d")).state == "new"


# -- tenants --------------------------------------------------------------------------------------


async def test_tenant_isolation(store: StateStore, clock: FakeClock) -> None:
    # offers
    await store.remember_offers(A, [offer(monthly=1)], ttl_seconds=600)
    assert await store.get_offer(B, "inv_1") is None
    await store.remember_offers(B, [offer(monthly=2)], ttl_seconds=600)
    assert (await store.get_offer(A, "inv_1")).monthly_cost_cents == 1  # type: ignore[union-attr]
    assert (await store.get_offer(B, "inv_1")).monthly_cost_cents == 2  # type: ignore[union-attr]
    # tokens
    assert await store.use_token(A, "tok", clock.now + 60)
    assert await store.use_token(B, "tok", clock.now + 60)
    # ledger: B's spend does not touch A's budget, nor can B settle A's reservation
    assert await store.reserve_spend(A, "r1", 1000, budget_cents=1000, window_seconds=DAY)
    assert await store.reserve_spend(B, "r1", 1000, budget_cents=1000, window_seconds=DAY)
    await store.settle_spend(B, "r1", spent=False)
    assert await store.spent_in_window(A, DAY) == 1000
    assert await store.spent_in_window(B, DAY) == 0
    # requests
    assert (await store.claim_request(A, "k", "d_a")).state == "new"
    assert (await store.claim_request(B, "k", "d_b")).state == "new"
    await store.finish_request(B, "k", {"tenant": "b"})
    await store.release_request(B, "k")
    assert (await store.claim_request(A, "k", "d_a")).state == "in_progress"
    assert await store.claim_request(B, "k", "d_b") == RequestClaim("done", {"tenant": "b"})
    # audit
    await store.audit_intent(intent("a1", A))
    await store.audit_intent(intent("b1", B))
    await store.audit_outcome(B, "a1", "failed", {"error": "not yours"})
    assert [(e.id, e.status) for e in await store.audit_page(A, limit=10)] == [("a1", "intent")]
    assert [e.id for e in await store.audit_page(B, limit=10)] == ["b1"]
    assert [e.id for e in await store.audit_unfinished(A)] == ["a1"]


# -- lifecycle and migrations ---------------------------------------------------------------------


async def test_reopen_keeps_everything(backend: Backend, clock: FakeClock) -> None:
    first = await backend.open(clock)
    await first.remember_offers(A, [offer()], ttl_seconds=600)
    await first.use_token(A, "tok", clock.now + 600)
    await first.reserve_spend(A, "r1", 500, budget_cents=None, window_seconds=DAY)
    await first.claim_request(A, "k", "d")
    await first.audit_intent(intent("a1"))
    await first.close()
    await first.close()  # closing twice is fine

    second = await backend.open(clock)
    assert await backend.scalar("SELECT MAX(version) FROM {s}schema_version") == LATEST
    assert await second.get_offer(A, "inv_1") == offer()
    assert not await second.use_token(A, "tok", clock.now + 600)
    assert await second.spent_in_window(A, DAY) == 500
    assert (await second.claim_request(A, "k", "d")).state == "in_progress"
    assert [e.id for e in await second.audit_page(A, limit=5)] == ["a1"]
    assert await backend.scalar("SELECT COUNT(*) FROM {s}schema_version") == LATEST


async def test_store_use_after_close_raises_store_error(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.get_offer(A, "inv_1")
    with pytest.raises(StoreError, match="closed"):
        await store.reserve_spend(A, "r", 1, budget_cents=None, window_seconds=DAY)


async def test_older_schema_is_migrated(backend: Backend, clock: FakeClock) -> None:
    await backend.migrate_to(1)  # as an older kros-mcp left it: offers and tokens only
    assert await backend.scalar("SELECT MAX(version) FROM {s}schema_version") == 1
    text = json.dumps(dataclasses.asdict(offer()))
    await backend.execute(
        "INSERT INTO {s}offers (tenant, inventory_id, offer, expires_at) "
        f"VALUES ('{A}', 'inv_1', '{text}', {clock.now + 600})",
        "INSERT INTO {s}used_tokens (tenant, token_id, used_at, expires_at) "
        f"VALUES ('{A}', 'tok', {clock.now}, {clock.now + 600})",
    )
    store = await backend.open(clock)
    assert await backend.scalar("SELECT MAX(version) FROM {s}schema_version") == LATEST
    assert await store.get_offer(A, "inv_1") == offer()
    assert not await store.use_token(A, "tok", clock.now + 600)
    assert await store.reserve_spend(A, "r1", 100, budget_cents=100, window_seconds=DAY)
    assert (await store.claim_request(A, "k", "d")).state == "new"
    await store.audit_intent(intent("a1"))
    assert len(await store.audit_unfinished()) == 1


async def test_newer_schema_is_refused(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    await store.remember_offers(A, [offer()], ttl_seconds=600)
    await store.close()
    await backend.execute("INSERT INTO {s}schema_version (version, applied_at) VALUES (999, 0)")
    with pytest.raises(StoreError, match="upgrade kros-mcp") as info:
        await backend.open(clock)
    assert "999" in str(info.value)
    # Nothing was changed by the refused open.
    assert await backend.scalar("SELECT COUNT(*) FROM {s}offers") == 1


async def test_concurrent_opens_migrate_once(backend: Backend, clock: FakeClock) -> None:
    stores = await backend.run_parallel([partial(backend.open, clock) for _ in range(6)])
    assert await backend.scalar("SELECT COUNT(*) FROM {s}schema_version") == LATEST
    for store in stores:
        assert await store.spent_in_window(A, DAY) == 0


# -- concurrency: several store objects (connections) on one database -----------------------------


async def test_budget_holds_under_concurrent_reservations(
    backend: Backend, clock: FakeClock
) -> None:
    stores = [await backend.open(clock) for _ in range(4)]
    calls = [
        partial(stores[i % 4].reserve_spend, A, f"r{i}", 300, budget_cents=3000, window_seconds=DAY)
        for i in range(40)
    ]
    results = await backend.run_parallel(calls)
    assert results.count(True) == 10
    assert await stores[0].spent_in_window(A, DAY) == 3000


async def test_one_claim_wins(backend: Backend, clock: FakeClock) -> None:
    stores = [await backend.open(clock) for _ in range(4)]
    calls = [partial(stores[i % 4].claim_request, A, "key", "digest") for i in range(20)]
    claims = await backend.run_parallel(calls)
    assert [c.state for c in claims].count("new") == 1
    assert {c.state for c in claims} == {"new", "in_progress"}


async def test_one_token_use_wins(backend: Backend, clock: FakeClock) -> None:
    stores = [await backend.open(clock) for _ in range(4)]
    calls = [partial(stores[i % 4].use_token, A, "tok", clock.now + 600) for i in range(20)]
    results = await backend.run_parallel(calls)
    assert results.count(True) == 1


# -- SQLite only ----------------------------------------------------------------------------------


def _reserve_in_process(path: str, barrier: object, results: object, worker: int) -> None:
    """One process: 20 reservations of 300 cents against a 3,000-cent budget, after a barrier."""
    store = SQLiteStateStore(path)

    async def go() -> int:
        won = 0
        for i in range(20):
            won += await store.reserve_spend(
                A, f"p{worker}_{i}", 300, budget_cents=3000, window_seconds=DAY
            )
        await store.close()
        return won

    barrier.wait(timeout=60)  # type: ignore[attr-defined]
    try:
        results.put(asyncio.run(go()))  # type: ignore[attr-defined]
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        results.put(repr(e))  # type: ignore[attr-defined]


async def test_sqlite_budget_holds_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    SQLiteStateStore(path)  # create the schema before the race
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_reserve_in_process, args=(path, barrier, results, w)) for w in range(4)
    ]
    for p in procs:
        p.start()
    try:
        won = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
    assert all(isinstance(w, int) for w in won), won
    assert sum(won) == 10
    store = SQLiteStateStore(path)
    assert await store.spent_in_window(A, DAY) == 3000
    await store.close()


async def test_sqlite_legacy_file_is_adopted(tmp_path: Path) -> None:
    """A file from before versioned schemas (offers and used_tokens, no schema_version)."""
    path = tmp_path / "state.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        CREATE TABLE offers (tenant TEXT NOT NULL, inventory_id TEXT NOT NULL, offer TEXT NOT NULL,
                             expires_at REAL NOT NULL, PRIMARY KEY (tenant, inventory_id));
        CREATE TABLE used_tokens (tenant TEXT NOT NULL, token_id TEXT NOT NULL, used_at REAL NOT NULL,
                                  expires_at REAL NOT NULL, PRIMARY KEY (tenant, token_id));
    """)
    conn.execute(
        "INSERT OR REPLACE INTO offers VALUES (?, ?, ?, ?)",
        (A, "inv_1", json.dumps(dataclasses.asdict(offer())), 2e9),
    )
    conn.close()
    clock = FakeClock()
    store = SQLiteStateStore(path, clock=clock)
    assert store.schema_version == LATEST
    assert await store.get_offer(A, "inv_1") == offer()
    assert await store.reserve_spend(A, "r1", 1, budget_cents=1, window_seconds=DAY)
    await store.close()


async def test_sqlite_bad_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"state\.sqlite3"):
        SQLiteStateStore(path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError):
        SQLiteStateStore(blocker / "sub" / "state.sqlite3")


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite3")
    conn = sqlite3.connect(tmp_path / "state.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    await store.close()


async def test_sqlite_in_memory(tmp_path: Path) -> None:
    store = SQLiteStateStore(":memory:")
    assert await store.use_token(A, "tok", 2e9)
    assert not await store.use_token(A, "tok", 2e9)
    await store.close()


# -- open_store -----------------------------------------------------------------------------------


async def test_open_store_sqlite_paths(tmp_path: Path) -> None:
    for target in (tmp_path / "a" / "state.sqlite3", str(tmp_path / "b.sqlite3")):
        store = await open_store(target)
        assert isinstance(store, SQLiteStateStore)
        assert await store.use_token(A, "tok", 2e9)
        await store.close()
    assert (tmp_path / "a" / "state.sqlite3").exists() and (tmp_path / "b.sqlite3").exists()


@pytest.mark.skipif(POSTGRES_URL is None, reason=POSTGRES_SKIP_REASON)
async def test_open_store_postgres_url() -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    assert POSTGRES_URL is not None
    schema = "kros_test_open_" + secrets.token_hex(6)
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # No schema argument: the tables go where the connection's search_path says.
        assert "options" not in conninfo_to_dict(POSTGRES_URL)
        sep = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
        for variant in (url, url.replace("postgresql://", "postgres://", 1)):
            store = await open_store(variant)
            assert isinstance(store, PostgresStateStore)
            assert await store.reserve_spend(A, "r", 5, budget_cents=None, window_seconds=DAY)
            await store.close()
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
            cur = await conn.execute(f'SELECT SUM(amount_cents) FROM "{schema}".spend')
            assert (await cur.fetchone())[0] == 5  # type: ignore[index]
    finally:
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.skipif(POSTGRES_URL is None, reason=POSTGRES_SKIP_REASON)
async def test_postgres_password_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    assert POSTGRES_URL is not None
    password = conninfo_to_dict(POSTGRES_URL).get("password") or "Sekrit-Pw-1234"
    # (With trust authentication the server ignores a password it did not ask for.)
    conninfo = make_conninfo(POSTGRES_URL, password=password)
    caplog.set_level(logging.DEBUG)
    store = await PostgresStateStore.open(conninfo, schema="kros_test_pw_" + secrets.token_hex(6))
    try:
        assert password not in repr(store) and password not in store.where
        assert await store.reserve_spend(A, "r", 1, budget_cents=None, window_seconds=DAY)
    finally:
        async with store._connection("cleanup") as conn:
            await conn.execute(f'DROP SCHEMA "{store.schema}" CASCADE')
    try:
        with pytest.raises(StoreError) as info:  # its tables are gone
            await store.spent_in_window(A, DAY)
        assert "spent_in_window failed" in str(info.value) and password not in str(info.value)
    finally:
        await store.close()
    assert password not in caplog.text


async def test_unreachable_postgres_raises_store_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = "postgresql://kros:Hunter2-secret@127.0.0.1:1/kros_state"
    for opener in (partial(PostgresStateStore.open, url), partial(open_store, url)):
        with pytest.raises(StoreError) as info:
            await opener()
        message = str(info.value)
        assert "cannot reach PostgreSQL at 127.0.0.1:1/kros_state" in message
        assert "Hunter2-secret" not in message and "Hunter2-secret" not in repr(info.value)
        assert info.value.__cause__ is None or "Hunter2-secret" not in str(info.value.__cause__)
        assert info.value.code == "STATE_STORE_ERROR"
    assert "Hunter2-secret" not in caplog.text


async def test_bad_postgres_url_raises_store_error() -> None:
    with pytest.raises(StoreError) as info:
        await PostgresStateStore.open("postgresql://kros:Hunter2-secret@127.0.0.1:notaport/db")
    assert "Hunter2-secret" not in str(info.value)
    with pytest.raises(StoreError) as info:
        await PostgresStateStore.open("postgresql://kros:Hunter2%zz@127.0.0.1/db")
    assert "Hunter2" not in str(info.value)
    with pytest.raises(StoreError, match="schema name"):
        await PostgresStateStore.open("postgresql://127.0.0.1:1/db", schema='bad"; DROP')
