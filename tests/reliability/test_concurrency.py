"""Concurrent writes through the server over real HTTP.

A standalone sandbox (rate limits lifted) stands in for KrosAI, behind one `kros-mcp serve
--transport streamable-http` process (no confirmation, tool rate limit raised). Several MCP client
sessions fire at once:

- 100 purchase_number calls on ONE inventory item: exactly one buys it; every other call is a clean
  answer saying nothing was bought, and the sandbox sold it once and debited once.
- 100 update_routing calls on one number, each with its own (endpoint_id, allow_inbound,
  allow_outbound): the number ends in exactly the state one of those calls asked for.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.support.http_servers import Server, ServerSpec, connect, servers_on_sandbox
from tests.support.results import text_of

from .sizes import size

pytestmark = pytest.mark.anyio

SANDBOX_KEY = "kros_test_sandbox"
CLIENTS = 10
CALLS = size(ci=100, big=1000)  # in all, spread over CLIENTS sessions
CALL_TIMEOUT = 60.0
PER_SESSION = 50  # calls in flight per session at most
ENDPOINTS = ("ep_support_agent", "ep_webhook_handler", None)
LEAKS = (
    "Traceback",
    'File "',
    "ValueError",
    "KeyError",
    "TypeError",
    "RuntimeError",
    "kros_mcp.",
    "sqlite3.",
)


@dataclass
class Rig:
    server: Server
    sandbox: Server

    def sandbox_call(self, method: str, path: str, body: object = None) -> Any:
        response = httpx2.request(
            method,
            self.sandbox.root + path,
            json=body,
            headers={"x-api-key": SANDBOX_KEY},
            timeout=10.0,
        )
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    # KROS_MCP_TOOL_RATE_LIMIT is capped at 10,000 per second by Settings (le=10_000): the most allowed.
    env = {"KROS_MCP_CONFIRMATION": "none", "KROS_MCP_TOOL_RATE_LIMIT": "10000"}
    with servers_on_sandbox(
        tmp_path_factory.mktemp("concurrency"),
        [ServerSpec("mcp", "stateful", env=env)],
        per_second=100_000,
    ) as ((server,), sandbox):
        yield Rig(server, sandbox)


async def _fan_out(
    rig: Rig, jobs: list[tuple[str, dict[str, Any]]]
) -> tuple[list[CallToolResult | BaseException], float]:
    """Run `jobs` at once over CLIENTS sessions (each session's share concurrently, too)."""
    outcomes: list[CallToolResult | BaseException] = [RuntimeError("never ran")] * len(jobs)
    ready = anyio.Event()

    async def one(client: Client, index: int, slots: anyio.CapacityLimiter) -> None:
        await ready.wait()
        name, arguments = jobs[index]
        try:
            # A session's HTTP client pools at most 100 connections: keep each session's calls in flight below.
            async with slots:
                with anyio.fail_after(CALL_TIMEOUT):
                    outcomes[index] = await client.call_tool(name, arguments)
        except Exception as exc:  # noqa: BLE001 - judged by the caller
            outcomes[index] = exc

    async def session(k: int, connected: list[int]) -> None:
        async with connect(rig.server, "auto" if k % 2 == 0 else "legacy") as client:
            await client.list_tools()
            connected.append(k)
            slots = anyio.CapacityLimiter(PER_SESSION)
            async with anyio.create_task_group() as tg:
                for index in range(k, len(jobs), CLIENTS):
                    tg.start_soon(one, client, index, slots)

    connected: list[int] = []
    with anyio.fail_after(CALL_TIMEOUT * 2):
        async with anyio.create_task_group() as tg:
            for k in range(CLIENTS):
                tg.start_soon(session, k, connected)
            while len(connected) < CLIENTS:  # every session open before the first call
                await anyio.sleep(0.01)
            start = time.monotonic()
            ready.set()
    return outcomes, time.monotonic() - start


def _clean_error(result: CallToolResult) -> str:
    text = text_of(result)
    assert text.strip(), "an error without text"
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked: {text}"
    return text


async def test_concurrent_purchases_of_one_number(rig: Rig, figures: dict[str, Any]) -> None:
    balance_before = rig.sandbox_call("GET", "/_sandbox/org")["balance_cents"]
    async with connect(rig.server, "auto") as client:
        found = await client.call_tool("search_available", {"country": "KE", "limit": 1})
        assert found.is_error is False, text_of(found)
        offer = found.structured_content["offers"][0]  # type: ignore[index]
    inventory_id = offer["inventory_id"]
    jobs = [("purchase_number", {"inventory_id": inventory_id})] * CALLS
    # Every session remembers the offer: the server's store is shared, so one search suffices.
    outcomes, elapsed = await _fan_out(rig, jobs)

    kinds: Counter[str] = Counter()
    bought: list[dict[str, Any]] = []
    problems: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            kinds[f"exception {type(outcome).__name__}"] += 1
            problems.append(f"{type(outcome).__name__}: {outcome}")
            continue
        text = text_of(outcome)
        if outcome.is_error:
            try:
                text = _clean_error(outcome)
            except AssertionError as exc:
                problems.append(str(exc))
            if "NUMBER_NOT_AVAILABLE" in text and "Nothing was bought" in text:
                kinds["NUMBER_NOT_AVAILABLE"] += 1
            else:
                kinds["other tool error"] += 1
                problems.append(f"unexpected error: {text[:300]}")
            continue
        result = outcome.structured_content or {}
        if result.get("status") == "purchased" and "Nothing new was bought" in result.get(
            "message", ""
        ):
            kinds["already this organisation's (nothing new bought)"] += 1
        elif result.get("status") == "purchased":
            kinds["purchased"] += 1
            bought.append(result)
        else:
            kinds[f"status {result.get('status')}"] += 1
            problems.append(f"unexpected result: {text[:300]}")

    purchases = [
        t
        for t in rig.sandbox_call("GET", "/_sandbox/org/transactions")["transactions"]
        if t["kind"] == "purchase" and t["inventory_id"] == inventory_id
    ]
    owned = [
        n
        for n in rig.sandbox_call("GET", "/v1/phone-numbers?limit=100")["phone_numbers"]
        if n.get("inventory_id") == inventory_id or n.get("number") == offer["number"]
    ]
    balance_after = rig.sandbox_call("GET", "/_sandbox/org")["balance_cents"]
    figures.update(
        {
            "calls": CALLS,
            "clients": CLIENTS,
            "elapsed s": round(elapsed, 2),
            **{f"answers: {k}": v for k, v in sorted(kinds.items())},
            "sandbox purchase debits": len(purchases),
            "sandbox numbers owned for the item": len(owned),
            "balance debited cents": balance_before - balance_after,
            "first charge cents": offer["first_charge_cents"],
        }
    )

    assert not problems, f"{len(problems)} bad answers, e.g.:\n" + "\n".join(problems[:10])
    assert kinds["purchased"] == 1, kinds
    assert len(purchases) == 1, purchases
    assert len(owned) == 1, owned
    assert balance_before - balance_after == offer["first_charge_cents"], (
        balance_before,
        balance_after,
        offer,
    )
    assert bought[0]["number"]["id"] == owned[0]["id"]


async def test_concurrent_routing_updates_of_one_number(rig: Rig, figures: dict[str, Any]) -> None:
    found = rig.sandbox_call("GET", "/v1/phone-numbers/available?country=GH&limit=1")[
        "available_numbers"
    ][0]
    number = rig.sandbox_call("POST", "/v1/phone-numbers", {"inventory_id": found["inventory_id"]})
    number_id = number["id"] if "id" in number else number["phone_number"]["id"]
    combos = list(itertools.product(ENDPOINTS, (True, False), (True, False)))
    requested = [combos[i % len(combos)] for i in range(CALLS)]
    jobs = [
        (
            "update_routing",
            {"number_id": number_id, "endpoint_id": e, "allow_inbound": i, "allow_outbound": o},
        )
        for e, i, o in requested
    ]
    outcomes, elapsed = await _fan_out(rig, jobs)

    kinds: Counter[str] = Counter()
    problems: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            kinds[f"exception {type(outcome).__name__}"] += 1
            problems.append(f"{type(outcome).__name__}: {outcome}")
        elif outcome.is_error:
            kinds["tool error"] += 1
            problems.append(f"tool error: {text_of(outcome)[:300]}")
        else:
            kinds[str((outcome.structured_content or {}).get("status"))] += 1

    final = rig.sandbox_call("GET", f"/v1/phone-numbers/{number_id}")
    detail = final.get("phone_number", final)
    state = (detail.get("endpoint_id"), detail.get("allow_inbound"), detail.get("allow_outbound"))
    figures.update(
        {
            "calls": CALLS,
            "clients": CLIENTS,
            "distinct requests": len(combos),
            "elapsed s": round(elapsed, 2),
            **{f"answers: {k}": v for k, v in sorted(kinds.items())},
            "final state": state,
        }
    )
    assert not problems, f"{len(problems)} bad answers, e.g.:\n" + "\n".join(problems[:10])
    assert kinds["updated"] == CALLS, kinds
    assert state in set(requested), (state, detail)
