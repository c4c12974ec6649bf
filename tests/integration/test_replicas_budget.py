"""Two server instances, one state store, one budget: a purchase race that must not overspend.

Two `build_server(...)` objects (each its own data directory, own MCP client, own KrosAI client,
own state-store connections) share one state store (PostgreSQL, or one SQLite file) and one
standalone sandbox on a real socket. Both fire purchases of different offers at once; the daily
budget fits only BUDGET // PRICE of them. Whatever the interleaving, the sandbox's ledger must show
no more than the budget, every refusal must be the budget's, and the shared audit must record
exactly one success per number bought and nothing left half-done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.server import app as app_module
from tests.support.postgres import POSTGRES_SKIP_REASON, POSTGRES_URL
from tests.support.results import text_of
from tests.support.sandbox_process import SandboxProcess, read_json_resource

pytestmark = pytest.mark.anyio

SETUP_CENTS, MONTHLY_CENTS = 100, 200
PRICE = SETUP_CENTS + MONTHLY_CENTS  # debited per purchase: setup plus the first month
BUDGET = 1000  # fits 3 purchases of 300, not 4
FITS = BUDGET // PRICE
PER_INSTANCE = 8
COUNTRY = "NG"


async def _price_offers(sandbox: SandboxProcess, count: int) -> list[str]:
    """Set the first `count` offers of COUNTRY to PRICE; their inventory ids."""
    found = await sandbox.request(
        "GET", f"/v1/phone-numbers/available?country={COUNTRY}&limit={count}"
    )
    ids = [item["inventory_id"] for item in found["available_numbers"]]
    assert len(ids) == count, found
    for inventory_id in ids:
        await sandbox.request(
            "PATCH",
            f"/_sandbox/inventory/{inventory_id}",
            {"setup_cost_cents": SETUP_CENTS, "monthly_cost_cents": MONTHLY_CENTS},
        )
    return ids


@pytest.fixture
def reservations(monkeypatch: pytest.MonkeyPatch) -> Counter[bool]:
    """How the state store answered every reservation checked against the budget, over all
    instances (test-only wrapper around the store each server opens)."""
    answers: Counter[bool] = Counter()
    real_open = app_module.open_deps

    @asynccontextmanager
    async def recording(settings: Settings, *upstream: Any) -> AsyncIterator[Any]:
        async with real_open(settings, *upstream) as deps:
            reserve = deps.store.reserve_spend

            async def counted(*args: Any, **kwargs: Any) -> bool:
                answer = await reserve(*args, **kwargs)
                if kwargs.get("budget_cents") is not None:  # checked against the budget
                    answers[answer] += 1
                return answer

            deps.store.reserve_spend = counted  # type: ignore[method-assign]
            yield deps

    monkeypatch.setattr(app_module, "open_deps", recording)
    return answers


def _settings(sandbox: SandboxProcess, data_dir: Path, state_url: str) -> Settings:
    return Settings(
        KROSAI_API_KEY=sandbox.api_key,
        KROSAI_BASE_URL=sandbox.base_url,
        KROS_MCP_DATA_DIR=data_dir,
        KROS_MCP_STATE_URL=state_url,
        KROS_MCP_CONFIRMATION="none",
        KROS_MCP_DAILY_BUDGET_CENTS=BUDGET,
    )


async def _race(
    sandbox: SandboxProcess, tmp_path: Path, state_url: str, reservations: Counter[bool]
) -> dict[str, Any]:
    offer_ids = await _price_offers(sandbox, 2 * PER_INSTANCE)
    servers = [
        build_server(_settings(sandbox, tmp_path / f"replica-{i}", state_url)) for i in range(2)
    ]
    results: dict[str, tuple[int, CallToolResult]] = {}

    with anyio.fail_after(60):
        async with Client(servers[0]) as first, Client(servers[1]) as second:
            clients = [first, second]
            for client in clients:  # each replica shows (and so prices) the offers
                shown = await client.call_tool(
                    "search_available", {"country": COUNTRY, "limit": 2 * PER_INSTANCE}
                )
                assert shown.is_error is False, text_of(shown)
                shown_ids = {o["inventory_id"] for o in shown.structured_content["offers"]}
                assert set(offer_ids) <= shown_ids
                assert {
                    o["first_charge_cents"]
                    for o in shown.structured_content["offers"]
                    if o["inventory_id"] in offer_ids
                } == {PRICE}

            # Slow the price check just before the reservation, so that every call passes the
            # policy's pre-check before any reservation lands: the atomic reservation must decide.
            # The calls on one replica run the same search at once, so they share one request.
            await sandbox.arm("latency", "search", seconds=0.3, times=len(clients))
            go = anyio.Event()

            async def buy(replica: int, inventory_id: str) -> None:
                await go.wait()
                results[inventory_id] = (
                    replica,
                    await clients[replica].call_tool(
                        "purchase_number", {"inventory_id": inventory_id}
                    ),
                )

            async with anyio.create_task_group() as tg:
                # Different offers, alternating between the replicas; all released at once.
                for n, inventory_id in enumerate(offer_ids):
                    tg.start_soon(buy, n % 2, inventory_id)
                await anyio.sleep(0.05)
                go.set()

            audits = [await read_json_resource(c, "kros://audit") for c in clients]
            policies = [await read_json_resource(c, "kros://policy") for c in clients]

    assert len(results) == len(offer_ids)
    assert not await sandbox.faults()  # every purchase went through the slowed price check
    bought = {inv: r.structured_content for inv, (_, r) in results.items() if not r.is_error}
    refused = {inv: text_of(r) for inv, (_, r) in results.items() if r.is_error}

    # Every refusal is the budget's (no rate limit, no store error, no lost answer).
    for inventory_id, text in refused.items():
        assert "BUDGET_EXCEEDED" in text, (inventory_id, text)
        assert "Nothing was bought" in text, text
    # Nothing failed for another reason, so the reservations are exactly the purchases: the budget
    # is filled, never exceeded.
    assert 1 <= len(bought) <= FITS
    assert len(bought) == FITS, (len(bought), refused)
    for result in bought.values():
        assert result["status"] == "purchased" and result["executed"] is True, result
        assert result["quote"]["first_charge_cents"] == PRICE
        assert result["number"]["id"].startswith("pn_")
    bought_ids = {r["number"]["id"] for r in bought.values()}

    # The calls really raced: the shared store's atomic reservation (not the policy's pre-check,
    # which reads the spend without reserving) is what stopped at least one of them.
    assert reservations[True] == len(bought)
    assert reservations[False] >= 1, reservations
    assert reservations[False] <= len(refused)

    # The sandbox's ledger: money out equals the successes, within the budget.
    purchases = await sandbox.purchases()
    spent = -sum(t["amount_cents"] for t in purchases)
    assert spent <= BUDGET
    assert spent == len(bought) * PRICE
    assert {t["phone_number_id"] for t in purchases} == bought_ids
    assert {t["inventory_id"] for t in purchases} == set(bought)
    owned = await sandbox.owned()
    assert {n["id"] for n in owned} == bought_ids

    # The audit, seen from both replicas: one shared trail.
    entries: dict[str, dict[str, Any]] = {}
    for audit in audits:
        assert audit["next"] is None
        for entry in audit["entries"]:
            entries.setdefault(entry["id"], entry)
    assert [e["id"] for e in audits[0]["entries"]] == [e["id"] for e in audits[1]["entries"]]
    purchase_entries = [e for e in entries.values() if e["tool"] == "purchase_number"]
    assert not [e for e in purchase_entries if e["status"] == "intent"], purchase_entries
    succeeded = [e for e in purchase_entries if e["status"] == "succeeded"]
    per_number = Counter(e["outcome"]["number_id"] for e in succeeded)
    assert set(per_number) == {n["id"] for n in owned}
    assert set(per_number.values()) == {1}, per_number
    # Refused calls never reached the point of recording an intent: each is on record as a
    # refusal, with the budget's code.
    refusals = [e for e in purchase_entries if e["status"] == "refused"]
    assert len(refusals) == len(refused), purchase_entries
    assert {e["error_code"] for e in refusals} <= {"BUDGET_EXCEEDED"}
    assert len(purchase_entries) == len(succeeded) + len(refusals), purchase_entries

    # Both replicas report the same spend from the shared ledger.
    for policy in policies:
        assert policy["daily_budget_cents"] == BUDGET
        assert policy["spent_last_24h_cents"] == spent
        assert policy["budget_left_cents"] == BUDGET - spent
    return {
        "bought": len(bought),
        "refused": len(refused),
        "spent": spent,
        "refused_by_reservation": reservations[False],
    }


@pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON)
async def test_two_replicas_on_postgres_share_one_budget(
    sandbox_process: SandboxProcess, tmp_path: Path, pg_state_url: str, reservations: Counter[bool]
) -> None:
    outcome = await _race(sandbox_process, tmp_path, pg_state_url, reservations)
    assert (outcome["bought"], outcome["refused"], outcome["spent"]) == (
        FITS,
        2 * PER_INSTANCE - FITS,
        FITS * PRICE,
    )


async def test_two_instances_on_one_sqlite_file_share_one_budget(
    sandbox_process: SandboxProcess, tmp_path: Path, reservations: Counter[bool]
) -> None:
    outcome = await _race(
        sandbox_process, tmp_path, str(tmp_path / "shared-state.sqlite3"), reservations
    )
    assert (outcome["bought"], outcome["refused"], outcome["spent"]) == (
        FITS,
        2 * PER_INSTANCE - FITS,
        FITS * PRICE,
    )


@pytest.fixture(params=["postgres", "sqlite"])
def shared_state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_state_url")  # skips without KROS_MCP_TEST_POSTGRES_URL
    return str(tmp_path / "shared-state.sqlite3")


async def test_spend_of_a_purchase_in_flight_survives_another_replica_starting(
    sandbox_process: SandboxProcess, tmp_path: Path, shared_state_url: str
) -> None:
    """A replica starting reconciles every unfinished intent, including a live one of another
    replica (it cannot tell them apart) and may drop its reservation; when the live purchase then
    succeeds, its spend must still be counted."""
    sandbox = sandbox_process
    (inventory_id,) = await _price_offers(sandbox, 1)
    first = build_server(_settings(sandbox, tmp_path / "replica-0", shared_state_url))
    answered: dict[str, CallToolResult] = {}
    with anyio.fail_after(30):
        async with Client(first) as client:
            shown = await client.call_tool("search_available", {"country": COUNTRY, "limit": 1})
            assert shown.structured_content["offers"][0]["inventory_id"] == inventory_id
            await sandbox.arm("latency", "purchase", seconds=2.0)  # held before KrosAI writes

            async def buy() -> None:
                answered["result"] = await client.call_tool(
                    "purchase_number", {"inventory_id": inventory_id}
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(buy)
                while await sandbox.faults():  # until the purchase request is in the sandbox
                    await anyio.sleep(0.02)
                second = build_server(_settings(sandbox, tmp_path / "replica-1", shared_state_url))
                async with Client(second):  # starts, and so reconciles, mid-purchase
                    assert not answered, "the purchase finished before the second replica started"
            result = answered["result"]
            assert result.is_error is False, text_of(result)
            assert result.structured_content["status"] == "purchased"
            policy = await read_json_resource(client, "kros://policy")
            audit = await read_json_resource(client, "kros://audit")
        async with Client(second) as other:
            policy_other = await read_json_resource(other, "kros://policy")

    purchases = await sandbox.purchases()
    assert [-t["amount_cents"] for t in purchases] == [PRICE]
    assert policy["spent_last_24h_cents"] == PRICE
    assert policy_other["spent_last_24h_cents"] == PRICE
    (entry,) = [e for e in audit["entries"] if e["tool"] == "purchase_number"]
    assert entry["status"] == "succeeded", entry
