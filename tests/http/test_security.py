"""HTTP hardening, from outside the process: Host/Origin allowlists (DNS rebinding), the body
limit, refusing a network bind without authentication, and health endpoints that are open but
carry no secrets and tell the truth about the state store."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
import pytest

from kros_mcp.server import TOOL_NAMES
from tests.support.http_servers import (
    LEGACY_HEADERS,
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    Server,
    ServerSpec,
    bearer,
    connect,
    initialize_body,
    launch,
    ok,
    pg_schema,
    run_cli,
    start_servers,
)
from tests.support.postgres import with_search_path
from tests.support.processes import free_port

pytestmark = pytest.mark.anyio

TOKEN = f"tok-{secrets.token_urlsafe(24)}"
SECRET = secrets.token_hex(24)  # 48 bytes: signs confirmation tokens
LIMIT = 4096
DB_PASSWORD = f"pw-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    tmp = tmp_path_factory.mktemp("security")
    specs = [
        ServerSpec(
            "configured",
            "stateful",
            env={
                "KROS_MCP_AUTH_TOKENS": TOKEN,
                "KROS_MCP_SECRET": SECRET,
                "KROS_MCP_MAX_BODY_BYTES": str(LIMIT),
                "KROS_MCP_ALLOWED_HOSTS": "mcp.example.com, api.example.com:*",
                "KROS_MCP_ALLOWED_ORIGINS": "https://app.example.com",
            },
        ),
        ServerSpec("plain", "stateless-json"),
        ServerSpec("sse", "sse", env={"KROS_MCP_MAX_BODY_BYTES": str(LIMIT)}),
    ]
    with start_servers(tmp, specs) as running:
        yield {server.spec.name: server for server in running}


async def _post_init(
    server: Server, headers: dict[str, str] | None = None, **kwargs: object
) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        return await http.post(
            server.url,
            json=initialize_body(),
            headers={**LEGACY_HEADERS, **(headers or {})},
            **kwargs,
        )  # type: ignore[arg-type]


async def _get_sse(server: Server, headers: dict[str, str]) -> int:
    async with (
        httpx2.AsyncClient(timeout=10.0) as http,
        http.stream(
            "GET", server.url, headers={"Accept": "text/event-stream", **headers}
        ) as response,
    ):
        return response.status_code


# -- Host and Origin ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["configured", "plain"])
async def test_bad_host_421_bad_origin_403(servers: dict[str, Server], name: str) -> None:
    server = servers[name]
    auth = bearer(TOKEN) if name == "configured" else {}
    response = await _post_init(server, {**auth, "Host": "evil.example"})
    assert response.status_code == 421 and "Invalid Host header" in response.text
    response = await _post_init(server, {**auth, "Host": f"evil.example:{server.port}"})
    assert response.status_code == 421
    response = await _post_init(server, {**auth, "Origin": "http://evil.example"})
    assert response.status_code == 403 and "Invalid Origin header" in response.text
    # The rebinding trick: a loopback Host but a foreign page's Origin.
    response = await _post_init(
        server, {**auth, "Host": f"127.0.0.1:{server.port}", "Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    # Loopback names and origins pass.
    for headers in (
        {"Host": f"localhost:{server.port}"},
        {"Origin": f"http://127.0.0.1:{server.port}"},
        {"Origin": "http://localhost:3000"},
        {},
    ):
        assert (await _post_init(server, {**auth, **headers})).status_code == 200, headers


async def test_unlisted_host_refused_by_default(servers: dict[str, Server]) -> None:
    """Without KROS_MCP_ALLOWED_HOSTS only loopback passes: a real hostname gets 421."""
    assert (await _post_init(servers["plain"], {"Host": "mcp.example.com"})).status_code == 421
    assert (
        await _post_init(servers["plain"], {"Origin": "https://app.example.com"})
    ).status_code == 403


async def test_sse_checks_host_and_origin(servers: dict[str, Server]) -> None:
    server = servers["sse"]
    assert await _get_sse(server, {"Host": "evil.example"}) == 421
    assert await _get_sse(server, {"Origin": "http://evil.example"}) == 403
    assert await _get_sse(server, {}) == 200
    async with httpx2.AsyncClient(timeout=10.0) as http:
        response = await http.post(
            server.root + "/messages/?session_id=" + "0" * 32,
            json=initialize_body(),
            headers={"Host": "evil.example"},
        )
        assert response.status_code == 421


async def test_configured_hosts_and_origins_admitted(servers: dict[str, Server]) -> None:
    server = servers["configured"]
    auth = bearer(TOKEN)
    for headers in (
        {"Host": "mcp.example.com"},
        {"Host": "api.example.com:8443"},
        {"Origin": "https://app.example.com"},
        {"Host": "mcp.example.com", "Origin": "https://app.example.com"},
    ):
        assert (await _post_init(server, {**auth, **headers})).status_code == 200, headers
    # An entry without ':*' matches exactly: another port, or another scheme, is not the same name.
    assert (await _post_init(server, {**auth, "Host": "mcp.example.com:8443"})).status_code == 421
    assert (
        await _post_init(server, {**auth, "Origin": "http://app.example.com"})
    ).status_code == 403
    assert (
        await _post_init(server, {**auth, "Origin": "https://app.example.com.evil.example"})
    ).status_code == 403


async def test_client_through_configured_host(servers: dict[str, Server], mode: str) -> None:
    """A whole MCP session as a reverse proxy would forward it: public Host, browser Origin."""
    headers = {**bearer(TOKEN), "Host": "mcp.example.com", "Origin": "https://app.example.com"}
    with anyio.fail_after(20):
        async with connect(servers["configured"], mode, headers=headers) as client:
            found = ok(await client.call_tool("search_available", {"country": "NG", "limit": 1}))
    assert len(found["offers"]) == 1


# -- body limit --------------------------------------------------------------------------------


def _padded_init(size: int) -> bytes:
    body = json.dumps(initialize_body()).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_body_over_the_limit_413(servers: dict[str, Server]) -> None:
    server = servers["configured"]
    headers = {**LEGACY_HEADERS, **bearer(TOKEN)}
    async with httpx2.AsyncClient(timeout=10.0) as http:
        assert (
            await http.post(server.url, content=_padded_init(LIMIT), headers=headers)
        ).status_code == 200
        too_big = await http.post(server.url, content=_padded_init(LIMIT + 1), headers=headers)
        assert too_big.status_code == 413, too_big.text

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            body = _padded_init(3 * LIMIT)
            for i in range(0, len(body), 1000):
                yield body[i : i + 1000]

        streamed = await http.post(server.url, content=chunks(), headers=headers)
        assert streamed.status_code == 413, streamed.text
        # Authentication comes first: a stranger learns nothing about the limit.
        assert (
            await http.post(server.url, content=_padded_init(LIMIT + 1), headers=LEGACY_HEADERS)
        ).status_code == 401
        # The SSE message endpoint has the same limit.
        sse = servers["sse"]
        message = await http.post(
            sse.root + "/messages/?session_id=" + "0" * 32,
            content=_padded_init(LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
        assert message.status_code == 413, message.text
    # The server is fine afterwards.
    assert (await _post_init(server, bearer(TOKEN))).status_code == 200


async def test_default_body_limit_is_one_mib(servers: dict[str, Server]) -> None:
    server = servers["plain"]
    async with httpx2.AsyncClient(timeout=10.0) as http:
        response = await http.post(
            server.url, content=_padded_init(1_048_577), headers=LEGACY_HEADERS
        )
    assert response.status_code == 413


# -- binding a network address -------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_network_bind_without_auth_refused(tmp_path: Path, transport: str) -> None:
    done = run_cli(
        tmp_path,
        ["serve", "--transport", transport, "--host", "0.0.0.0", "--port", str(free_port())],
    )
    assert done.returncode != 0
    assert "refusing to serve 0.0.0.0 without authentication" in done.stderr
    assert "KROS_MCP_AUTH_TOKENS" in done.stderr and "Traceback" not in done.stderr


def test_multi_tenant_and_tokens_are_exclusive(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path,
        ["serve", "--transport", "streamable-http", "--multi-tenant", "--port", str(free_port())],
        env={"KROS_MCP_AUTH_TOKENS": TOKEN},
    )
    assert done.returncode != 0 and "choose one" in done.stderr and TOKEN not in done.stderr


def _can_bind_all() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("0.0.0.0", 0))
        return True
    except OSError:
        return False


async def test_network_bind_with_auth_starts(tmp_path: Path, mode: str) -> None:
    if not _can_bind_all():
        pytest.skip("binding 0.0.0.0 is not allowed here")
    (server,) = launch(
        tmp_path,
        [ServerSpec("bind-all", "stateful", host="0.0.0.0", env={"KROS_MCP_AUTH_TOKENS": TOKEN})],
    )
    try:
        assert "on http://0.0.0.0:" in server.log()
        assert (await _post_init(server)).status_code == 401
        with anyio.fail_after(20):
            async with connect(server, mode, headers=bearer(TOKEN)) as client:
                assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
    finally:
        server.stop()


# -- health and readiness --------------------------------------------------------------------


async def test_health_endpoints_open_and_free_of_secrets(servers: dict[str, Server]) -> None:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        for server in servers.values():
            for path in ("/healthz", "/readyz"):
                for headers in ({}, bearer("wrong")):
                    response = await http.get(server.root + path, headers=headers)
                    assert response.status_code in (200, 503), (
                        server.spec.name,
                        path,
                        response.status_code,
                    )
                    assert response.headers["content-type"] == "application/json"
                    for secret in (TOKEN, SECRET, DB_PASSWORD, str(server.data_dir)):
                        assert secret not in response.text, (server.spec.name, path, response.text)
        healthy = await http.get(servers["configured"].root + "/readyz")
        assert healthy.status_code == 200 and healthy.json() == {
            "status": "ready",
            "checks": ["state store ok", "in-process sandbox"],
        }


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_http_without_its_state_store_exits(tmp_path: Path, transport: str) -> None:
    """Streamable HTTP and SSE open the one shared store before listening: unreachable, they exit
    (non-zero, bounded, no password in what they print) instead of serving. (The readiness probe's
    503 while PostgreSQL is away is tested below, through a proxy that is cut.)"""
    url = f"postgresql://kros:{DB_PASSWORD}@127.0.0.1:{free_port()}/kros"
    started = time.monotonic()
    done = run_cli(
        tmp_path,
        ["serve", "--transport", transport, "--port", str(free_port())],
        env={"KROS_MCP_STATE_URL": url},
    )
    assert done.returncode != 0
    assert time.monotonic() - started < 15
    assert "cannot reach PostgreSQL at 127.0.0.1:" in done.stderr
    assert DB_PASSWORD not in done.stderr + done.stdout


def test_stdio_without_its_state_store_exits_with_one_line(tmp_path: Path) -> None:
    """Over stdio too: one line naming the store and the reason, no traceback, no password."""
    url = f"postgresql://kros:{DB_PASSWORD}@127.0.0.1:{free_port()}/kros"
    done = run_cli(tmp_path, ["serve"], env={"KROS_MCP_STATE_URL": url})
    assert done.returncode != 0
    assert "kros-mcp: cannot reach PostgreSQL at 127.0.0.1:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert DB_PASSWORD not in done.stderr + done.stdout
    assert done.stdout == ""  # stdout is the protocol: nothing but JSON-RPC may go there


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that can be cut (every connection closed, nothing listening)."""

    def __init__(self, target: tuple[str, int], port: int = 0) -> None:
        self.target = target
        self.listener = socket.create_server(
            ("127.0.0.1", port)
        )  # SO_REUSEADDR: the port can come back
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        # Shutting down wakes the accepting thread (a bare close() would leave it listening).
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


async def test_readyz_follows_postgres_going_away_and_coming_back(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP_REASON)
    parts = urlsplit(POSTGRES_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        with pg_schema() as schema:
            # The same database, reached through the proxy.
            userinfo = parts.netloc.rpartition("@")[0]
            proxied = urlunsplit(
                parts._replace(netloc=f"{userinfo + '@' if userinfo else ''}127.0.0.1:{proxy.port}")
            )
            (server,) = launch(
                tmp_path,
                [
                    ServerSpec(
                        "pg",
                        "stateful",
                        env={"KROS_MCP_STATE_URL": with_search_path(proxied, schema)},
                    )
                ],
            )
            try:
                async with httpx2.AsyncClient(timeout=15.0) as http:
                    ready = await http.get(server.root + "/readyz")
                    assert ready.status_code == 200, ready.text
                    proxy.cut()
                    started = time.monotonic()
                    with anyio.fail_after(12):
                        gone = await http.get(server.root + "/readyz")
                    took = time.monotonic() - started
                    assert gone.status_code == 503, gone.text
                    assert gone.json()["status"] == "not ready"
                    assert gone.json()["checks"][0].startswith("state store unavailable")
                    assert took < 7, took  # the probe's own bound is 5 s
                    print(f"readyz went 503 {took:.2f}s after PostgreSQL went away")
                    assert (await http.get(server.root + "/healthz")).status_code == 200

                    # PostgreSQL comes back on the same address: ready again, with no restart.
                    proxy = TcpProxy(proxy.target, proxy.port)
                    started = time.monotonic()
                    with anyio.fail_after(20):
                        while (await http.get(server.root + "/readyz")).status_code != 200:
                            await anyio.sleep(0.2)
                    print(
                        f"readyz back to 200 {time.monotonic() - started:.2f}s after PostgreSQL returned"
                    )
            finally:
                server.stop()
    finally:
        proxy.cut()
