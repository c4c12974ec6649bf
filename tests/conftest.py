"""Shared fixtures: anyio backend, sandbox apps in-process and on a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from kros_mcp.krosai import KrosAIClient, ReconcilePolicy, RetryPolicy
from kros_mcp.sandbox import SANDBOX_API_KEY, SandboxTransport, create_app
from kros_mcp.sandbox.serve import quiet_dropped_connections

FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, deadline=10.0)
FAST_RECONCILE = ReconcilePolicy(scan_delays=(0.0, 0.05))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[Starlette]:
    app = create_app(tmp_path / "sandbox.sqlite3", inventory_per_block=10)
    yield app
    app.state.sandbox.db.close()


def make_client(app: Starlette, api_key: str = SANDBOX_API_KEY, **kwargs: object) -> KrosAIClient:
    """A KrosAI client that reaches `app` in-process."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("reconcile", FAST_RECONCILE)
    return KrosAIClient(
        api_key, base_url="http://sandbox.test/v1", transport=SandboxTransport(app), **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture
async def client(sandbox_app: Starlette) -> AsyncIterator[KrosAIClient]:
    async with make_client(sandbox_app) as c:
        yield c


@dataclass
class RunningSandbox:
    app: Starlette
    base_url: str  # ends in /v1
    root: str


@pytest.fixture
def sandbox_server(sandbox_app: Starlette) -> Iterator[RunningSandbox]:
    """The sandbox app served by uvicorn on a real 127.0.0.1 socket, in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    quiet_dropped_connections()
    server = uvicorn.Server(uvicorn.Config(sandbox_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    root = f"http://127.0.0.1:{port}"
    yield RunningSandbox(sandbox_app, root + "/v1", root)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
