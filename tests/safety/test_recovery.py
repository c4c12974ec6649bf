"""Recovery: which unsettled writes may be settled, and how each unfinished state is settled
against what KrosAI shows, the ledger and the confirmation claims included."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from kros_mcp.krosai import KrosAIClient
from kros_mcp.safety import DAY, ProcessIdentity, Scope, Sweep, possibly_live, reconcile
from kros_mcp.store import AuditEntry, ProcessBeat, StateStore

from .helpers import TENANT, FakeKrosAI, scope_for

pytestmark = pytest.mark.anyio

NUMBER = "+2348031234567"
OFFER_QUOTE = {
    "inventory_id": "inv_ng_1",
    "number": NUMBER,
    "country": "NG",
    "type": "local",
    "setup_cost_cents": 100,
    "monthly_cost_cents": 200,
    "first_charge_cents": 300,
}
NOW = 1_900_000_000.0
ME = ProcessIdentity("p_me", "host-a", 4242)


def _entry(status: str = "intent", owner: str | None = None, age: float = 0.0) -> AuditEntry:
    return AuditEntry(
        "au_1",
        TENANT,
        "purchase_number",
        {},
        "none",
        NOW - age,
        status=status,  # type: ignore[arg-type]
        owner=owner,
    )


@pytest.mark.parametrize(
    ("entry", "beats", "in_flight", "live"),
    [
        pytest.param(_entry("unknown", "p_me"), {}, {"au_1"}, False, id="unknown-is-over"),
        pytest.param(_entry(owner="p_me"), {}, {"au_1"}, True, id="mine-in-flight"),
        pytest.param(_entry(owner="p_me"), {}, set(), False, id="mine-abandoned"),
        pytest.param(
            _entry(owner="p_b"),
            {"p_b": ProcessBeat("p_b", "host-b", 7, NOW - 5)},
            set(),
            True,
            id="other-host-beating",
        ),
        pytest.param(
            _entry(owner="p_b"),
            {"p_b": ProcessBeat("p_b", "host-b", 7, NOW - 500)},
            set(),
            False,
            id="other-host-silent",
        ),
        pytest.param(
            _entry(owner="p_b"),
            {"p_b": ProcessBeat("p_b", "host-a", 4242, NOW - 1)},
            set(),
            False,
            id="my-pid-before-a-restart",
        ),
        pytest.param(
            _entry(owner="p_b"),
            {"p_b": ProcessBeat("p_b", "host-a", 2**22 + 17, NOW - 1)},
            set(),
            False,
            id="same-host-pid-gone",
        ),
        pytest.param(_entry(owner="p_gone", age=10), {}, set(), True, id="no-record-young"),
        pytest.param(_entry(owner=None, age=1000), {}, set(), False, id="no-record-old"),
    ],
)
def test_liveness(
    entry: AuditEntry, beats: dict[str, ProcessBeat], in_flight: set[str], live: bool
) -> None:
    me = ProcessIdentity(ME.id, ME.host, ME.pid, set(in_flight))
    assert possibly_live(entry, beats, me=me, now=NOW, lease=180, grace=120) is live


def test_a_live_pid_on_this_host_counts_while_it_beats() -> None:
    import os

    parent = os.getppid()  # alive, and not this process
    me = ProcessIdentity("p_me", "host-a", os.getpid())
    fresh = {"p_b": ProcessBeat("p_b", "host-a", parent, NOW - 5)}
    stale = {"p_b": ProcessBeat("p_b", "host-a", parent, NOW - 500)}
    entry = _entry(owner="p_b")
    assert possibly_live(entry, fresh, me=me, now=NOW, lease=180, grace=120) is True
    assert possibly_live(entry, stale, me=me, now=NOW, lease=180, grace=120) is False


# -- settling each unfinished state ---------------------------------------------------------


async def _purchase_intent(
    scope: Scope, *, status: str = "intent", dedupe: str | None = "token:t1"
) -> AuditEntry:
    if dedupe:
        assert (await scope.claim(dedupe, "digest")).state == "new"
    attempt = await scope.begin(
        "purchase_number",
        {"inventory_id": "inv_ng_1", "dedupe": dedupe},
        confirmation="token",
        quote=OFFER_QUOTE,
        reserve_cents=300,
        claim_key=dedupe,
    )
    if status == "unknown":
        await attempt.unknown("KrosAI's answer was lost", "PURCHASE_OUTCOME_UNKNOWN")
    else:
        attempt.abandon()  # the call died here
    return attempt.entry


async def _settle(scope: Scope, krosai: FakeKrosAI) -> tuple[int, dict[str, Any]]:
    settled = await reconcile(scope, cast(KrosAIClient, krosai), grace=120, lease=180)
    (entry,) = [
        e for e in await scope.store.audit_page(TENANT, limit=50) if e.tool == "purchase_number"
    ]
    return settled, {"status": entry.status, **(entry.outcome or {})}


@pytest.mark.parametrize("status", ["intent", "unknown"])
async def test_purchase_found_owned_is_spent_and_replays(
    store: StateStore, process: ProcessIdentity, status: str
) -> None:
    scope = scope_for(store, process)
    await _purchase_intent(scope, status=status)
    krosai = FakeKrosAI()
    krosai.own("pn_1", NUMBER, "inv_ng_1")
    assert await _settle(scope, krosai) == (
        1,
        {"status": "reconciled", "result": "purchased", "number_id": "pn_1", "number": NUMBER},
    )
    assert await store.spent_in_window(TENANT, DAY) == 300
    replay = await scope.claim("token:t1", "digest")
    assert replay.state == "done" and replay.result is not None
    assert replay.result["status"] == "purchased" and "pn_1" in replay.result["message"]


async def test_purchase_released_since_is_spent(
    store: StateStore, process: ProcessIdentity
) -> None:
    """Bought, then released before recovery: not owned any more, yet the money was spent."""
    scope = scope_for(store, process)
    await _purchase_intent(scope, status="unknown")
    release = await scope.begin(
        "release_number", {"number_id": "pn_1", "number": NUMBER}, confirmation="elicitation"
    )
    await release.succeeded({"result": "released"})
    krosai = FakeKrosAI()
    krosai.offer("inv_ng_1", NUMBER)  # back in the pool, for sale again
    settled, outcome = await _settle(scope, krosai)
    assert settled == 1 and outcome["result"] == "purchased"
    assert await store.spent_in_window(TENANT, DAY) == 300
    assert (await scope.claim("token:t1", "digest")).state == "done"


async def test_purchase_still_for_sale_is_released(
    store: StateStore, process: ProcessIdentity
) -> None:
    scope = scope_for(store, process)
    await _purchase_intent(scope)
    krosai = FakeKrosAI()
    krosai.offer("inv_ng_1", NUMBER)
    assert await _settle(scope, krosai) == (1, {"status": "reconciled", "result": "not_purchased"})
    assert await store.spent_in_window(TENANT, DAY) == 0
    assert (await scope.claim("token:t1", "digest")).state == "new"  # the token may act now


async def test_purchase_neither_owned_nor_for_sale_stays_counted(
    store: StateStore, process: ProcessIdentity
) -> None:
    scope = scope_for(store, process)
    await _purchase_intent(scope, dedupe=None)
    settled, outcome = await _settle(scope, FakeKrosAI())
    assert settled == 1 and outcome["result"] == "not_owned"
    assert await store.spent_in_window(TENANT, DAY) == 300


async def test_nothing_is_settled_while_krosai_is_down(
    store: StateStore, process: ProcessIdentity
) -> None:
    scope = scope_for(store, process)
    await _purchase_intent(scope)
    krosai = FakeKrosAI()
    krosai.down = True
    assert await _settle(scope, krosai) == (0, {"status": "intent"})
    assert await store.spent_in_window(TENANT, DAY) == 300


async def test_a_write_in_flight_is_left_alone(store: StateStore, process: ProcessIdentity) -> None:
    scope = scope_for(store, process)
    attempt = await scope.begin(
        "purchase_number", {"inventory_id": "inv_ng_1"}, confirmation="none", quote=OFFER_QUOTE
    )
    krosai = FakeKrosAI()
    assert await reconcile(scope, cast(KrosAIClient, krosai), grace=120, lease=180) == 0
    assert krosai.calls == []
    attempt.abandon()
    assert await reconcile(scope, cast(KrosAIClient, krosai), grace=120, lease=180) == 1


@pytest.mark.parametrize("gone", [True, False])
async def test_release(store: StateStore, process: ProcessIdentity, gone: bool) -> None:
    scope = scope_for(store, process)
    assert (await scope.claim("token:r1", "digest")).state == "new"
    attempt = await scope.begin(
        "release_number",
        {"number_id": "pn_1", "number": NUMBER, "dedupe": "token:r1"},
        confirmation="token",
        claim_key="token:r1",
    )
    await attempt.unknown("lost", "TRANSPORT_ERROR")
    krosai = FakeKrosAI()
    if not gone:
        krosai.own("pn_1", NUMBER)
    assert await reconcile(scope, cast(KrosAIClient, krosai), grace=120, lease=180) == 1
    (entry,) = await store.audit_page(TENANT, limit=5)
    assert entry.status == "reconciled"
    assert entry.outcome == (
        {"result": "released"} if gone else {"result": "not_released", "number": NUMBER}
    )
    assert (await scope.claim("token:r1", "digest")).state == ("done" if gone else "new")


@pytest.mark.parametrize("gone", [True, False])
async def test_routing(store: StateStore, process: ProcessIdentity, gone: bool) -> None:
    scope = scope_for(store, process)
    attempt = await scope.begin(
        "update_routing", {"number_id": "pn_1", "number": NUMBER}, confirmation="none"
    )
    attempt.abandon()
    krosai = FakeKrosAI()
    if not gone:
        krosai.own("pn_1", NUMBER, endpoint_id="ep_a", allow_inbound=True, allow_outbound=False)
    assert await reconcile(scope, cast(KrosAIClient, krosai), grace=120, lease=180) == 1
    (entry,) = await store.audit_page(TENANT, limit=5)
    expected = (
        {"result": "number_gone"}
        if gone
        else {
            "result": "current_routing",
            "endpoint_id": "ep_a",
            "allow_inbound": True,
            "allow_outbound": False,
        }
    )
    assert entry.outcome == expected


async def test_sweep_beats_settles_and_purges(store: StateStore, process: ProcessIdentity) -> None:
    scope = scope_for(store, process)
    await _purchase_intent(scope, status="unknown")
    await store.audit_intent(
        AuditEntry(
            "au_ancient",
            TENANT,
            "update_routing",
            {},
            "none",
            time.time() - 900 * DAY,
            status="succeeded",
        )
    )
    krosai = FakeKrosAI()
    krosai.own("pn_1", NUMBER, "inv_ng_1")
    sweep = Sweep(
        store=store,
        targets=lambda: [(scope, cast(KrosAIClient, krosai))],
        process=process,
        interval=0.1,
        grace=120,
        audit_days=400,
        request_days=7,
    )
    assert await sweep.once() == 1
    beats = await store.process_beats([process.id])
    assert beats[process.id].pid == process.pid and beats[process.id].host == process.host
    assert "au_ancient" not in {e.id for e in await store.audit_page(TENANT, limit=10)}
    assert await sweep.once() == 0  # nothing left
