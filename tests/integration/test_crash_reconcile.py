"""A real server process killed with SIGKILL between a purchase's intent and its outcome.

`python -m kros_mcp` runs over stdio against a standalone sandbox on a real socket (as if it were
KrosAI). A sandbox fault holds the purchase request open; the test kills the server while the
audit holds an intent without an outcome, then starts it again on the same data directory.
Start-up reconciliation must settle the intent against KrosAI's owned numbers:

- killed AFTER KrosAI committed (`latency_after`): reconciled as purchased; the confirmation token
  replays that purchase ("ALREADY USED") and buys nothing more; the spend is counted once.
- killed BEFORE KrosAI committed (`latency` before the write, longer than the test): reconciled as
  not purchased; nothing owned or spent; the same token may then buy, exactly once.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from kros_mcp.sandbox import SANDBOX_API_KEY
from kros_mcp.store import AuditEntry, SQLiteStateStore, tenant_key
from tests.support.results import text_of
from tests.support.sandbox_process import (
    RunningServer,
    SandboxProcess,
    process_gone,
    read_json_resource,
    stdio_server,
    wait_until,
)

pytestmark = pytest.mark.anyio

TENANT = tenant_key(SANDBOX_API_KEY)
DAY = 86_400
# The sandbox holds the purchase far longer than the test runs (it is stopped at teardown).
HOLD_SECONDS = 120.0


def _server_env(sandbox: SandboxProcess, data_dir: Path) -> dict[str, str]:
    return {
        "KROSAI_API_KEY": sandbox.api_key,
        "KROSAI_BASE_URL": sandbox.base_url,
        "KROS_MCP_DATA_DIR": str(data_dir),
        "KROS_MCP_CONFIRMATION": "auto",
    }


async def _offer_and_token(server: RunningServer) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Search, then ask to buy the first offer: no elicitation here, so a confirmation token."""
    found = await server.client.call_tool("search_available", {"country": "KE", "limit": 3})
    assert found.is_error is False, text_of(found)
    offer = found.structured_content["offers"][0]
    arguments = {"inventory_id": offer["inventory_id"]}
    first = await server.client.call_tool("purchase_number", arguments)
    assert first.is_error is False, text_of(first)
    assert first.structured_content["status"] == "confirmation_required", first.structured_content
    return offer, arguments, first.structured_content["confirmation_token"]


async def _kill_during_purchase(
    server: RunningServer, arguments: dict[str, Any], *, until: Any, what: str
) -> None:
    """Call purchase_number; once `until()` holds, SIGKILL the server. The call never answers."""
    answered: dict[str, Any] = {}

    async def purchase() -> None:
        try:
            answered["result"] = await server.client.call_tool("purchase_number", arguments)
        except Exception as exc:  # noqa: BLE001 - the connection dies with the server
            answered["error"] = exc

    async with anyio.create_task_group() as tg:
        tg.start_soon(purchase)
        await wait_until(until, timeout=15, what=what)
        os.kill(server.pid, signal.SIGKILL)

        async def dead() -> bool:
            return process_gone(server.pid)

        await wait_until(dead, timeout=10, what="the killed server to exit")
        tg.cancel_scope.cancel()
    assert "result" not in answered, f"the purchase answered before the kill: {answered['result']}"


async def _unfinished(data_dir: Path) -> tuple[list[AuditEntry], int]:
    """What the killed server left in its state store: intents without outcome, and the spend."""
    store = SQLiteStateStore(data_dir / "state.sqlite3")
    try:
        return await store.audit_unfinished(TENANT), await store.spent_in_window(TENANT, DAY)
    finally:
        await store.close()


def _entry(audit: dict[str, Any], audit_id: str) -> dict[str, Any]:
    return next(e for e in audit["entries"] if e["id"] == audit_id)


async def test_killed_after_the_sandbox_committed_is_reconciled_as_purchased(
    sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    sandbox = sandbox_process
    data_dir = tmp_path / "server-data"
    env = _server_env(sandbox, data_dir)
    with anyio.fail_after(45):
        async with stdio_server(tmp_path, "run-1", env) as server:
            offer, arguments, token = await _offer_and_token(server)
            # KrosAI commits the purchase, then takes its time answering.
            await sandbox.arm("latency_after", "purchase", seconds=HOLD_SECONDS)

            async def committed() -> bool:
                return bool(await sandbox.purchases())

            await _kill_during_purchase(
                server,
                {**arguments, "confirmation_token": token},
                until=committed,
                what="the sandbox to commit the purchase",
            )

        price = offer["first_charge_cents"]
        purchases, owned = await sandbox.purchases(), await sandbox.owned()
        assert [(t["inventory_id"], -t["amount_cents"]) for t in purchases] == [
            (offer["inventory_id"], price)
        ]
        assert [n["number"] for n in owned] == [offer["number"]]

        # The killed server left an intent without an outcome, and its spend reserved.
        unfinished, reserved = await _unfinished(data_dir)
        assert len(unfinished) == 1, unfinished
        intent = unfinished[0]
        assert (intent.tool, intent.status, intent.outcome) == ("purchase_number", "intent", None)
        assert intent.arguments["inventory_id"] == offer["inventory_id"]
        assert intent.confirmation == "token"
        assert reserved == price

        async with stdio_server(tmp_path, "run-2", env) as server:
            # Start-up reconciliation found the number among the owned ones.
            entry = _entry(await read_json_resource(server.client, "kros://audit"), intent.id)
            assert entry["status"] == "reconciled", entry
            assert entry["outcome"]["result"] == "purchased", entry
            assert entry["outcome"]["number_id"] == owned[0]["id"]

            # The same token replays the purchase instead of buying again.
            again = await server.client.call_tool(
                "purchase_number", {**arguments, "confirmation_token": token}
            )
            assert again.is_error is False, text_of(again)
            result = again.structured_content
            assert result["message"].startswith("ALREADY USED"), result
            # The earlier outcome, shown again: nothing was executed in this call.
            assert result["status"] == "purchased" and result["executed"] is False
            assert owned[0]["id"] in result["message"]

            policy = await read_json_resource(server.client, "kros://policy")
            assert policy["spent_last_24h_cents"] == price
            audit = await read_json_resource(server.client, "kros://audit")
        assert "reconciled 1 unfinished write" in server.stderr()

        assert len(await sandbox.purchases()) == 1
        assert [n["id"] for n in await sandbox.owned()] == [owned[0]["id"]]
        assert [e["status"] for e in audit["entries"] if e["tool"] == "purchase_number"] == [
            "reconciled"
        ]
        assert (await _unfinished(data_dir))[0] == []


async def test_killed_before_the_sandbox_committed_is_reconciled_as_not_purchased(
    sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    sandbox = sandbox_process
    data_dir = tmp_path / "server-data"
    env = _server_env(sandbox, data_dir)
    with anyio.fail_after(45):
        async with stdio_server(tmp_path, "run-1", env) as server:
            offer, arguments, token = await _offer_and_token(server)
            # KrosAI holds the request BEFORE writing anything, for longer than this test runs.
            await sandbox.arm("latency", "purchase", seconds=HOLD_SECONDS)

            async def held() -> bool:
                return not await sandbox.faults()  # the fault fired: the request is in, sleeping

            await _kill_during_purchase(
                server,
                {**arguments, "confirmation_token": token},
                until=held,
                what="the purchase request to reach the sandbox",
            )

        price = offer["first_charge_cents"]
        assert await sandbox.purchases() == []
        assert await sandbox.owned() == []
        unfinished, reserved = await _unfinished(data_dir)
        assert len(unfinished) == 1, unfinished
        intent = unfinished[0]
        assert (intent.tool, intent.status, intent.outcome) == ("purchase_number", "intent", None)
        assert reserved == price

        async with stdio_server(tmp_path, "run-2", env) as server:
            entry = _entry(await read_json_resource(server.client, "kros://audit"), intent.id)
            assert entry["status"] == "reconciled", entry
            assert entry["outcome"] == {"result": "not_purchased"}, entry
            policy = await read_json_resource(server.client, "kros://policy")
            assert policy["spent_last_24h_cents"] == 0
            assert await sandbox.purchases() == [] and await sandbox.owned() == []

            # Nothing was bought, so the same token may buy now, once.
            bought = await server.client.call_tool(
                "purchase_number", {**arguments, "confirmation_token": token}
            )
            assert bought.is_error is False, text_of(bought)
            result = bought.structured_content
            assert result["status"] == "purchased" and result["executed"] is True, result
            assert not result["message"].startswith("ALREADY USED"), result
            number_id = result["number"]["id"]

            replay = await server.client.call_tool(
                "purchase_number", {**arguments, "confirmation_token": token}
            )
            assert replay.is_error is False, text_of(replay)
            assert replay.structured_content["message"].startswith("ALREADY USED"), (
                replay.structured_content
            )

            policy = await read_json_resource(server.client, "kros://policy")
            assert policy["spent_last_24h_cents"] == price
            audit = await read_json_resource(server.client, "kros://audit")
        assert "reconciled 1 unfinished write" in server.stderr()

        purchases = await sandbox.purchases()
        assert [(t["phone_number_id"], -t["amount_cents"]) for t in purchases] == [
            (number_id, price)
        ]
        assert [n["id"] for n in await sandbox.owned()] == [number_id]
        statuses = [
            (e["status"], (e["outcome"] or {}).get("result"))
            for e in audit["entries"]
            if e["tool"] == "purchase_number"
        ]
        assert statuses == [
            ("succeeded", "purchased"),
            ("reconciled", "not_purchased"),
        ]  # most recent first
        assert (await _unfinished(data_dir))[0] == []
