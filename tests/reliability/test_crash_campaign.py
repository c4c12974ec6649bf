"""Crash-safety campaign: a purchase's server SIGKILLed at a random point, restarted, reconciled.

One standalone sandbox (as KrosAI) and one server data directory for the whole campaign, so the
invariants are checked cumulatively. Each round starts `python -m kros_mcp` over stdio, starts a
purchase (confirmation-token path, or KROS_MCP_CONFIRMATION=none) with a randomly chosen sandbox
fault so the kill lands at a random point:

- `latency`: KrosAI holds the request BEFORE writing (killed while it waits; never commits);
- `latency_after`: KrosAI commits, then holds the answer (killed after the commit);
- `random`: no fault, killed after a random short delay, wherever the call is by then.

then SIGKILLs the server, starts it again on the same data directory, and checks after start-up
reconciliation:

- no audit entry is left as "intent" (or "unknown");
- every owned number is in the audit as succeeded or reconciled with result "purchased", and the
  audit claims no purchase KrosAI does not have;
- no inventory item was sold twice; the sandbox debited exactly once per owned number;
- kros://policy's spent_last_24h_cents equals the sandbox's purchase total.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.results import text_of
from tests.support.sandbox_process import (
    RunningServer,
    SandboxProcess,
    process_gone,
    read_json_resource,
    start_sandbox,
    stdio_server,
    stop_sandbox,
    wait_until,
)

from .sizes import BIG, size

pytestmark = pytest.mark.anyio

HOLD_SECONDS = (
    600.0  # the sandbox maximum; a held request outlives the campaign (stopped at the end)
)
COUNTRIES = ("KE", "NG", "EG")
SEED = 4242


def _env(sandbox: SandboxProcess, data_dir: Path, confirmation: str) -> dict[str, str]:
    return {
        "KROSAI_API_KEY": sandbox.api_key,
        "KROSAI_BASE_URL": sandbox.base_url,
        "KROS_MCP_DATA_DIR": str(data_dir),
        "KROS_MCP_CONFIRMATION": confirmation,
        "HOME": str(data_dir),
    }


async def _pick_offer(server: RunningServer, rng: random.Random, sold: set[str]) -> dict[str, Any]:
    for country in rng.sample(COUNTRIES, len(COUNTRIES)):
        found = await server.client.call_tool("search_available", {"country": country, "limit": 10})
        assert found.is_error is False, text_of(found)
        offers = [o for o in found.structured_content["offers"] if o["inventory_id"] not in sold]
        if offers:
            return rng.choice(offers)
    raise AssertionError("no inventory left to buy")


async def _purchase_arguments(
    server: RunningServer, offer: dict[str, Any], path: str
) -> dict[str, Any]:
    arguments = {"inventory_id": offer["inventory_id"]}
    if path == "none":
        return arguments
    quote = await server.client.call_tool("purchase_number", arguments)
    assert quote.is_error is False, text_of(quote)
    assert quote.structured_content["status"] == "confirmation_required", quote.structured_content
    return {**arguments, "confirmation_token": quote.structured_content["confirmation_token"]}


async def _check_invariants(server: RunningServer, sandbox: SandboxProcess) -> list[str]:
    violations: list[str] = []
    audit = (await read_json_resource(server.client, "kros://audit"))["entries"]
    policy = await read_json_resource(server.client, "kros://policy")
    purchases, owned = await sandbox.purchases(), await sandbox.owned()
    buys = [e for e in audit if e["tool"] == "purchase_number"]
    for e in buys:
        if e["status"] in ("intent", "unknown"):
            violations.append(f"audit entry {e['id']} left as {e['status']!r}")
    bought = [
        e
        for e in buys
        if e["status"] in ("succeeded", "reconciled")
        and (e.get("outcome") or {}).get("result") == "purchased"
    ]
    bought_inventory = [e["arguments"].get("inventory_id") for e in bought]
    for number in owned:
        if number.get("inventory_id") not in bought_inventory:
            violations.append(
                f"owned {number['number']} ({number.get('inventory_id')}) has no purchased audit entry"
            )
    if len(bought) != len(owned):
        violations.append(f"audit says {len(bought)} purchased, KrosAI owns {len(owned)}")
    inventory = [t["inventory_id"] for t in purchases]
    if len(inventory) != len(set(inventory)):
        violations.append(f"an inventory item was sold twice: {sorted(inventory)}")
    debited = sorted(t["phone_number_id"] for t in purchases)
    if debited != sorted(n["id"] for n in owned):
        violations.append(f"debits {debited} != owned {sorted(n['id'] for n in owned)}")
    total = -sum(t["amount_cents"] for t in purchases)
    if policy["spent_last_24h_cents"] != total:
        violations.append(
            f"policy spent {policy['spent_last_24h_cents']} != sandbox purchase total {total}"
        )
    return violations


async def _round(
    tmp: Path,
    sandbox: SandboxProcess,
    data_dir: Path,
    rng: random.Random,
    i: int,
    stats: dict[str, Any],
) -> list[str]:
    # Every kind of kill point in every three rounds (order and the rest random).
    fault = stats["_faults"][i % 3]
    path = rng.choice(["token", "none"]) if i >= 2 else ("token", "none")[i]
    env = _env(sandbox, data_dir, "auto" if path == "token" else "none")
    sold = {t["inventory_id"] for t in await sandbox.purchases()}
    before = len(sold)
    answered: dict[str, Any] = {}
    async with stdio_server(tmp, f"round{i}-a", env) as server:
        offer = await _pick_offer(server, rng, sold)
        arguments = await _purchase_arguments(server, offer, path)
        if fault != "random":
            await sandbox.arm(fault, "purchase", seconds=HOLD_SECONDS)

        async def purchase() -> None:
            try:
                answered["result"] = await server.client.call_tool("purchase_number", arguments)
            except Exception as exc:  # noqa: BLE001 - the connection dies with the server
                answered["error"] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(purchase)
            if fault == "latency":

                async def held() -> bool:
                    return not await sandbox.faults()

                await wait_until(held, timeout=15, what="the purchase to reach the sandbox")
            elif fault == "latency_after":

                async def committed() -> bool:
                    return len(await sandbox.purchases()) > before

                await wait_until(committed, timeout=15, what="the sandbox to commit")
            await anyio.sleep(rng.uniform(0.0, 0.3 if fault != "random" else 0.6))
            os.kill(server.pid, signal.SIGKILL)

            async def dead() -> bool:
                return process_gone(server.pid)

            await wait_until(dead, timeout=10, what="the killed server to exit")
            tg.cancel_scope.cancel()
    await sandbox.request("DELETE", "/_sandbox/faults")
    committed_at_kill = len(await sandbox.purchases()) > before
    stats["kills_after_commit" if committed_at_kill else "kills_before_commit"] += 1
    if "result" in answered:
        stats["answered_before_kill"] += 1
    stats[f"path_{path}"] += 1
    stats[f"fault_{fault}"] += 1

    async with stdio_server(tmp, f"round{i}-b", env) as server:
        audit = (await read_json_resource(server.client, "kros://audit"))["entries"]
        mine = [
            e
            for e in audit
            if e["tool"] == "purchase_number"
            and e["arguments"].get("inventory_id") == offer["inventory_id"]
            and e["status"] == "reconciled"
        ]
        for e in mine:
            result = (e.get("outcome") or {}).get("result")
            stats[
                "reconciled_purchased" if result == "purchased" else "reconciled_not_purchased"
            ] += 1
        violations = await _check_invariants(server, sandbox)
    return [f"round {i} ({path}, {fault}): {v}" for v in violations]


async def test_crash_campaign_keeps_the_books_straight(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    rounds = size(ci=3, big=20)
    rng = random.Random(SEED)
    stats: dict[str, Any] = {
        k: 0
        for k in (
            "kills_before_commit",
            "kills_after_commit",
            "reconciled_purchased",
            "reconciled_not_purchased",
            "answered_before_kill",
            "path_token",
            "path_none",
            "fault_latency",
            "fault_latency_after",
            "fault_random",
        )
    }
    stats["_faults"] = rng.sample(["latency", "latency_after", "random"], 3)
    violations: list[str] = []
    started = time.monotonic()
    sandbox = start_sandbox(tmp_path)
    try:
        await sandbox.request("PATCH", "/_sandbox/org", {"balance_cents": 10**9})
        data_dir = tmp_path / "server-data"
        with anyio.fail_after(50 + 25 * rounds):
            for i in range(rounds):
                violations += await _round(tmp_path, sandbox, data_dir, rng, i, stats)
    finally:
        stop_sandbox(sandbox)
        stats.pop("_faults")
        figures.update(
            {
                "rounds": rounds,
                **stats,
                "violations": len(violations),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    assert not violations, "\n".join(violations)
    assert stats["kills_before_commit"] + stats["kills_after_commit"] == rounds
    if BIG:
        assert stats["kills_before_commit"] and stats["kills_after_commit"]
