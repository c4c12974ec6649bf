"""Real `kros-mcp serve` processes on real 127.0.0.1 sockets, and clients for them (the HTTP tests'
rig; tests/reliability, tests/cli and tests/distribution use it too).

- `launch(tmp, [ServerSpec, ...])` / `start_servers(...)` (the same as a context manager): start
  every server at once (each its own data directory, free port and log file holding stdout and
  stderr), wait for `/healthz` with a bounded poll, and stop them (SIGTERM, then SIGKILL) however
  the block ends. Every process started here is also in tests.support.processes.RUNNING, which
  the session-wide reaper of tests/conftest.py stops at the end, so nothing outlives the run.
  `ServerSpec(variant="sandbox")` is the standalone sandbox (`python -m kros_mcp sandbox`), for
  tests that arm faults or read the ledger.
- `connect(server, mode, headers=...)`: an MCP `Client` over the server's own transport
  (streamable HTTP through an `httpx2` client, or SSE), in either protocol era.
- Raw JSON-RPC helpers (`legacy_session`, `modern_request`, `rpc_messages`) for what a client
  library would never send.
- `make_orgs(db, n)`: sandbox organisations (own API keys), created through the sandbox's own
  /_sandbox/orgs route in a sandbox database before a multi-tenant server opens it.
- `pg_schema()`: a fresh PostgreSQL schema (dropped afterwards); skips without
  KROS_MCP_TEST_POSTGRES_URL.

Subprocesses get a minimal environment (PATH, PYTHONPATH, HOME set to their data directory) plus
what the test gives: a developer's real KrosAI key or options never leak in.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.support.postgres import fresh_schema
from tests.support.processes import RUNNING, free_port, stop_process
from tests.support.results import text_of

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("KROS_MCP_TEST_POSTGRES_URL")
POSTGRES_SKIP_REASON = (
    "set KROS_MCP_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run "
    "the PostgreSQL tests (scale-out, readiness)"
)
START_TIMEOUT = 30.0  # seconds for a server to answer /healthz (two CPUs, several starting at once)

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


# -- processes -------------------------------------------------------------------------------


def base_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KROS_MCP_DATA_DIR": str(data_dir),
        # Over HTTP confirmation defaults to `human`; these tests mostly exercise the token path.
        # A test of the default passes KROS_MCP_CONFIRMATION="" (empty counts as unset).
        "KROS_MCP_CONFIRMATION": "auto",
        # Every test client comes from 127.0.0.1, and the open servers' clients are one principal
        # (their address): the session admission defaults would throttle the suite itself. Tests
        # of those defaults pass "" (unset) for these.
        "KROS_MCP_INITIALIZE_RATE_PER_PRINCIPAL": "100000/minute",
        "KROS_MCP_INITIALIZE_RATE_PER_ADDRESS": "100000/minute",
        "KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL": "1000",
        # Likewise the tool calls one address may make (the load tests send thousands at once).
        "KROS_MCP_TOOL_RATE_PER_ADDRESS": "1000000/second",
    }
    env.update(extra or {})
    return env


TRANSPORT_FLAGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sse": ("sse", ()),
    "stateful": ("streamable-http", ()),
    "stateless": ("streamable-http", ("--stateless",)),
    "stateless-json": ("streamable-http", ("--stateless", "--json-response")),
}


@dataclass
class ServerSpec:
    """One process to start. `variant` is a TRANSPORT_FLAGS key, or 'sandbox' for the sandbox."""

    name: str
    variant: str = "stateful"
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    data_dir: Path | None = None  # default: <tmp>/<name>

    def command(self, port: int, data_dir: Path) -> list[str]:
        if self.variant == "sandbox":
            return [
                sys.executable,
                "-m",
                "kros_mcp",
                "sandbox",
                "--host",
                self.host,
                "--port",
                str(port),
                "--db",
                str(data_dir / "sandbox.sqlite3"),
                "--inventory-per-block",
                "10",
                *self.args,
            ]
        transport, flags = TRANSPORT_FLAGS[self.variant]
        return [
            sys.executable,
            "-m",
            "kros_mcp",
            "serve",
            "--transport",
            transport,
            "--host",
            self.host,
            "--port",
            str(port),
            *flags,
            *self.args,
        ]


@dataclass
class Server:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def transport(self) -> str:
        return (
            TRANSPORT_FLAGS[self.spec.variant][0] if self.spec.variant != "sandbox" else "sandbox"
        )

    @property
    def url(self) -> str:
        return self.root + ("/sse" if self.transport == "sse" else "/mcp")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def _spawn(spec: ServerSpec, tmp: Path, attempt: int) -> Server:
    data_dir = spec.data_dir or tmp / spec.name
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = tmp / f"{spec.name}.{attempt}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.command(port, data_dir),
            env=base_env(data_dir, spec.env),
            cwd=str(data_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    RUNNING.append(process)
    return Server(spec, process, port, data_dir, log_path)


def _healthy(server: Server) -> bool:
    try:
        return httpx2.get(server.root + "/healthz", timeout=1.0).status_code == 200
    except httpx2.TransportError:
        return False


def launch(tmp: Path, specs: Sequence[ServerSpec], timeout: float = START_TIMEOUT) -> list[Server]:
    """Start every spec at once and wait until all answer /healthz. On failure every process
    started here is stopped and the error carries the failing log's tail."""
    servers = [_spawn(spec, tmp, 0) for spec in specs]
    pending = set(range(len(servers)))
    attempts = [0] * len(servers)
    deadline = time.monotonic() + timeout
    try:
        while pending:
            for i in sorted(pending):
                server = servers[i]
                if server.process.poll() is not None:
                    log = server.log()
                    # The free port may be taken between choosing and binding it: try another.
                    if "address already in use" in log.lower() and attempts[i] < 3:
                        attempts[i] += 1
                        servers[i] = _spawn(server.spec, tmp, attempts[i])
                        continue
                    raise RuntimeError(
                        f"{server.spec.name} exited with {server.process.returncode}:\n{log[-3000:]}"
                    )
                if _healthy(server):
                    pending.discard(i)
            if pending and time.monotonic() > deadline:
                names = ", ".join(servers[i].spec.name for i in pending)
                raise RuntimeError(
                    f"timed out after {timeout:.0f}s waiting for /healthz of {names}:\n"
                    + "\n".join(servers[i].log()[-1500:] for i in pending)
                )
            if pending:
                time.sleep(0.05)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


@contextmanager
def start_servers(
    tmp: Path, specs: Sequence[ServerSpec], timeout: float = START_TIMEOUT
) -> Iterator[list[Server]]:
    servers = launch(tmp, specs, timeout)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@contextmanager
def servers_on_sandbox(
    tmp: Path, specs: Sequence[ServerSpec], *, per_second: int = 1000
) -> Iterator[tuple[list[Server], Server]]:
    """A standalone sandbox with its rate limits raised to `per_second`, and `specs` started against
    it (each spec's env gains the sandbox's key and URL). Yields (servers, sandbox)."""
    from kros_mcp.sandbox import SANDBOX_API_KEY

    with start_servers(tmp, [ServerSpec("sandbox", "sandbox")]) as (sandbox,):
        response = httpx2.put(
            sandbox.root + "/_sandbox/rate-limits",
            json={"purchase": per_second, "default": per_second},
            timeout=5.0,
        )
        assert response.status_code == 200, response.text
        backend = {"KROSAI_API_KEY": SANDBOX_API_KEY, "KROSAI_BASE_URL": sandbox.root + "/v1"}
        with start_servers(
            tmp, [replace(spec, env={**backend, **spec.env}) for spec in specs]
        ) as servers:
            yield servers, sandbox


def run_kros(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """`python -m kros_mcp ARGS` to completion (bounded) on `data_dir`, in `base_env`."""
    return subprocess.run(
        [sys.executable, "-m", "kros_mcp", *args],
        env=base_env(data_dir, env),
        cwd=str(data_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(
    tmp: Path, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """`run_kros` on a data directory of its own under `tmp`, for commands expected to exit."""
    data_dir = tmp / f"cli-{secrets.token_hex(3)}"
    data_dir.mkdir(parents=True)
    return run_kros(data_dir, *args, env=env, timeout=timeout)


# -- clients ---------------------------------------------------------------------------------


@asynccontextmanager
async def connect(
    server: Server, mode: str, *, headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[Client]:
    """An MCP client on `server`'s transport, sending `headers` with every HTTP request."""
    options.setdefault("cache", None)  # every read goes to the server
    options.setdefault("read_timeout_seconds", 30.0)
    if server.transport == "sse":
        async with Client(
            sse_client(server.url, headers=headers, timeout=10.0), mode=mode, **options
        ) as client:
            yield client
        return
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30.0)) as http,
        Client(
            streamable_http_client(server.url, http_client=http), mode=mode, **options
        ) as client,
    ):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error is False, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    return json.loads(result.contents[0].text)  # type: ignore[union-attr]


async def first_offer(client: Client, country: str = "NG") -> dict[str, Any]:
    found = ok(await client.call_tool("search_available", {"country": country, "limit": 3}))
    assert found["offers"], found
    return found["offers"][0]


async def buy_with_token(
    client: Client, inventory_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token path: the quote (confirmation_required, nothing bought) and the confirmed purchase."""
    quote = ok(await client.call_tool("purchase_number", {"inventory_id": inventory_id}))
    assert quote["status"] == "confirmation_required" and quote["executed"] is False, quote
    bought = ok(
        await client.call_tool(
            "purchase_number",
            {"inventory_id": inventory_id, "confirmation_token": quote["confirmation_token"]},
        )
    )
    assert bought["status"] == "purchased" and bought["executed"] is True, bought
    return quote, bought


# -- raw JSON-RPC over HTTP ------------------------------------------------------------------

LEGACY_HEADERS = {"Accept": ACCEPT, "Content-Type": "application/json"}


def initialize_body(request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"},
        },
    }


def modern_request(
    request_id: int, method: str, params: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 request (per-request envelope in `_meta`) and the headers it needs."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {**(params or {}), "_meta": meta},
    }
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN_VERSION,
        "Mcp-Method": method,
    }
    if method == "tools/call" and params:
        headers["Mcp-Name"] = params["name"]
    return body, headers


def rpc_messages(response: httpx2.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response, whether a JSON body or an SSE stream."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [
            json.loads(line[5:])
            for line in response.text.splitlines()
            if line.startswith("data:") and line[5:].strip()
        ]
    body = response.json()
    return body if isinstance(body, list) else [body]


async def legacy_session(
    http: httpx2.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> dict[str, str]:
    """Initialize a 2025-11-25 session by hand; the headers that continue it."""
    response = await http.post(
        url, json=initialize_body(), headers={**LEGACY_HEADERS, **(headers or {})}
    )
    assert response.status_code == 200, (response.status_code, response.text)
    session = {**LEGACY_HEADERS, **(headers or {}), "MCP-Protocol-Version": LEGACY_VERSION}
    if "mcp-session-id" in response.headers:
        session["mcp-session-id"] = response.headers["mcp-session-id"]
    done = await http.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session
    )
    assert done.status_code in (200, 202), (done.status_code, done.text)
    return session


# -- sandbox organisations and PostgreSQL ----------------------------------------------------


def make_orgs(db_path: Path, count: int, balance_cents: int = 100_000) -> list[str]:
    """`count` new sandbox organisations in the sandbox database at `db_path` (created if new),
    made through the sandbox's own /_sandbox/orgs route; their API keys."""
    from kros_mcp.sandbox import SandboxTransport, create_app

    db_path.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(db_path)

    async def create() -> list[str]:
        keys = []
        async with httpx2.AsyncClient(
            transport=SandboxTransport(app), base_url="http://sandbox.test"
        ) as http:
            for i in range(count):
                body = {"name": f"tenant {i}", "balance_cents": balance_cents}
                response = await http.post("/_sandbox/orgs", json=body)
                assert response.status_code == 201, response.text
                keys.append(response.json()["api_key"])
        return keys

    try:
        return anyio.run(create)
    finally:
        app.state.sandbox.db.close()


def pg_schema() -> AbstractContextManager[str]:
    """A fresh schema in the test database (dropped afterwards): its name, for `with_search_path`."""
    return fresh_schema("kros_http", skip_reason=POSTGRES_SKIP_REASON)
