"""What the safety core keeps in the state store (schema v3), on every backend: who asked and the
error code of each outcome, refusals, single-use questions, process beats, retention, and the
migration that takes the old "host:pid" owner out of the recorded arguments."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial

import pytest

from kros_mcp.store import AuditEntry

from .backends import Backend, FakeClock

pytestmark = pytest.mark.anyio

A, B = "t_tenant_a", "t_tenant_b"
DAY = 86_400.0


def _entry(audit_id: str, tenant: str = A, **kwargs: object) -> AuditEntry:
    fields: dict[str, object] = dict(
        id=audit_id,
        tenant=tenant,
        tool="purchase_number",
        arguments={"inventory_id": "inv_1"},
        confirmation="token",
        created_at=1.0,
    )
    fields.update(kwargs)
    return AuditEntry(**fields)  # type: ignore[arg-type]


async def test_caller_error_code_owner_and_refusals(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    await store.audit_intent(_entry("a1", caller="c_0123", owner="p_1"))
    await store.audit_outcome(
        A, "a1", "failed", {"error": "low"}, error_code="INSUFFICIENT_BALANCE"
    )
    await store.audit_intent(
        _entry(
            "a2",
            status="refused",
            outcome={"result": "refused", "rule": "KROS_MCP_DAILY_BUDGET_CENTS"},
            error_code="BUDGET_EXCEEDED",
            finished_at=1.0,
        )
    )
    refused, failed = await store.audit_page(A, limit=10)
    assert (failed.caller, failed.owner, failed.error_code) == (
        "c_0123",
        "p_1",
        "INSUFFICIENT_BALANCE",
    )
    assert (refused.status, refused.error_code) == ("refused", "BUDGET_EXCEEDED")
    assert await store.audit_unfinished(A) == [] and await store.audit_unsettled(A) == []


async def test_unsettled_and_later_entries(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    for audit_id in ("a1", "a2", "a3", "a4"):
        await store.audit_intent(_entry(audit_id))
    await store.audit_intent(_entry("b1", B))
    await store.audit_outcome(A, "a2", "unknown", {"error": "lost"})
    await store.audit_outcome(A, "a3", "succeeded", {"result": "purchased"})
    assert [e.id for e in await store.audit_unsettled(A)] == ["a1", "a2", "a4"]
    assert [e.id for e in await store.audit_unsettled()] == ["a1", "a2", "a4", "b1"]
    first = (await store.audit_unsettled(A))[0]
    assert first.seq is not None
    assert [e.id for e in await store.audit_after(A, first.seq, limit=2)] == ["a2", "a3"]


async def test_a_question_is_answered_once(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    nonce = await store.open_question(A, "subject", "N1", 600)
    assert nonce == "N1"
    assert await store.open_question(A, "subject", "N2", 600) == "N1"  # still open: same question
    assert await store.open_question(B, "subject", "N3", 600) == "N3"  # per tenant
    assert not await store.take_question(A, "subject", "N3")
    assert await store.take_question(A, "subject", "N1")
    assert not await store.take_question(A, "subject", "N1")  # the same answer again
    assert await store.open_question(A, "subject", "N4", 600) == "N4"  # asked afresh
    clock.advance(601)
    assert not await store.take_question(A, "subject", "N4")  # expired
    assert await store.open_question(A, "subject", "N5", 600) == "N5"


async def test_concurrent_answers_act_once(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    other = await backend.open(clock)
    await store.open_question(A, "s", "N1", 600)
    calls: list[Callable[[], Awaitable[bool]]] = [
        partial(s.take_question, A, "s", "N1") for s in (store, other, store, other)
    ]
    taken = await backend.run_parallel(calls)
    assert sorted(taken) == [False, False, False, True]


async def test_process_beats(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    assert await store.process_beats([]) == {}
    await store.beat("p_1", "host-a", 11)
    clock.advance(5)
    await store.beat("p_1", "host-a", 11)
    await store.beat("p_2", "host-b", 22)
    beats = await store.process_beats(["p_1", "p_2", "p_none"])
    assert set(beats) == {"p_1", "p_2"}
    assert (beats["p_1"].host, beats["p_1"].pid, beats["p_1"].beat_at) == ("host-a", 11, clock.now)


async def test_purge_history(backend: Backend, clock: FakeClock) -> None:
    store = await backend.open(clock)
    old = clock.now - 30 * DAY
    await store.audit_intent(_entry("old_done", created_at=old, status="succeeded"))
    await store.audit_intent(_entry("old_intent", created_at=old))
    assert await store.reserve_spend(A, "old_done", 100, budget_cents=None, window_seconds=DAY)
    assert (await store.claim_request(A, "token:old", "d")).state == "new"
    await store.finish_request(A, "token:old", {"status": "purchased"})
    clock.advance(11 * DAY)
    await store.audit_intent(_entry("new_done", created_at=clock.now, status="succeeded"))
    assert await store.reserve_spend(A, "fresh", 100, budget_cents=None, window_seconds=DAY)
    assert (await store.claim_request(A, "token:fresh", "d")).state == "new"
    gone = await store.purge_history(
        audit_before=clock.now - 10 * DAY, requests_before=clock.now - 7 * DAY
    )
    assert gone == 3  # the old settled entry, its spend row, the old request record
    assert {e.id for e in await store.audit_page(A, limit=10)} == {"old_intent", "new_done"}
    assert (await store.claim_request(A, "token:old", "d")).state == "new"  # forgotten
    assert (await store.claim_request(A, "token:fresh", "d")).state == "in_progress"
    assert await store.spent_in_window(A, 365 * DAY) == 100


async def test_migration_drops_the_host_and_pid_owner(backend: Backend, clock: FakeClock) -> None:
    """Before v3 the owner ("host:pid") was kept among the arguments shown by kros://audit."""
    await backend.migrate_to(2)
    arguments = json.dumps({"inventory_id": "inv_1", "owner": "build-host:4242"})
    await backend.execute(
        "INSERT INTO {s}audit (id, tenant, tool, arguments, confirmation, status, created_at) "
        f"VALUES ('a1', '{A}', 'purchase_number', '{arguments}', 'token', 'intent', 1.0)"
    )
    store = await backend.open(clock)
    (entry,) = await store.audit_page(A, limit=5)
    assert entry.arguments == {"inventory_id": "inv_1"}
    assert (entry.caller, entry.error_code, entry.owner) == (None, None, None)
    assert [e.id for e in await store.audit_unsettled(A)] == ["a1"]
    await store.audit_intent(_entry("a2", status="refused", outcome={"result": "refused"}))
    assert [e.status for e in await store.audit_page(A, limit=5)] == ["refused", "intent"]
