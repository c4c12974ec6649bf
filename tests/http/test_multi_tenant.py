"""Multi-tenant servers (`--multi-tenant`): every caller presents its own sandbox key.

Organisations are created in each server's sandbox database (through the sandbox's own
/_sandbox/orgs route) before the server opens it; every test takes fresh ones. Isolation is checked
on every transport and in both eras: numbers, the spend ledger (kros://policy), the audit
(kros://audit) and confirmation tokens stay with their organisation; keys appear in no result,
error or log line. The tool rate limit is per organisation.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.types import CallToolResult

from kros_mcp.store import tenant_key
from tests.support.http_servers import (
    LEGACY_HEADERS,
    Server,
    ServerSpec,
    bearer,
    connect,
    first_offer,
    initialize_body,
    launch,
    legacy_session,
    make_orgs,
    ok,
    read_json,
    rpc_messages,
)
from tests.support.results import text_of

pytestmark = pytest.mark.anyio

VARIANTS = ("stateful", "stateless-json", "sse")
ORGS_PER_SERVER = 12


class Tenants:
    """Running multi-tenant servers and the unused organisation keys of each."""

    def __init__(self, servers: dict[str, Server], keys: dict[str, list[str]]) -> None:
        self.servers = servers
        self._unused = {name: list(k) for name, k in keys.items()}
        self.all_keys = [k for ks in keys.values() for k in ks]

    def take(self, name: str, count: int) -> list[str]:
        keys, self._unused[name] = self._unused[name][:count], self._unused[name][count:]
        assert len(keys) == count, f"raise ORGS_PER_SERVER: {name} ran out of organisations"
        return keys

    def assert_no_key_in(self, text: str, where: str) -> None:
        leaked = [k for k in self.all_keys if k in text]
        assert not leaked, f"an API key leaked into {where}"
        assert "kros_test_" not in text, f"something key-like leaked into {where}"


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    tmp = tmp_path_factory.mktemp("tenants")
    specs = [
        ServerSpec(f"mt-{v}", v, args=("--multi-tenant",), env={"KROS_MCP_LOG_FORMAT": "json"})
        for v in VARIANTS
    ]
    specs.append(
        ServerSpec(
            "mt-rate",
            "stateless-json",
            args=("--multi-tenant",),
            env={"KROS_MCP_TOOL_RATE_LIMIT": "2", "KROS_MCP_LOG_FORMAT": "json"},
        )
    )
    keys = {
        spec.name: make_orgs(tmp / spec.name / "sandbox.sqlite3", ORGS_PER_SERVER) for spec in specs
    }
    servers = launch(tmp, specs)
    try:
        yield Tenants({s.spec.name: s for s in servers}, keys)
    finally:
        for server in servers:
            server.stop()
        # Last word on the logs: no key ever reached them, however the tests went.
        for server in servers:
            Tenants(servers={}, keys=keys).assert_no_key_in(
                server.log(), f"{server.spec.name}'s log"
            )


class Recorder:
    """Every text a client received, to check afterwards that no key is in any of them."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def tool(self, result: CallToolResult) -> CallToolResult:
        self.texts.append(text_of(result))
        if result.structured_content is not None:
            self.texts.append(json.dumps(result.structured_content))
        return result

    async def call(self, client: Client, name: str, arguments: dict[str, Any]) -> CallToolResult:
        return self.tool(await client.call_tool(name, arguments))

    async def resource(self, client: Client, uri: str) -> Any:
        body = await read_json(client, uri)
        self.texts.append(json.dumps(body))
        return body


@pytest.mark.parametrize("variant", VARIANTS)
async def test_organisations_are_isolated(tenants: Tenants, variant: str, mode: str) -> None:
    server = tenants.servers[f"mt-{variant}"]
    key_a, key_b = tenants.take(server.spec.name, 2)
    seen = Recorder()
    # Both header forms: Authorization for A, x-api-key for B.
    with anyio.fail_after(40):
        async with (
            connect(server, mode, headers=bearer(key_a)) as a,
            connect(server, mode, headers={"x-api-key": key_b}) as b,
        ):
            offer = await first_offer(a)
            quote = ok(
                await seen.call(a, "purchase_number", {"inventory_id": offer["inventory_id"]})
            )
            bought = ok(
                await seen.call(
                    a,
                    "purchase_number",
                    {
                        "inventory_id": offer["inventory_id"],
                        "confirmation_token": quote["confirmation_token"],
                    },
                )
            )
            assert bought["status"] == "purchased"
            number_id = bought["number"]["id"]
            # A second quote for A, never confirmed by A: B will try to use it.
            found = ok(await seen.call(a, "search_available", {"country": "KE", "limit": 1}))
            other = found["offers"][0]["inventory_id"]
            token_a = ok(await seen.call(a, "purchase_number", {"inventory_id": other}))[
                "confirmation_token"
            ]

            # A sees its purchase everywhere.
            assert [n["id"] for n in ok(await seen.call(a, "list_numbers", {}))["numbers"]] == [
                number_id
            ]
            assert [
                n["id"] for n in (await seen.resource(a, "kros://phone-numbers"))["numbers"]
            ] == [number_id]
            assert (await seen.resource(a, "kros://policy"))["spent_last_24h_cents"] == offer[
                "first_charge_cents"
            ]
            audit_a = (await seen.resource(a, "kros://audit"))["entries"]
            assert [(e["tool"], e["status"]) for e in audit_a] == [("purchase_number", "succeeded")]

            # B sees none of it.
            assert ok(await seen.call(b, "list_numbers", {}))["numbers"] == []
            assert (await seen.resource(b, "kros://phone-numbers"))["numbers"] == []
            assert (await seen.resource(b, "kros://policy"))["spent_last_24h_cents"] == 0
            assert (await seen.resource(b, "kros://audit"))["entries"] == []
            missing = await seen.call(b, "get_number", {"number_id": number_id})
            assert missing.is_error and "NOT_FOUND" in text_of(missing)
            with pytest.raises(Exception) as caught:
                await b.read_resource(f"kros://phone-numbers/{number_id}")
            seen.texts.append(str(caught.value))

            # A's token is refused for B, even for the very offer it was issued for (B has seen it too).
            ok(await seen.call(b, "search_available", {"country": "KE", "limit": 1}))
            stolen = await seen.call(
                b, "purchase_number", {"inventory_id": other, "confirmation_token": token_a}
            )
            assert stolen.is_error and "Confirmation refused (mismatch)" in text_of(stolen), (
                text_of(stolen)
            )
            assert "another organisation" in text_of(stolen)
            assert ok(await seen.call(b, "list_numbers", {}))["numbers"] == []
            assert (await seen.resource(b, "kros://audit"))["entries"] == []

            # ... and still good for A, who it belongs to.
            mine = ok(
                await seen.call(
                    a, "purchase_number", {"inventory_id": other, "confirmation_token": token_a}
                )
            )
            assert mine["status"] == "purchased"

    for i, text in enumerate(seen.texts):
        tenants.assert_no_key_in(text, f"result {i}")
    # Call lines are written in batches a moment after the answers: wait for both tenants'.
    wanted = {tenant_key(key_a), tenant_key(key_b)}
    deadline = time.monotonic() + 10
    while True:
        log = server.log()
        calls = [json.loads(line) for line in log.splitlines() if '"kros_mcp.calls"' in line]
        tenants_logged = {c["tenant"] for c in calls}
        if wanted <= tenants_logged or time.monotonic() > deadline:
            break
        await anyio.sleep(0.05)
    tenants.assert_no_key_in(log, "the server log")
    assert wanted <= tenants_logged
    assert all(re.fullmatch(r"t_[0-9a-f]{24}", t) for t in tenants_logged)


async def _probe(server: Server, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        if server.transport == "sse":
            async with http.stream(
                "GET", server.url, headers={"Accept": "text/event-stream", **headers}
            ) as response:
                return response
        return await http.post(
            server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **headers}
        )


@pytest.mark.parametrize("variant", VARIANTS)
async def test_requests_without_a_key_get_401(tenants: Tenants, variant: str) -> None:
    server = tenants.servers[f"mt-{variant}"]
    (key,) = tenants.take(server.spec.name, 1)
    for headers in (
        {},
        bearer("not-a-krosai-key"),
        {"x-api-key": "garbage"},
        {"Authorization": f"Basic {key}"},
        {"x-api-key": "kros_" + "x" * 300},
    ):
        response = await _probe(server, headers)
        assert response.status_code == 401, (headers, response.status_code)
        assert response.headers["www-authenticate"].startswith("Bearer ")
    for headers in (bearer(key), {"x-api-key": key}):
        assert (await _probe(server, headers)).status_code == 200


async def test_client_without_a_key_is_refused(tenants: Tenants, mode: str) -> None:
    with anyio.fail_after(20), pytest.raises(BaseException) as caught:
        async with connect(tenants.servers["mt-stateful"], mode) as client:
            await client.list_tools()
    errors = [e for e in getattr(caught.value, "exceptions", [caught.value])]
    while any(isinstance(e, BaseExceptionGroup) for e in errors):
        errors = [
            x for e in errors for x in (e.exceptions if isinstance(e, BaseExceptionGroup) else [e])
        ]
    assert errors and all(isinstance(e, MCPError) and "error response" in str(e) for e in errors), (
        errors
    )


async def test_a_session_answers_only_the_key_that_opened_it(tenants: Tenants) -> None:
    """A stateful session opened with A's key, then used with B's: refused as if it did not exist
    (the session belongs to A's principal), and never served for A."""
    server = tenants.servers["mt-stateful"]
    key_a, key_b = tenants.take(server.spec.name, 2)
    async with connect(server, "legacy", headers=bearer(key_a)) as a:
        offer = await first_offer(a)
        quote = ok(await a.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]}))
        ok(
            await a.call_tool(
                "purchase_number",
                {
                    "inventory_id": offer["inventory_id"],
                    "confirmation_token": quote["confirmation_token"],
                },
            )
        )
    call = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "list_numbers", "arguments": {}},
    }
    async with httpx2.AsyncClient(timeout=10.0) as http:
        session = await legacy_session(http, server.url, bearer(key_a))
        as_a = rpc_messages(await http.post(server.url, json=call, headers=session))
        assert len(as_a[-1]["result"]["structuredContent"]["numbers"]) == 1
        as_b = await http.post(server.url, json=call, headers={**session, **bearer(key_b)})
        assert as_b.status_code == 404 and "result" not in as_b.text, as_b.text
        unauthenticated = {k: v for k, v in session.items() if k != "Authorization"}
        assert (await http.post(server.url, json=call, headers=unauthenticated)).status_code == 401


async def test_unknown_key_is_refused_without_echoing_it(tenants: Tenants) -> None:
    """A well-formed key no organisation has gets 401 before anything is served (KrosAI is asked
    once), and is echoed nowhere."""
    server = tenants.servers["mt-stateless-json"]
    stranger = "kros_test_" + "0123456789abcdef" * 2
    tenants.all_keys.append(stranger)
    response = await _probe(server, bearer(stranger))
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    tenants.assert_no_key_in(response.text, "the 401")
    tenants.assert_no_key_in(server.log(), "the server log")


async def test_rate_limit_is_per_organisation(tenants: Tenants, mode: str) -> None:
    """KROS_MCP_TOOL_RATE_LIMIT=2: A bursting gets RATE_LIMITED errors; B is served meanwhile."""
    server = tenants.servers["mt-rate"]
    key_a, key_b = tenants.take(server.spec.name, 2)
    results: list[CallToolResult] = []
    with anyio.fail_after(30):
        async with (
            connect(server, mode, headers=bearer(key_a)) as a,
            connect(server, mode, headers=bearer(key_b)) as b,
        ):

            async def call() -> None:
                results.append(await a.call_tool("list_numbers", {}))

            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(call)
            # B's bucket is its own: both calls of its burst go through right after A's.
            served_b = [await b.call_tool("list_numbers", {}) for _ in range(2)]
    limited = [r for r in results if r.is_error]
    assert len(results) == 8 and len(limited) >= 3, [text_of(r) for r in results]
    for result in limited:
        assert "RATE_LIMITED" in text_of(result) and "Retry after" in text_of(result), text_of(
            result
        )
        tenants.assert_no_key_in(text_of(result), "the rate-limit error")
    assert all(not r.is_error for r in served_b), [text_of(r) for r in served_b]
    assert sum(not r.is_error for r in results) >= 2


async def test_readyz_ready_with_the_in_process_sandbox(tenants: Tenants) -> None:
    """Regression: multi-tenant on the in-process sandbox probed the real KrosAI API for readiness
    (and so said 'not ready' wherever that is unreachable), although it never calls it."""
    async with httpx2.AsyncClient(timeout=10.0) as http:
        for server in tenants.servers.values():
            response = await http.get(server.root + "/readyz")
            assert response.status_code == 200, response.text
            assert response.json() == {
                "status": "ready",
                "checks": ["state store ok", "in-process sandbox"],
            }
