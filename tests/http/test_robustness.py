"""One misbehaving client must not hurt the others.

A standalone sandbox stands in for KrosAI (so latency faults can hold a call open), behind a
stateful and a stateless JSON server. While garbage arrives, connections stall half-way through a
request, or a client walks away mid-call, a well-behaved client keeps calling tools, and every call
of it must finish within a few seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest
from anyio.abc import SocketStream

from tests.support.http_servers import (
    LEGACY_HEADERS,
    LEGACY_VERSION,
    Server,
    ServerSpec,
    connect,
    first_offer,
    legacy_session,
    modern_request,
    ok,
    read_json,
    rpc_messages,
    servers_on_sandbox,
)
from tests.support.results import text_of

pytestmark = pytest.mark.anyio

SANDBOX_KEY = "kros_test_sandbox"
VARIANTS = ("stateful", "stateless-json")
PROMPT = 3.0  # seconds: the most any call of the well-behaved client may take


@dataclass
class Rig:
    servers: dict[str, Server]
    sandbox: Server

    async def sandbox_call(self, method: str, path: str, body: object = None) -> httpx2.Response:
        async with httpx2.AsyncClient(timeout=10.0) as http:
            response = await http.request(
                method, self.sandbox.root + path, json=body, headers={"x-api-key": SANDBOX_KEY}
            )
        assert response.status_code < 300, response.text
        return response

    async def arm(self, kind: str, operation: str, seconds: float) -> None:
        await self.sandbox_call(
            "POST",
            "/_sandbox/faults",
            {"kind": kind, "operation": operation, "seconds": seconds, "times": 1},
        )

    async def faults(self) -> list[dict[str, object]]:
        return (await self.sandbox_call("GET", "/_sandbox/faults")).json()["faults"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    env = {"KROS_MCP_LOG_FORMAT": "json", "KROS_MCP_TOOL_RATE_LIMIT": "1000"}
    with servers_on_sandbox(
        tmp_path_factory.mktemp("robustness"),
        [ServerSpec(v, v, env=env) for v in (*VARIANTS, "sse")],
    ) as (servers, sandbox):
        yield Rig({s.spec.name: s for s in servers}, sandbox)


@pytest.fixture(autouse=True)
async def _no_faults_left(rig: Rig) -> AsyncIterator[None]:
    yield
    await rig.sandbox_call("DELETE", "/_sandbox/faults")


@dataclass
class Heartbeat:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, at_least: int) -> None:
        assert not self.failures, self.failures
        assert len(self.latencies) >= at_least, self.latencies
        assert max(self.latencies) < PROMPT, self.latencies


@asynccontextmanager
async def heartbeat(server: Server, mode: str) -> AsyncIterator[Heartbeat]:
    """A well-behaved client calling list_numbers back to back while the block runs."""
    beat = Heartbeat()
    stop = anyio.Event()
    async with connect(server, mode) as client:
        ok(
            await client.call_tool("list_numbers", {})
        )  # connected and served before the trouble starts

        async def loop() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    with anyio.fail_after(PROMPT * 2):
                        result = await client.call_tool("list_numbers", {})
                    if result.is_error:
                        beat.failures.append(text_of(result))
                except TimeoutError:
                    beat.failures.append("a call took longer than 6 s")
                beat.latencies.append(time.monotonic() - started)
                await anyio.sleep(0.02)

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop)
            try:
                yield beat
                await anyio.sleep(0.3)  # a few more beats after the trouble
            finally:
                # The loop ends after its call in flight (each is bounded): cancelling that call
                # instead races the SDK client's own teardown (BrokenResourceError).
                stop.set()


async def _raw(server: Server, data: bytes, *, read: bool = True) -> bytes:
    """Send raw bytes on a fresh connection; what came back before the server closed (or 2 s)."""
    async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        await stream.send(data)
        if not read:
            return b""
        received = b""
        with anyio.move_on_after(2):
            try:
                while True:
                    received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass
        return received


def _request(
    server: Server,
    body: bytes,
    *,
    length: int | None = None,
    content_type: str = "application/json",
) -> bytes:
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAccept: application/json, text/event-stream\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body) if length is None else length}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize("variant", VARIANTS)
async def test_garbage_does_not_disturb_other_clients(rig: Rig, variant: str, mode: str) -> None:
    server = rig.servers[variant]
    bodies = [
        b'{"jsonrpc": "2.0", "id": 1, "method": ',  # malformed JSON
        b"\xff\xfe\x00garbage\x80",  # not even UTF-8
        b"[1, 2, 3]",
        b'{"jsonrpc": "1.0", "id": {"x": 1}, "method": 5}',
        b"[" * 50_000 + b"]" * 50_000,  # deeply nested, under the body limit
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": "not an object"}',
    ]
    async with httpx2.AsyncClient(timeout=10.0) as http, heartbeat(server, mode) as beat:
        for body in bodies:
            response = await http.post(server.url, content=body, headers=LEGACY_HEADERS)
            assert 400 <= response.status_code < 500, (
                body[:40],
                response.status_code,
                response.text[:300],
            )
            if response.headers.get("content-type", "").startswith("application/json"):
                assert "error" in response.json(), response.text[:300]
            assert "Traceback" not in response.text
        parse = await http.post(server.url, content=bodies[0], headers=LEGACY_HEADERS)
        assert rpc_messages(parse)[0]["error"]["code"] == -32700
        # Truncated bodies: Content-Length promises more than arrives, then the connection closes.
        for _ in range(5):
            await _raw(
                server, _request(server, b'{"jsonrpc": "2.0", "id": 1, "me', length=400), read=False
            )
        # Not HTTP at all.
        await _raw(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)
        answer = await _raw(server, b"GET / HTTP/1.1\r\nHost: \x00\x01\r\n\r\n")
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100]
    beat.check(at_least=3)
    assert "Traceback" not in server.log(), server.log()[-3000:]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_stalled_connections_do_not_block_others(rig: Rig, variant: str, mode: str) -> None:
    server = rig.servers[variant]
    stalled: list[SocketStream] = []
    try:
        async with heartbeat(server, mode) as beat:
            for i in range(20):
                stream = await anyio.connect_tcp("127.0.0.1", server.port)
                stalled.append(stream)
                full = _request(
                    server, json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/list"}).encode()
                )
                # Half of them stop inside the headers, half inside the body.
                await stream.send(full[:30] if i % 2 else full[: len(full) - 10])
            await anyio.sleep(1.0)  # the stalls hold while the heartbeat goes on
        beat.check(at_least=5)
    finally:
        for stream in stalled:
            await stream.aclose()
    async with httpx2.AsyncClient(timeout=5.0) as http:
        assert (await http.get(server.root + "/healthz")).status_code == 200


async def _start_call(
    http: httpx2.AsyncClient, server: Server, tool: str, arguments: dict[str, object]
) -> None:
    """POST one tools/call and wait for its answer (the caller cancels it to hang up mid-call)."""
    if server.spec.variant == "stateful":
        session = await legacy_session(http, server.url)
        body = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        await http.post(server.url, json=body, headers=session)
    else:
        body, headers = modern_request(7, "tools/call", {"name": tool, "arguments": arguments})
        await http.post(server.url, json=body, headers=headers)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_client_hanging_up_mid_call_does_not_disturb_others(
    rig: Rig, variant: str, mode: str
) -> None:
    server = rig.servers[variant]
    await rig.arm("latency", "search", seconds=3.0)  # holds the search inside KrosAI for 3 s
    async with heartbeat(server, mode) as beat:
        async with httpx2.AsyncClient(timeout=20.0) as http:
            with anyio.move_on_after(5) as scope, anyio.fail_after(6):
                async with anyio.create_task_group() as tg:
                    # A search of its own: one left running by an earlier hang-up would share its
                    # answer with an identical search (the client shares identical searches in flight).
                    limit = 2 + 2 * VARIANTS.index(variant) + (mode == "auto")
                    tg.start_soon(
                        _start_call,
                        http,
                        server,
                        "search_available",
                        {"country": "NG", "limit": limit},
                    )
                    while await rig.faults():  # until the search is inside the sandbox
                        await anyio.sleep(0.02)
                    await anyio.sleep(0.2)
                    tg.cancel_scope.cancel()  # hang up: the connection is closed mid-call
            assert not scope.cancelled_caught, "the search never reached the sandbox"
        await anyio.sleep(0.5)
    beat.check(at_least=5)
    # The server serves the same tool again at once (the fault is used up).
    async with connect(server, mode) as client:
        with anyio.fail_after(PROMPT):
            assert ok(await client.call_tool("search_available", {"country": "NG", "limit": 1}))[
                "offers"
            ]


async def test_unknown_methods_get_jsonrpc_errors(rig: Rig) -> None:
    stateful, stateless = rig.servers["stateful"].url, rig.servers["stateless-json"].url
    unknown = {"jsonrpc": "2.0", "id": 41, "method": "kros/no_such_method", "params": {}}
    async with httpx2.AsyncClient(timeout=10.0) as http:
        # 2025-11-25, in a session.
        session = await legacy_session(http, stateful)
        (error,) = rpc_messages(await http.post(stateful, json=unknown, headers=session))
        assert error["id"] == 41 and error["error"]["code"] == -32601
        assert error["error"]["message"] == "Method not found"
        # A known method with invalid params.
        bad = {"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"arguments": {}}}
        (error,) = rpc_messages(await http.post(stateful, json=bad, headers=session))
        assert error["id"] == 42 and error["error"]["code"] == -32602
        # An unknown notification is ignored, not answered.
        note = await http.post(
            stateful,
            json={"jsonrpc": "2.0", "method": "notifications/kros_unknown"},
            headers=session,
        )
        assert note.status_code == 202 and note.text == ""
        # 2025-11-25 without a session (stateless).
        plain = {**LEGACY_HEADERS, "MCP-Protocol-Version": LEGACY_VERSION}
        (error,) = rpc_messages(await http.post(stateless, json=unknown, headers=plain))
        assert error["id"] == 41 and error["error"]["code"] == -32601
        # 2026-07-28, on both servers.
        for url in (stateful, stateless):
            body, headers = modern_request(43, "kros/no_such_method")
            response = await http.post(url, json=body, headers=headers)
            (error,) = rpc_messages(response)
            assert error["id"] == 43 and error["error"]["code"] == -32601, response.text
            # The Mcp-Method header must agree with the body.
            response = await http.post(
                url, json=body, headers={**headers, "Mcp-Method": "tools/list"}
            )
            assert response.status_code == 400 and rpc_messages(response)[0]["error"]["code"] < 0
        # A session id the server never issued.
        stale = {**session, "mcp-session-id": "0" * 32}
        response = await http.post(stateful, json=unknown, headers=stale)
        assert response.status_code == 404


async def test_sse_client_connecting_leaves_a_purchase_in_flight_alone(rig: Rig) -> None:
    """Regression: SSE opens the server's dependencies per connection, and opening them reconciles
    unfinished writes. A second client connecting while the first one's purchase was in flight used
    to settle that purchase as 'not purchased', freeing its budget reservation and its single-use
    claim, so the same confirmation token was accepted a second time."""
    server = rig.servers["sse"]
    answers: dict[str, object] = {}
    with anyio.fail_after(30):
        async with connect(server, "legacy") as first:
            offer = await first_offer(first, "EG")
            quote = ok(
                await first.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]})
            )
            arguments = {
                "inventory_id": offer["inventory_id"],
                "confirmation_token": quote["confirmation_token"],
            }
            await rig.arm("latency", "purchase", seconds=2.0)  # held before KrosAI writes

            async def confirm() -> None:
                answers["first"] = await first.call_tool("purchase_number", arguments)

            async with anyio.create_task_group() as tg:
                tg.start_soon(confirm)
                while await rig.faults():  # until the purchase is inside the sandbox
                    await anyio.sleep(0.02)
                async with connect(
                    server, "legacy"
                ) as second:  # opens (and reconciles) mid-purchase
                    audit = await read_json(second, "kros://audit")
                    entry = next(
                        e
                        for e in audit["entries"]
                        if e["arguments"]["inventory_id"] == offer["inventory_id"]
                    )
                    assert entry["status"] == "intent", (
                        entry
                    )  # still in flight, not settled by the newcomer
                    policy = await read_json(second, "kros://policy")
                    again = await second.call_tool("purchase_number", arguments)
                    assert again.is_error and "already running" in text_of(again), text_of(again)
                    assert "first" not in answers, "the purchase finished too early for this test"
            first_answer = answers["first"]
            assert ok(first_answer)["status"] == "purchased"  # type: ignore[arg-type]
            spent = (await read_json(first, "kros://policy"))["spent_last_24h_cents"]
            audit = await read_json(first, "kros://audit")
    mine = [e for e in audit["entries"] if e["arguments"]["inventory_id"] == offer["inventory_id"]]
    assert [e["status"] for e in mine] == ["succeeded"]
    assert spent == policy["spent_last_24h_cents"]  # the reservation held throughout, counted once
    purchases = (await rig.sandbox_call("GET", "/_sandbox/org/transactions")).json()["transactions"]
    assert (
        len(
            [
                t
                for t in purchases
                if t["kind"] == "purchase" and t["inventory_id"] == offer["inventory_id"]
            ]
        )
        == 1
    )
