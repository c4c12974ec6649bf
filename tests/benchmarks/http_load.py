"""HTTP throughput: stateless streamable HTTP under uvicorn, kros-mcp's list_numbers against the
baseline server's no-op tool, with 1, 8 and 32 concurrent clients for a fixed time each.

Servers run in their own processes, as deployed (`kros-mcp serve --transport streamable-http
--stateless`, with and without `--json-response`); the load comes from separate processes
(tests/benchmarks/loadgen.py) sending raw JSON-RPC `tools/call` POSTs on keep-alive connections.
The two servers take turns under the same load; each run reports the CPU the server and the load
processes used, so it shows whether the load generator could have been the bottleneck.

kros-mcp runs with its sandbox's imitation of KrosAI's 50 requests/s limit lifted (see
serve_unthrottled.py) and KROS_MCP_TOOL_RATE_LIMIT=10000 (its HTTP default is 20 tool calls/s
per organisation): both limiters would otherwise be what is measured.

With the embedded sandbox, each call's KrosAI request is served inside the server's own process,
so the server pays for both sides. The "own process" runs put the sandbox in a separate process,
reached over HTTP as the real API is: closer to a deployment, though on the same machine's cores.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kros_mcp.sandbox import SANDBOX_API_KEY, create_app
from tests.support.processes import stop_process

from .common import PYTHON, free_port, percentile, ratio, subprocess_env
from .seed import seed_owned

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
LOAD_PROCESSES = 2
OWNED = 20
REMOTE = "ours-remote"  # kros-mcp with its KrosAI (the sandbox) in another process
START_TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    name: str  # ours | baseline
    json_response: bool
    port: int
    process: subprocess.Popen[bytes]
    tool: str
    arguments: dict[str, Any]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")


def modern_call(
    name: str, arguments: dict[str, Any], request_id: int = 1
) -> tuple[str, dict[str, str]]:
    """A 2026-07-28 tools/call: the envelope travels in `_meta`, the routing in headers."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "kros-bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": meta},
    }
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    return json.dumps(body), headers


def legacy_call(
    name: str, arguments: dict[str, Any]
) -> tuple[str, dict[str, str], list[dict[str, Any]]]:
    """A 2025-11-25 tools/call, after the initialize handshake each connection makes first."""
    headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "kros-bench", "version": "1"},
        },
    }
    session = {**headers, "MCP-Protocol-Version": LEGACY}
    setup = [
        {"headers": headers, "body": json.dumps(initialize)},
        {
            "headers": session,
            "body": json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        },
    ]
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return json.dumps(body), session, setup


def _post(port: int, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/mcp", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_ready(target: Target, deadline: float) -> None:
    body, headers = modern_call(target.tool, target.arguments)
    while True:
        if target.process.poll() is not None:
            raise RuntimeError(f"{target.name} server exited with {target.process.returncode}")
        try:
            status, answer = _post(target.port, body, headers)
            if status == 200 and b'"isError":true' not in answer:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target.name} server on port {target.port} did not answer in time")
        time.sleep(0.1)


def _start(stack: ExitStack, workdir: Path, name: str, json_response: bool) -> Target:
    port = free_port()
    data_dir = workdir / f"{name}-{'json' if json_response else 'sse'}"
    data_dir.mkdir(parents=True)
    flags = ["--json-response"] if json_response else []
    if name.startswith("ours"):
        app = create_app(data_dir / "sandbox.sqlite3")
        seed_owned(app.state.sandbox.db, OWNED)
        app.state.sandbox.db.close()
        command = [
            PYTHON,
            "-m",
            "tests.benchmarks.serve_unthrottled",
            "serve",
            "--transport",
            "streamable-http",
            "--stateless",
            "--port",
            str(port),
            *flags,
        ]
        extra = {"KROS_MCP_TOOL_RATE_LIMIT": "10000"}
        if name == REMOTE:  # KrosAI stands in its own process, reached over HTTP as the real API is
            extra.update(
                KROSAI_API_KEY=SANDBOX_API_KEY,
                KROSAI_BASE_URL=f"http://127.0.0.1:{_start_sandbox(stack, data_dir)}/v1",
            )
        env = subprocess_env(data_dir, extra)
        tool, arguments = "list_numbers", {"limit": OWNED}
    else:
        command = [PYTHON, "-m", "tests.benchmarks.baseline_server", "--port", str(port), *flags]
        env = subprocess_env(data_dir)
        tool, arguments = "noop", {}
    log = (data_dir / "server.log").open("wb")
    stack.callback(log.close)
    process = subprocess.Popen(
        command,
        env=env,
        cwd=str(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(_stop, process)
    return Target(name, json_response, port, process, tool, arguments)


def _start_sandbox(stack: ExitStack, data_dir: Path) -> int:
    """`kros-mcp sandbox` on the seeded database, with its rate limits lifted; returns its port."""
    port = free_port()
    command = [
        PYTHON,
        "-m",
        "tests.benchmarks.serve_unthrottled",
        "sandbox",
        "--port",
        str(port),
        "--db",
        str(data_dir / "sandbox.sqlite3"),
    ]
    log = (data_dir / "sandbox.log").open("wb")
    stack.callback(log.close)
    process = subprocess.Popen(
        command,
        env=subprocess_env(data_dir),
        cwd=str(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(_stop, process)
    return port


_stop = functools.partial(stop_process, grace=10.0)


def load(
    target: Target, era: str, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """`concurrency` connections on `target` for `seconds` (after `warmup`), from separate processes."""
    if era == MODERN:
        body, headers = modern_call(target.tool, target.arguments)
        setup: list[dict[str, Any]] = []
    else:
        body, headers, setup = legacy_call(target.tool, target.arguments)
    processes = min(concurrency, LOAD_PROCESSES)
    start_at = time.time() + 0.5  # every load process is up and connected by then
    cpu_before = target.cpu_seconds()
    runs = []
    for i in range(processes):
        spec = {
            "host": "127.0.0.1",
            "port": target.port,
            "path": "/mcp",
            "headers": headers,
            "body": body,
            "setup": setup,
            "connections": concurrency // processes + (i < concurrency % processes),
            "start_at": start_at,
            "measure_from": start_at + warmup,
            "stop_at": start_at + warmup + seconds,
        }
        process = subprocess.Popen(
            [PYTHON, "-m", "tests.benchmarks.loadgen"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=subprocess_env(Path(tempfile.gettempdir())),
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(spec).encode())
        process.stdin.close()
        runs.append(process)
    results = []
    for process in runs:
        assert process.stdout is not None
        out = process.stdout.read()
        if process.wait(timeout=seconds + warmup + 60) != 0:
            raise RuntimeError(f"load process failed against {target.name}")
        results.append(json.loads(out))
    server_cpu = target.cpu_seconds() - cpu_before
    latencies = [x for r in results for x in r["latencies_ms"]]
    load_cpu = sum(r["cpu_seconds"] for r in results)
    errors = sum(r["errors"] for r in results)
    return {
        "calls_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "errors": errors,
        **(
            {"last_error": next(r["last_error"] for r in results if r.get("last_error"))}
            if errors
            else {}
        ),
        "server_cpu_s": round(server_cpu, 2),
        "load_cpu_s": round(load_cpu, 2),
    }


def run(
    seconds: float = 5.0,
    warmup: float = 1.0,
    levels: tuple[int, ...] = (1, 8, 32),
    legacy_level: int | None = 8,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "seconds_per_run": seconds,
        "warmup_s": warmup,
        "load_processes": LOAD_PROCESSES,
        "target_ratio": 0.8,
        "runs": [],
    }
    with ExitStack() as stack:
        # Registered first, so removed last: after every server has stopped.
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kros-bench-http-")))
        targets = {
            (name, mode): _start(stack, workdir, name, mode)
            for mode in (True, False)
            for name in ("ours", "baseline")
        }
        targets[(REMOTE, True)] = _start(stack, workdir, REMOTE, True)
        deadline = time.monotonic() + START_TIMEOUT
        for target in targets.values():
            _wait_ready(target, deadline)
        plan = [(MODERN, mode, level, "ours") for mode in (True, False) for level in levels]
        if legacy_level is not None:
            plan.append((LEGACY, True, legacy_level, "ours"))
        plan += [(MODERN, True, level, REMOTE) for level in levels]
        for turn, (era, mode, level, ours) in enumerate(plan):
            pair = (ours, "baseline") if turn % 2 == 0 else ("baseline", ours)
            figures = {
                ("ours" if name == ours else name): load(
                    targets[(name, mode)], era, level, seconds, warmup
                )
                for name in pair
            }
            result["runs"].append(
                {
                    "era": era,
                    "response": "json" if mode else "sse",
                    "concurrency": level,
                    "krosai": "own process" if ours == REMOTE else "in-process",
                    "ours": figures["ours"],
                    "baseline": figures["baseline"],
                    "throughput_ratio": ratio(
                        figures["ours"]["calls_per_s"], figures["baseline"]["calls_per_s"]
                    ),
                }
            )
        result["peak_rss_mb"] = {
            f"{name}-{'json' if mode else 'sse'}": t.peak_rss_mb()
            for (name, mode), t in targets.items()
        }
    ratios = [r["throughput_ratio"] for r in result["runs"]]
    result["min_throughput_ratio"] = min(ratios)
    return result
