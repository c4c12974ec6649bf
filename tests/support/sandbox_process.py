"""kros-mcp and the sandbox as real processes on real sockets, the integration tests' rig (the
crash campaign of tests/reliability uses it too).

- `start_sandbox(tmp_path)` / `stop_sandbox(sandbox)`: the standalone sandbox (`python -m kros_mcp
  sandbox`) as a subprocess on a free 127.0.0.1 port, rate limits lifted; a kros-mcp server reaches
  it as if it were KrosAI. `SandboxProcess` has async helpers for its /v1 and /_sandbox routes.
- `stdio_server(...)`: `python -m kros_mcp` as a stdio subprocess with an MCP client, and its pid
  (the spawn goes through PID_WRAPPER, which writes its own pid, then runs kros_mcp in the same
  process), so a test can SIGKILL the very server mid-call (`kill_hard`, `process_gone`).
- `wait_until(...)`: poll an async condition with a deadline; `read_json_resource(...)`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from kros_mcp.sandbox import SANDBOX_API_KEY
from tests.support.processes import free_port, stop_process

__all__ = [
    "PID_WRAPPER",
    "RunningServer",
    "SandboxProcess",
    "kill_hard",
    "process_gone",
    "read_json_resource",
    "start_sandbox",
    "stdio_server",
    "stop_sandbox",
    "wait_until",
]

REPO_ROOT = Path(__file__).resolve().parents[2]

# Writes its pid, then becomes `python -m kros_mcp` (same process, so the pid is the server's).
PID_WRAPPER = (
    "import os, runpy, sys\n"
    "path = sys.argv[1]\n"
    "with open(path + '.tmp', 'w') as f: f.write(str(os.getpid()))\n"
    "os.replace(path + '.tmp', path)\n"
    "sys.argv = ['kros_mcp']\n"
    "runpy.run_module('kros_mcp', run_name='__main__', alter_sys=True)\n"
)


async def wait_until(
    condition: Callable[[], Awaitable[Any]], *, timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await anyio.sleep(interval)


async def read_json_resource(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri, cache_mode="bypass")
    return json.loads(result.contents[0].text)  # type: ignore[union-attr]


# -- the standalone sandbox ------------------------------------------------------------------


@dataclass
class SandboxProcess:
    """A sandbox subprocess on a real socket, and async helpers for its /v1 and /_sandbox routes."""

    process: subprocess.Popen[bytes]
    root: str
    log_path: Path
    api_key: str = SANDBOX_API_KEY

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx2.AsyncClient(
            base_url=self.root, headers={"x-api-key": self.api_key}, timeout=10.0
        ) as http:
            response = await http.request(method, path, json=body)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()

    async def purchases(self) -> list[dict[str, Any]]:
        """The organisation's purchase transactions (amounts are negative: money out)."""
        body = await self.request("GET", "/_sandbox/org/transactions")
        return [t for t in body["transactions"] if t["kind"] == "purchase"]

    async def owned(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/v1/phone-numbers?limit=100"))["phone_numbers"]

    async def faults(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/_sandbox/faults"))["faults"]

    async def arm(self, kind: str, operation: str, *, seconds: float = 0.0, times: int = 1) -> None:
        await self.request(
            "POST",
            "/_sandbox/faults",
            {"kind": kind, "operation": operation, "seconds": seconds, "times": times},
        )


def _sandbox_command(port: int, db_path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "kros_mcp",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(db_path),
        "--inventory-per-block",
        "10",
    ]


def _ready(process: subprocess.Popen[bytes], root: str, log_path: Path) -> SandboxProcess | None:
    """The sandbox once it answers /healthz (its rate limits lifted), None if it exited or did not
    answer in time."""
    deadline = time.monotonic() + 20
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx2.get(root + "/healthz", timeout=1.0).status_code == 200:
                response = httpx2.put(
                    root + "/_sandbox/rate-limits",
                    json={"purchase": 1000, "default": 1000},
                    timeout=5.0,
                )
                assert response.status_code == 200, response.text
                return SandboxProcess(process, root, log_path)
        except httpx2.TransportError:
            pass
        time.sleep(0.05)
    return None


def start_sandbox(tmp_path: Path) -> SandboxProcess:
    """The standalone sandbox on a free port, its database and log in `tmp_path`."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KROS_MCP_DATA_DIR": str(tmp_path / "sandbox-data"),
    }
    for attempt in range(3):  # the free port may be taken between choosing it and binding it
        port = free_port()
        log_path = tmp_path / f"sandbox-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                _sandbox_command(port, tmp_path / "sandbox.sqlite3"),
                env=env,
                cwd=str(tmp_path),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        sandbox = _ready(process, f"http://127.0.0.1:{port}", log_path)
        if sandbox is not None:
            return sandbox
        stop_process(process, grace=1.0)
    raise RuntimeError(
        f"the sandbox did not start; see {log_path}:\n{log_path.read_text()[-2000:]}"
    )


def stop_sandbox(sandbox: SandboxProcess) -> None:
    # A short grace: a handler may be sleeping in a latency fault.
    stop_process(sandbox.process, grace=1.0)


# -- kros-mcp as a stdio subprocess -----------------------------------------------------------


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (absent, or a zombie not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def kill_hard(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class RunningServer:
    client: Client
    pid: int
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text()


@asynccontextmanager
async def stdio_server(
    tmp_path: Path, name: str, env: dict[str, str]
) -> AsyncIterator[RunningServer]:
    """`python -m kros_mcp` over stdio (legacy handshake) with `env`, and its pid. The process is
    stopped on the way out however the block ends (killed outright if still alive)."""
    pid_path = tmp_path / f"{name}.pid"
    stderr_path = tmp_path / f"{name}.stderr"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", PID_WRAPPER, str(pid_path)],
        env={"PYTHONPATH": str(REPO_ROOT), **env},
        cwd=str(tmp_path),
    )
    pid: int | None = None
    with stderr_path.open("w") as errlog:
        try:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                pid = int(pid_path.read_text())
                # The pid is this very server: its command line names our pid file.
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                assert str(pid_path).encode() in cmdline, cmdline
                yield RunningServer(client, pid, stderr_path)
        finally:
            if pid is None and pid_path.exists():
                pid = int(pid_path.read_text())
            if pid is not None and not process_gone(pid):
                kill_hard(pid)
