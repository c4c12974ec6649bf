"""Cold start: process spawn until `initialize` and `tools/list` are answered over stdio.

Three kinds of run, interleaved so that machine noise falls on all alike:
- baseline: tests.benchmarks.baseline_server (one no-op tool, same SDK);
- first run: `python -m kros_mcp serve` on an empty data directory (creates and seeds the sandbox
  database, the state store and the signing key);
- warm: the same on a data directory an earlier run left behind (the usual case).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import PYTHON, median, ms, ratio, subprocess_env

BASELINE_CMD = [PYTHON, "-m", "tests.benchmarks.baseline_server"]
OURS_CMD = [PYTHON, "-m", "kros_mcp", "serve"]
PROTOCOL = "2025-11-25"


def _send(process: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def _answer(process: subprocess.Popen[bytes], request_id: int) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited before answering request {request_id}")
        message = json.loads(line)
        if message.get("id") == request_id:
            return message


def stdio_start(command: list[str], data_dir: Path) -> tuple[float, float, int, float]:
    """Seconds from spawn to the `initialize` answer and to the `tools/list` answer, tools listed,
    and the CPU seconds (user + system) of the whole process, exit included."""
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=subprocess_env(data_dir),
        cwd=str(data_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        _send(
            process,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "0"},
                },
            },
        )
        init = _answer(process, 1)
        initialized = time.perf_counter()
        assert "result" in init, init
        _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = _answer(process, 2)
        listed = time.perf_counter()
        count = len(tools["result"]["tools"])
    finally:
        cpu = _reap(process)
    return initialized - started, listed - started, count, cpu


def _reap(process: subprocess.Popen[bytes]) -> float:
    """Close stdin (the server then exits), wait (bounded) and return the process's CPU seconds."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    deadline = time.monotonic() + 15
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=5)
            return float("nan")
        time.sleep(0.005)
    process.stdout.close()
    return usage.ru_utime + usage.ru_stime


def _import_tree(stderr: str) -> dict[str, tuple[int, str | None]]:
    """`-X importtime` output as {module: (self microseconds, importing module or None)}."""
    tree: dict[str, tuple[int, str | None]] = {}
    pending: list[
        tuple[int, str, int]
    ] = []  # (depth, module, self us) whose importer is not yet seen
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)$", stderr, re.M):
        depth, name, own = len(match.group(2)), match.group(3), int(match.group(1))
        # importtime prints a module after everything it imported, one level deeper.
        while pending and pending[-1][0] > depth:
            _child_depth, child, child_own = pending.pop()
            tree[child] = (child_own, name)
        pending.append((depth, name, own))
    for _, name, own in pending:
        tree[name] = (own, None)
    return tree


def extra_imports(workdir: Path, top: int = 12) -> dict[str, Any]:
    """Modules our stdio start-up imports that the baseline's does not (`python -X importtime`), by
    top-level package, with their own import time (inflated by importtime itself: compare, don't add)."""

    def imported(command: list[str], data_dir: Path) -> dict[str, tuple[int, str | None]]:
        data_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.run(
            [command[0], "-X", "importtime", *command[1:]],
            input=b"",
            capture_output=True,
            env=subprocess_env(data_dir),
            cwd=str(data_dir),
            timeout=60,
        )
        return _import_tree(process.stderr.decode(errors="replace"))

    base = imported(BASELINE_CMD, workdir / "imports-baseline")
    ours = imported(OURS_CMD, workdir / "imports-ours")
    extra = {name: v for name, v in ours.items() if name not in base}

    def group(name: str) -> str:
        """Our own modules count as one; anything else under the outermost non-kros_mcp importer."""
        if name.split(".")[0] == "kros_mcp":
            return "kros_mcp (own modules)"
        while extra[name][1] in extra and str(extra[name][1]).split(".")[0] != "kros_mcp":
            name = str(extra[name][1])
        return name.split(".")[0]

    totals: dict[str, int] = {}
    for name, (own, _) in extra.items():
        key = group(name)
        totals[key] = totals.get(key, 0) + own
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return {
        "modules": len(extra),
        "total_ms": round(sum(v[0] for v in extra.values()) / 1000, 1),
        "top": [{"module": name, "ms": round(us / 1000, 1)} for name, us in ranked[:top]],
    }


def run(runs: int = 10, importtime: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kros-bench-cold-") as tmp:
        return _run(Path(tmp), runs, importtime)


def _run(workdir: Path, runs: int, importtime: bool) -> dict[str, Any]:
    warm_dir = workdir / "warm"
    # Warm-up, not counted: compiles bytecode, fills the OS file cache, makes the warm data dir.
    stdio_start(BASELINE_CMD, workdir / "baseline")
    stdio_start(OURS_CMD, warm_dir)
    samples: dict[str, list[tuple[float, float, int, float]]] = {
        "baseline": [],
        "first_run": [],
        "warm": [],
    }
    for i in range(runs):
        fresh = workdir / f"fresh-{i}"
        order = [
            ("baseline", BASELINE_CMD, workdir / "baseline"),
            ("first_run", OURS_CMD, fresh),
            ("warm", OURS_CMD, warm_dir),
        ]
        for name, command, data_dir in order[i % 3 :] + order[: i % 3]:  # rotate who goes first
            samples[name].append(stdio_start(command, data_dir))
    result: dict[str, Any] = {"runs": runs, "protocol": PROTOCOL}
    for name, rows in samples.items():
        result[name] = {
            "initialize_ms": ms(median([r[0] for r in rows]), 1),
            "tools_list_ms": ms(median([r[1] for r in rows]), 1),
            "cpu_ms": ms(median([r[3] for r in rows]), 1),
            "tools": rows[0][2],
        }
    paired = [w[1] / b[1] for w, b in zip(samples["warm"], samples["baseline"], strict=True)]
    result["warm_ratio_spread"] = {"min": round(min(paired), 3), "max": round(max(paired), 3)}
    base = median([r[1] for r in samples["baseline"]])
    result["warm_ratio"] = ratio(median([r[1] for r in samples["warm"]]), base)
    result["first_run_ratio"] = ratio(median([r[1] for r in samples["first_run"]]), base)
    # The fastest runs are those least disturbed by the rest of the machine: a steadier ratio.
    fastest = min(r[1] for r in samples["baseline"])
    result["warm_ratio_fastest"] = ratio(min(r[1] for r in samples["warm"]), fastest)
    result["first_run_ratio_fastest"] = ratio(min(r[1] for r in samples["first_run"]), fastest)
    base_cpu = median([r[3] for r in samples["baseline"]])
    result["warm_cpu_ratio"] = ratio(median([r[3] for r in samples["warm"]]), base_cpu)
    result["first_run_cpu_ratio"] = ratio(median([r[3] for r in samples["first_run"]]), base_cpu)
    result["target_ratio"] = 1.08
    if importtime:
        result["extra_imports"] = extra_imports(workdir)
    return result
