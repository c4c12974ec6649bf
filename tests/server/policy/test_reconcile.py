"""Start-up reconciliation: writes left unfinished by a crash are settled against KrosAI on the next start."""

from __future__ import annotations

import time
from typing import Any

import pytest

import kros_mcp.sandbox as sandbox_module
from kros_mcp.sandbox.faults import Fault
from kros_mcp.store import AuditEntry, SQLiteStateStore
from tests.support.harness import Harness

from .helpers import audit_of, other_harness, policy_of, run_cli

pytestmark = pytest.mark.anyio

DAY = 86_400.0
# Intents are dated hours back, as a crash would leave them: well clear of any in-flight grace period.
HOUR = 3_600.0


def _purchase_entry(
    tenant: str, id_: str, offer: dict[str, Any], dedupe: str | None, ago: float
) -> AuditEntry:
    return AuditEntry(
        id=id_,
        tenant=tenant,
        tool="purchase_number",
        confirmation="token" if dedupe else "none",
        created_at=time.time() - ago,
        arguments={
            "inventory_id": offer["inventory_id"],
            "endpoint_id": None,
            "allow_inbound": True,
            "allow_outbound": True,
            "dedupe": dedupe,
        },
        quote={
            "inventory_id": offer["inventory_id"],
            "number": offer["number"],
            "country": "NG",
            "type": offer["type"],
            "setup_cost_cents": offer["setup_cost_cents"],
            "monthly_cost_cents": offer["monthly_cost_cents"],
            "first_charge_cents": offer["first_charge_cents"],
        },
    )


def _release_entry(tenant: str, id_: str, number: dict[str, Any], ago: float) -> AuditEntry:
    return AuditEntry(
        id=id_,
        tenant=tenant,
        tool="release_number",
        confirmation="elicitation",
        created_at=time.time() - ago,
        arguments={"number_id": number["id"], "number": number["number"], "dedupe": None},
    )


async def test_unfinished_writes_are_settled_at_start(harness: Harness) -> None:
    # A first run: what KrosAI did, as seen from the sandbox, while the server's records were cut short.
    async with harness.connect() as s:
        tenant = s.deps.tenant
        found = await s.ok("search_available", {"country": "NG", "type": "local", "limit": 20})
        bought, not_bought, lost_answer = [
            o for o in found["offers"] if o["first_charge_cents"] == 300
        ][:3]
        for offer in (bought, lost_answer):
            await s.sandbox("POST", "/v1/phone-numbers", {"inventory_id": offer["inventory_id"]})
        released = await s.sandbox_buy("KE")
        kept = await s.sandbox_buy("GH")
        await s.sandbox("DELETE", f"/v1/phone-numbers/{released['id']}")
        owned_before = {n["id"]: n for n in await s.owned()}

    # The crash: intents (and their budget reservations) with no outcome, written as the server writes them.
    store = SQLiteStateStore(harness.data_dir / "state.sqlite3")
    try:
        entries = [
            _purchase_entry(tenant, "au_bought", bought, "token:t-bought", ago=5 * HOUR),
            _purchase_entry(
                tenant, "au_not_bought", not_bought, "token:t-not-bought", ago=4 * HOUR
            ),
            _release_entry(tenant, "au_released", released, ago=3 * HOUR),
            _release_entry(tenant, "au_kept", kept, ago=2 * HOUR),
            _purchase_entry(tenant, "au_lost_answer", lost_answer, None, ago=1 * HOUR),
        ]
        for entry in entries:
            if entry.tool == "purchase_number":
                assert await store.reserve_spend(
                    tenant, entry.id, 300, budget_cents=None, window_seconds=DAY
                )
            if entry.arguments.get("dedupe"):
                assert (
                    await store.claim_request(tenant, entry.arguments["dedupe"], "digest")
                ).state == "new"
            await store.audit_intent(entry)
        # A call whose answer was lost ended 'unknown' (its reservation kept): settled the same way.
        await store.audit_outcome(
            tenant, "au_lost_answer", "unknown", {"error": "KrosAI did not answer"}
        )
        assert await store.spent_in_window(tenant, DAY) == 900
        assert len(await store.audit_unfinished(tenant)) == 4
    finally:
        await store.close()

    # The restart.
    restarted = other_harness(harness, KROS_MCP_DAILY_BUDGET_CENTS=1000)
    async with restarted.connect() as s:
        audit = {e["id"]: e for e in (await audit_of(s))["entries"]}
        assert {e["status"] for e in audit.values()} == {"reconciled"}
        assert audit["au_bought"]["outcome"]["result"] == "purchased"
        assert (
            owned_before[audit["au_bought"]["outcome"]["number_id"]]["number"] == bought["number"]
        )
        assert audit["au_lost_answer"]["outcome"]["result"] == "purchased"
        assert audit["au_not_bought"]["outcome"] == {"result": "not_purchased"}
        assert audit["au_released"]["outcome"]["result"] == "released"
        assert audit["au_kept"]["outcome"] == {"result": "not_released", "number": kept["number"]}
        for entry in audit.values():
            assert entry["finished_at"] is not None

        # The ledger: the purchases that happened count against the budget, the one that did not is released.
        policy = await policy_of(s)
        assert policy["spent_last_24h_cents"] == 600 and policy["budget_left_cents"] == 400
        # Nothing upstream was touched by the reconciliation.
        assert {n["id"] for n in await s.owned()} == set(owned_before)

    store = SQLiteStateStore(harness.data_dir / "state.sqlite3")
    try:
        # A confirmation replayed after the restart gets the purchase's result, not a second purchase;
        # the confirmation of the purchase that did not happen may be used again.
        done = await store.claim_request(tenant, "token:t-bought", "digest")
        assert done.state == "done" and bought["number"] in done.result["message"]
        assert (await store.claim_request(tenant, "token:t-not-bought", "digest")).state == "new"
        assert await store.audit_unfinished() == []
    finally:
        await store.close()

    # A second start finds nothing left to settle and changes nothing.
    async with restarted.connect() as s:
        again = {e["id"]: e for e in (await audit_of(s))["entries"]}
        assert again == audit
        assert (await policy_of(s))["spent_last_24h_cents"] == 600

    table = run_cli(harness.data_dir, "audit")
    assert table.returncode == 0 and table.stdout.count(" reconciled ") == 5
    assert "not_purchased" in table.stdout and "not_released" in table.stdout


async def test_unfinished_writes_wait_while_krosai_is_down(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If KrosAI cannot be asked at start-up, the intent (and its reservation) waits for the next start,
    and the server serves meanwhile."""
    async with harness.connect() as s:
        tenant = s.deps.tenant
        offer = await s.offer("NG")
    store = SQLiteStateStore(harness.data_dir / "state.sqlite3")
    try:
        await store.reserve_spend(
            tenant, "au_pending", offer["first_charge_cents"], budget_cents=None, window_seconds=DAY
        )
        await store.audit_intent(_purchase_entry(tenant, "au_pending", offer, None, ago=2 * HOUR))
    finally:
        await store.close()

    real_create_app = sandbox_module.create_app

    def listing_down(*args: Any, **kwargs: Any) -> Any:
        app = real_create_app(*args, **kwargs)
        app.state.sandbox.faults.add(
            Fault(kind="error_before", operation="list", status=400, times=None)
        )
        return app

    monkeypatch.setattr(sandbox_module, "create_app", listing_down)
    async with harness.connect() as s:
        (entry,) = (await audit_of(s))["entries"]
        assert entry["status"] == "intent" and entry["outcome"] is None
        assert (await policy_of(s))["spent_last_24h_cents"] == offer[
            "first_charge_cents"
        ]  # still reserved
        assert (await s.ok("search_available", {"country": "NG", "limit": 1}))["offers"]

    monkeypatch.setattr(sandbox_module, "create_app", real_create_app)
    async with harness.connect() as s:
        (entry,) = (await audit_of(s))["entries"]
        assert entry["status"] == "reconciled" and entry["outcome"] == {"result": "not_purchased"}
        assert (await policy_of(s))["spent_last_24h_cents"] == 0
