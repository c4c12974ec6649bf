"""The record is complete and safe to show: who asked (never a host or a pid), cursors that are
checked, history purged past its retention, unknown outcomes settled while the server runs, and
a number bought then released counted as spent."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from kros_mcp.krosai import ReconcilePolicy
from kros_mcp.safety import caller_fingerprint
from kros_mcp.server import context as context_module
from kros_mcp.store import AuditEntry, SQLiteStateStore
from tests.support.harness import START_BALANCE, Harness, Session

from .helpers import audit_of, other_harness, policy_of

pytestmark = pytest.mark.anyio

DAY = 86_400.0


async def test_audit_records_who_asked_and_never_where_the_server_runs(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        offer = await s.offer("NG")
        await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        principal = "bearer:0f9e8d7c6b5a-the-callers-credential"
        # What the HTTP transport's authentication hands the request (tests/http cover that part).
        caller = SimpleNamespace(principal=principal, api_key=None)
        monkeypatch.setattr(context_module, "current_principal", lambda: caller)
        number = (await s.owned())[0]
        await s.ok("update_routing", {"number_id": number["id"], "allow_outbound": False})
        audit = await audit_of(s)
    routing, purchase = audit["entries"]
    assert purchase["caller"] == "stdio"
    assert routing["caller"] == caller_fingerprint(principal) and routing["caller"].startswith("c_")
    text = json.dumps(audit)
    assert principal not in text and "0f9e8d7c6b5a" not in text
    assert "owner" not in text
    assert socket.gethostname() not in text and f":{os.getpid()}" not in text


@pytest.mark.parametrize("cursor", ["²", "١٢", "123456789012345678901234", "-1", "1e9", "12 "])
async def test_audit_cursor_is_checked_without_a_traceback(
    harness: Harness, cursor: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness.connect() as s:
        with pytest.raises(Exception) as refused:
            await audit_of(s, f"kros://audit/before/{cursor}")
        assert "next" in str(refused.value) and "kros://audit" in str(refused.value)
        assert (await audit_of(s, "kros://audit/before/999999999999999999"))["entries"] == []
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.exc_info] == []


def _old(entry_id: str, tenant: str, status: str, ago: float) -> AuditEntry:
    return AuditEntry(
        entry_id,
        tenant,
        "update_routing",
        {"number_id": "pn_old"},
        "none",
        time.time() - ago,
        status=status,  # type: ignore[arg-type]
        outcome=None if status == "intent" else {"result": "updated"},
        finished_at=None if status == "intent" else time.time() - ago,
    )


async def test_retention_purges_old_settled_history(harness: Harness) -> None:
    async with harness.connect() as s:
        tenant = s.deps.tenant
    store = SQLiteStateStore(harness.data_dir / "state.sqlite3")
    try:
        for entry in (
            _old("au_last_year", tenant, "succeeded", 40 * DAY),
            _old("au_last_month", tenant, "succeeded", 20 * DAY),
            _old("au_recent", tenant, "succeeded", 1 * DAY),
        ):
            await store.audit_intent(entry)
        for key in ("token:old", "token:new"):
            assert (await store.claim_request(tenant, key, "d")).state == "new"
            await store.finish_request(tenant, key, {"status": "released"})
    finally:
        await store.close()
    with sqlite3.connect(harness.data_dir / "state.sqlite3") as conn:  # written 3 days ago
        conn.execute(
            "UPDATE requests SET updated_at = ? WHERE key = 'token:old'", (time.time() - 3 * DAY,)
        )

    kept = other_harness(
        harness, KROS_MCP_AUDIT_RETENTION_DAYS=30, KROS_MCP_REQUEST_RETENTION_DAYS=2
    )
    async with kept.connect() as s:
        assert [e["id"] for e in (await audit_of(s))["entries"]] == ["au_recent", "au_last_month"]
    store = SQLiteStateStore(harness.data_dir / "state.sqlite3")
    try:
        assert (await store.claim_request(tenant, "token:old", "d")).state == "new"
        assert (await store.claim_request(tenant, "token:new", "d")).state == "done"
    finally:
        await store.close()


async def _unknown_purchase(s: Session) -> dict[str, Any]:
    """A purchase KrosAI commits while its answer is lost and owned numbers cannot be listed."""
    s.fast_retries()
    s.deps.client.reconcile = ReconcilePolicy(scan_delays=(0.0,), max_seconds=1.0)
    offer = await s.offer("NG")
    await s.fault("drop_after", "purchase")
    await s.fault("error_before", "list", times=None)
    await s.error("purchase_number", {"inventory_id": offer["inventory_id"]}, "OUTCOME UNKNOWN")
    await s.clear_faults()
    (entry,) = (await audit_of(s))["entries"]
    assert entry["status"] == "unknown" and entry["error_code"] == "PURCHASE_OUTCOME_UNKNOWN"
    assert len(await s.owned()) == 1  # it did go through
    return offer


async def test_the_sweep_settles_an_unknown_outcome_without_a_restart(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none", KROS_MCP_SWEEP_INTERVAL=0.2)
    async with harness.connect() as s:
        offer = await _unknown_purchase(s)
        with anyio.fail_after(10):
            while (entry := (await audit_of(s))["entries"][0])["status"] == "unknown":
                await anyio.sleep(0.1)
        assert entry["status"] == "reconciled" and entry["outcome"]["result"] == "purchased"
        assert entry["outcome"]["number_id"] == (await s.owned())[0]["id"]
        assert (await policy_of(s))["spent_last_24h_cents"] == offer["first_charge_cents"]
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]


async def test_bought_then_released_is_counted_as_spent(harness: Harness) -> None:
    """The number of an unknown purchase is released before recovery runs: KrosAI no longer lists
    it (and offers it for sale again), yet the money was spent."""
    harness.configure(KROS_MCP_CONFIRMATION="none", KROS_MCP_SWEEP_INTERVAL=3600)
    async with harness.connect() as s:
        offer = await _unknown_purchase(s)
        (number,) = await s.owned()
        await s.ok("release_number", {"number_id": number["id"]})
        assert await s.owned() == []
        assert any(
            o["inventory_id"] == offer["inventory_id"]
            for o in (await s.ok("search_available", {"country": "NG", "limit": 100}))["offers"]
        )
    restarted = other_harness(harness, KROS_MCP_CONFIRMATION="none")
    async with restarted.connect() as s:
        purchase = next(e for e in (await audit_of(s))["entries"] if e["tool"] == "purchase_number")
        assert purchase["status"] == "reconciled" and purchase["outcome"]["result"] == "purchased"
        assert (await policy_of(s))["spent_last_24h_cents"] == offer["first_charge_cents"]
