"""Shared fixtures: anyio backend, sandbox apps in-process and on a real socket, the reaper of
server processes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from kros_mcp.krosai import KrosAIClient
from kros_mcp.sandbox import create_app
from kros_mcp.sandbox.serve import quiet_dropped_connections
from tests.support.krosai import RunningSandbox, make_client
from tests.support.processes import stop_all


@pytest.fixture
def anyio_backend() -> str:
    """The one event loop every async test runs on (no folder defines its own)."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _reap_processes() -> Iterator[None]:
    """Whatever server process a failed test left running (tests.support.processes.RUNNING) is
    stopped at the end of the run, so nothing outlives it."""
    yield
    stop_all()


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[Starlette]:
    app = create_app(tmp_path / "sandbox.sqlite3", inventory_per_block=10)
    yield app
    app.state.sandbox.db.close()


@pytest.fixture
async def client(sandbox_app: Starlette) -> AsyncIterator[KrosAIClient]:
    async with make_client(sandbox_app) as c:
        yield c


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


# Deselected by the inner loop (`pytest -m "not slow"`); CI runs everything: the long campaigns
# (reliability, benchmarks, distribution builds; test_readme's quick start carries the mark itself)
# and the suites that start kros-mcp or the sandbox as processes. Paths relative to the
# repository: a folder (ending in /), a file, or one test.
SLOW = (
    "tests/reliability/",
    "tests/benchmarks/",
    "tests/test_distribution.py::test_bundle",
    "tests/test_distribution.py::test_client_config_starts_the_server",
    "tests/http/",
    "tests/integration/",
    "tests/cli/",
    "tests/server/test_stdio.py",
    "tests/server/policy/test_cli.py",
    "tests/e2e/",  # Chromium
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        test = f"{where}::{item.name.split('[')[0]}"
        if any(where.startswith(p) if p.endswith("/") else p in (where, test) for p in SLOW):
            item.add_marker(pytest.mark.slow)
