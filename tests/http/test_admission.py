"""Bounded sessions: a flood of `initialize` from one principal is refused past its share, other
principals keep being served, and the process stays small. Caps per principal and overall, and the
idle timeout.

The flood runs at CI size (300) normally; KROS_MCP_RELIABILITY=big runs 10,000 and prints the
figures (served, refused, RSS). KROS_MCP_FLOOD_SOURCE=<a checkout> serves that checkout's code
instead (to measure another version the same way)."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.support.http_servers import (
    LEGACY_HEADERS,
    LEGACY_VERSION,
    Server,
    ServerSpec,
    bearer,
    initialize_body,
    launch,
    legacy_session,
    rpc_messages,
)

pytestmark = pytest.mark.anyio

BIG = os.environ.get("KROS_MCP_RELIABILITY", "").lower() == "big"
FLOOD = 10_000 if BIG else 300
WORKERS = 16
RSS_LIMIT_MB = 150
FLOODER = "tok-flood-" + "f" * 32
VICTIM = "tok-victim-" + "v" * 32


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def flood(url: str, token: str, count: int) -> Counter[int]:
    """`count` initialize requests from one principal, WORKERS at a time; statuses counted."""
    statuses: Counter[int] = Counter()
    todo = iter(range(count))
    limits = httpx2.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
    async with httpx2.AsyncClient(timeout=30.0, limits=limits) as http:

        async def worker() -> None:
            for _ in todo:
                try:
                    response = await http.post(
                        url, json=initialize_body(), headers={**LEGACY_HEADERS, **bearer(token)}
                    )
                    statuses[response.status_code] += 1
                except httpx2.HTTPError:
                    statuses[0] += 1

        async with anyio.create_task_group() as tg:
            for _ in range(WORKERS):
                tg.start_soon(worker)
    return statuses


async def list_numbers(http: httpx2.AsyncClient, url: str, session: dict[str, str]) -> bool:
    call = {
        "jsonrpc": "2.0",
        "id": 5,
        "method": "tools/call",
        "params": {"name": "list_numbers", "arguments": {}},
    }
    response = await http.post(url, json=call, headers=session)
    return response.status_code == 200 and "result" in rpc_messages(response)[-1]


def _spec(name: str, env: dict[str, str] | None = None) -> ServerSpec:
    source = os.environ.get("KROS_MCP_FLOOD_SOURCE")
    defaults = {  # the admission defaults, not the test rig's (see http_servers.base_env)
        "KROS_MCP_INITIALIZE_RATE_PER_PRINCIPAL": "",
        "KROS_MCP_INITIALIZE_RATE_PER_ADDRESS": "",
        "KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL": "",
    }
    extra = {**defaults, "KROS_MCP_AUTH_TOKENS": f"{FLOODER},{VICTIM}", **(env or {})}
    if source:
        extra["PYTHONPATH"] = source
    return ServerSpec(name, "stateful", env=extra)


async def test_initialize_flood_is_refused_and_others_are_served(tmp_path: Path) -> None:
    (server,) = launch(tmp_path, [_spec("flood")])
    try:
        await _flood_run(server)
    finally:
        server.stop()


def _other_address() -> httpx2.AsyncHTTPTransport:
    """A client on another loopback address (Linux routes all of 127.0.0.0/8 to lo)."""
    return httpx2.AsyncHTTPTransport(local_address="127.0.0.2")


async def _flood_run(server: Server) -> None:
    async with httpx2.AsyncClient(timeout=30.0) as http:
        victim = await legacy_session(http, server.url, bearer(VICTIM))
        rss_before = rss_mb(server.process.pid)
        started = time.monotonic()
        statuses = await flood(server.url, FLOODER, FLOOD)
        took = time.monotonic() - started
        # The victim's open session still works.
        victim_served = await list_numbers(http, server.url, victim)
    async with httpx2.AsyncClient(transport=_other_address(), timeout=30.0) as http2:
        opened = await http2.post(
            server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **bearer(VICTIM)}
        )
    rss_after = rss_mb(server.process.pid)
    served, refused = statuses[200], sum(n for s, n in statuses.items() if s in (429, 503))
    print(
        f"\ninitialize flood ({'big' if BIG else 'ci'}): {FLOOD} requests in {took:.1f}s, "
        f"served {served}, refused {refused}, other {dict(statuses)}; "
        f"RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after; "
        f"a new client from another address got {opened.status_code}"
    )
    if os.environ.get("KROS_MCP_FLOOD_SOURCE"):
        return  # measuring another version: figures only
    assert victim_served
    assert opened.status_code == 200, opened.text
    # A new session for the other principal opens from the flood's own address too.
    async with httpx2.AsyncClient(timeout=30.0) as http:
        same_address = await legacy_session(http, server.url, bearer(VICTIM))
        assert await list_numbers(http, server.url, same_address)
    async with httpx2.AsyncClient(transport=_other_address(), timeout=30.0) as http2:
        newcomer = await legacy_session(http2, server.url, bearer(VICTIM))
        assert await list_numbers(http2, server.url, newcomer)
    assert served + refused == FLOOD, statuses
    assert served <= 50  # the principal's share (KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL)
    assert rss_after < RSS_LIMIT_MB, rss_after


async def test_per_principal_cap_and_overall_cap(tmp_path: Path) -> None:
    env = {
        "KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL": "3",
        "KROS_MCP_MAX_SESSIONS": "5",
        "KROS_MCP_INITIALIZE_RATE_PER_PRINCIPAL": "1000/minute",
        "KROS_MCP_INITIALIZE_RATE_PER_ADDRESS": "1000/minute",
    }
    (server,) = launch(tmp_path, [_spec("caps", env)])
    try:
        statuses = await flood(server.url, FLOODER, 6)
        assert statuses == Counter({200: 3, 429: 3}), statuses
        async with httpx2.AsyncClient(timeout=30.0) as http:
            victim = [await legacy_session(http, server.url, bearer(VICTIM)) for _ in range(2)]
            full = await http.post(
                server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **bearer(VICTIM)}
            )
            assert full.status_code == 503 and full.headers["retry-after"], full.text
            # Ending a session frees its place.
            done = await http.delete(server.url, headers=victim[0])
            assert done.status_code in (200, 204), done.status_code
            again = await legacy_session(http, server.url, bearer(VICTIM))
            assert await list_numbers(http, server.url, again)
    finally:
        server.stop()


async def test_idle_sessions_close_and_free_their_place(tmp_path: Path) -> None:
    env = {"KROS_MCP_SESSION_IDLE_TIMEOUT": "5", "KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL": "1"}
    (server,) = launch(tmp_path, [_spec("idle", env)])
    try:
        async with httpx2.AsyncClient(timeout=30.0) as http:
            first = await legacy_session(http, server.url, bearer(VICTIM))
            refused = await http.post(
                server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **bearer(VICTIM)}
            )
            assert refused.status_code == 429
            await anyio.sleep(7.5)
            gone = await http.post(
                server.url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=first
            )
            assert gone.status_code == 404
            second = await legacy_session(http, server.url, bearer(VICTIM))
            assert second["mcp-session-id"] != first["mcp-session-id"]
            assert second["MCP-Protocol-Version"] == LEGACY_VERSION
    finally:
        server.stop()


async def test_sse_streams_are_capped_per_principal(tmp_path: Path) -> None:
    env = {
        "KROS_MCP_AUTH_TOKENS": f"{FLOODER},{VICTIM}",
        "KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL": "2",
    }
    (server,) = launch(tmp_path, [ServerSpec("sse-caps", "sse", env=env)])
    try:
        async with httpx2.AsyncClient(timeout=30.0) as http:
            codes: list[int] = []
            async with anyio.create_task_group() as tg:
                held = anyio.Event()

                async def hold(token: str) -> None:
                    headers = {"Accept": "text/event-stream", **bearer(token)}
                    async with http.stream("GET", server.url, headers=headers) as stream:
                        codes.append(stream.status_code)
                        if stream.status_code == 200:
                            await held.wait()

                for _ in range(3):
                    tg.start_soon(hold, FLOODER)
                with anyio.fail_after(20):
                    while len(codes) < 3:
                        await anyio.sleep(0.05)
                tg.start_soon(hold, VICTIM)
                with anyio.fail_after(20):
                    while len(codes) < 4:
                        await anyio.sleep(0.05)
                held.set()
        assert sorted(codes[:3]) == [200, 200, 429] and codes[3] == 200, codes
    finally:
        server.stop()
