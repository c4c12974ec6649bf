"""HTTP throughput against fair baselines: stateless streamable HTTP under uvicorn, `list_numbers`
(20 numbers) with 1, 8 and 32 concurrent clients, each level repeated, three servers in turn:

- kros-mcp: `kros-mcp serve --transport streamable-http --stateless --json-response`, with KrosAI
  (the sandbox) in its own process, reached over HTTP as the real API is;
- the fair baseline: a bare `MCPServer` whose tool makes the same KrosAI request with a plain
  `httpx2.AsyncClient` against the same sandbox process and returns the JSON as it came
  (fair_baseline.py `mcp`);
- the physical floor: plain Starlette, no MCP, the same request (fair_baseline.py `floor`).

No server whose tool calls an API can reach a no-op tool's throughput, so that is no longer the
yardstick. Each run reports calls/s, latency and the CPU the server process used per call
(warm-up included); the sandbox's own CPU is in its process, not counted. The load comes from
separate processes (tests/benchmarks/loadgen.py) on keep-alive connections; the order of the
three servers rotates from one repetition to the next so that noise falls on all alike.

The sandbox's imitation of KrosAI's 50 requests/s limit is lifted (serve_unthrottled.py), and
kros-mcp's own tool-call limits are lifted (KROS_MCP_TOOL_RATE_LIMIT, 20/s per organisation over
HTTP by default, and KROS_MCP_TOOL_RATE_PER_ADDRESS, 100/s per client address): either limiter
would otherwise be what is measured.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kros_mcp.sandbox import SANDBOX_API_KEY, create_app
from tests.support.processes import stop_process

from .common import PYTHON, free_port, percentile, subprocess_env
from .seed import seed_owned

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
LOAD_PROCESSES = 2
OWNED = 20
START_TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVERS = ("kros-mcp", "fair", "floor")


@dataclass
class Target:
    name: str  # kros-mcp | fair | floor
    port: int
    process: subprocess.Popen[bytes]
    tool: str = "list_numbers"

    @property
    def arguments(self) -> dict[str, Any]:
        return {"limit": OWNED}

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


def _spawn(stack: ExitStack, command: list[str], data_dir: Path, env: dict[str, str]) -> Any:
    log = (data_dir / f"{command[2].rsplit('.', 1)[-1]}-{command[3]}.log").open("wb")
    stack.callback(log.close)
    process = subprocess.Popen(
        command, env=env, cwd=str(data_dir), stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    stack.callback(_stop, process)
    return process


def _start_sandbox(stack: ExitStack, data_dir: Path) -> str:
    """`kros-mcp sandbox` on a database seeded with OWNED numbers, rate limits lifted; its URL."""
    app = create_app(data_dir / "sandbox.sqlite3")
    seed_owned(app.state.sandbox.db, OWNED)
    app.state.sandbox.db.close()
    port = free_port()
    command = [PYTHON, "-m", "tests.benchmarks.serve_unthrottled", "sandbox", "--port", str(port)]
    command += ["--db", str(data_dir / "sandbox.sqlite3")]
    _spawn(stack, command, data_dir, subprocess_env(data_dir))
    return f"http://127.0.0.1:{port}/v1"


def _start(stack: ExitStack, data_dir: Path, name: str, krosai: str) -> Target:
    port = free_port()
    env = subprocess_env(data_dir / name)
    (data_dir / name).mkdir()
    if name == "kros-mcp":
        command = [PYTHON, "-m", "tests.benchmarks.serve_unthrottled", "serve"]
        command += ["--transport", "streamable-http", "--stateless", "--json-response"]
        env.update(
            KROS_MCP_TOOL_RATE_LIMIT="10000",
            KROS_MCP_TOOL_RATE_PER_ADDRESS="1000000/second",
            KROSAI_API_KEY=SANDBOX_API_KEY,
            KROSAI_BASE_URL=krosai,
        )
    else:
        command = [
            PYTHON,
            "-m",
            "tests.benchmarks.fair_baseline",
            "mcp" if name == "fair" else name,
        ]
        command += ["--krosai", krosai]
    command += ["--port", str(port)]
    return Target(name, port, _spawn(stack, command, data_dir, env))


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
    errors = sum(r["errors"] for r in results)
    answered = sum(r["all_calls"] for r in results)
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
        "cpu_ms_per_call": round(server_cpu * 1000 / answered, 3) if answered else None,
        "load_cpu_s": round(sum(r["cpu_seconds"] for r in results), 2),
    }


def _spread(values: list[float | None]) -> dict[str, float | None]:
    """Median, min and max of the figures a run produced (a run too short to finish a call has
    none)."""
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(known), 3),
        "min": round(min(known), 3),
        "max": round(max(known), 3),
    }


def _ratios(ours: list[float], base: list[float]) -> list[float | None]:
    return [o / b if b else None for o, b in zip(ours, base, strict=True)]


def _differences(ours: list[Any], base: list[Any]) -> list[float | None]:
    return [
        o - b if o is not None and b is not None else None for o, b in zip(ours, base, strict=True)
    ]


def _level_summary(level: int, reps: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    def per(name: str, key: str) -> list[Any]:
        return [rep[name][key] for rep in reps]

    ours, fair, floor = (per(n, "calls_per_s") for n in SERVERS)
    cpu = {name: per(name, "cpu_ms_per_call") for name in SERVERS}
    return {
        "concurrency": level,
        "repetitions": len(reps),
        "calls_per_s": {name: _spread(per(name, "calls_per_s")) for name in SERVERS},
        "p99_ms": {name: _spread(per(name, "p99_ms")) for name in SERVERS},
        "cpu_ms_per_call": {name: _spread(cpu[name]) for name in SERVERS},
        "vs_fair": _spread(_ratios(ours, fair)),
        "vs_floor": _spread(_ratios(ours, floor)),
        "fair_vs_floor": _spread(_ratios(fair, floor)),
        "cpu_ms_above_fair": _spread(_differences(cpu["kros-mcp"], cpu["fair"])),
        "runs": reps,
    }


def run(
    seconds: float = 5.0,
    warmup: float = 1.0,
    levels: tuple[int, ...] = (1, 8, 32),
    repetitions: int = 3,
    legacy_level: int | None = 8,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "seconds_per_run": seconds,
        "warmup_s": warmup,
        "load_processes": LOAD_PROCESSES,
        "owned_numbers": OWNED,
        "levels": [],
    }
    with ExitStack() as stack:
        # Registered first, so removed last: after every server has stopped.
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kros-bench-http-")))
        krosai = _start_sandbox(stack, workdir)
        targets = {name: _start(stack, workdir, name, krosai) for name in SERVERS}
        deadline = time.monotonic() + START_TIMEOUT
        for target in targets.values():
            _wait_ready(target, deadline)
        turn = 0
        for level in levels:
            reps = []
            for _ in range(repetitions):
                order = SERVERS[turn % 3 :] + SERVERS[: turn % 3]
                turn += 1
                figures = {n: load(targets[n], MODERN, level, seconds, warmup) for n in order}
                reps.append(figures)
            result["levels"].append(_level_summary(level, reps))
        if legacy_level is not None:  # the 2025-11-25 era (initialize first), for comparison
            legacy = {
                n: load(targets[n], LEGACY, legacy_level, seconds, warmup)
                for n in ("kros-mcp", "fair")
            }
            result["legacy"] = {
                "concurrency": legacy_level,
                **legacy,
                "vs_fair": round(
                    legacy["kros-mcp"]["calls_per_s"] / legacy["fair"]["calls_per_s"], 3
                ),
            }
        result["peak_rss_mb"] = {name: t.peak_rss_mb() for name, t in targets.items()}
    return result
