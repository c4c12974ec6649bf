"""Where kros-mcp's server CPU goes under HTTP load: py-spy samples the server process while the
throughput benchmark's load runs, and each sample is charged to the hot-path items it is inside.

    python -m tests.benchmarks.profile [--clients 8] [--seconds 10] [--rate 250]

Needs py-spy (`pip install py-spy`) and permission to read another process's memory (root, or
ptrace allowed). The set-up is http_load.py's: stateless streamable HTTP with JSON responses,
list_numbers with 20 numbers, KrosAI (the sandbox) in its own process. A sample can be inside
several items; shares are of all samples taken while the server was busy (py-spy leaves out a
thread that is waiting).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import http_load


# Hot-path items, each a test on one sample's stack (frames joined with ";", outermost first).
def _request_path(stack: str) -> bool:
    """Inside the client's request path but not in httpx2 itself: the timeout scope, the
    connection-slot limiter, the retry loop and deadline."""
    start = max(stack.find("KrosAIClient._send_once"), stack.find("KrosAIClient._request"))
    return start >= 0 and "AsyncClient.request" not in stack[start:]


ITEMS: dict[str, Callable[[str], object]] = {
    "per-call log line": re.compile(
        r"log_tool_call|_log_call \(|logging/handlers\.py|_BatchingHandler\.write_pending"
    ).search,
    "timeout scope, limiter and retry loop per KrosAI request": _request_path,
    "parsing the KrosAI response": re.compile(r"\b_parse \(|_unwrap_data \(").search,
    "building and serialising the result": re.compile(
        r"tool_result \(|convert_result \(|render\.py|server/models\.py|tools/reads\.py:\d+\);BaseModel"
    ).search,
    "KrosAI HTTP request (httpx2)": re.compile(r"AsyncClient\.request \(").search,
}


# A thread waiting (for a lock, a queue, the next batch, the selector) is not busy; py-spy's
# --nonblocking mode cannot always tell.
_WAITING = re.compile(r"(Condition\.wait|Event\.wait|dequeue|EpollSelector\.select) \([^;]*$")


def shares(raw: str) -> dict[str, Any]:
    """py-spy's raw (collapsed) output as the share of busy samples inside each item."""
    busy = 0
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack_text, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        if _WAITING.search(stack_text):
            continue
        n = int(number)
        busy += n
        for item, inside in ITEMS.items():
            if inside(stack_text):
                counts[item] += n
    return {
        "busy_samples": busy,
        "share": {item: round(counts[item] / busy, 3) if busy else None for item in ITEMS},
    }


def run(clients: int, seconds: float, rate: int, keep: Path | None = None) -> dict[str, Any]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kros-profile-")))
        krosai = http_load._start_sandbox(stack, workdir)
        target = http_load._start(stack, workdir, "kros-mcp", krosai)
        http_load._wait_ready(target, time.monotonic() + http_load.START_TIMEOUT)
        http_load.load(target, http_load.MODERN, clients, 1.0, 0.5)  # warm-up
        out = workdir / "profile.txt"
        spying = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(target.process.pid),
                "--rate",
                str(rate),
                "--duration",
                str(int(seconds) + 2),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)
        figures = http_load.load(target, http_load.MODERN, clients, seconds, 0.0)
        _, errors = spying.communicate(timeout=seconds + 60)
        if spying.returncode != 0:
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-2000:]}")
        if keep is not None:
            shutil.copy(out, keep)
        return {"clients": clients, "seconds": seconds, "load": figures, **shares(out.read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=250, help="samples a second")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    print(json.dumps(run(args.clients, args.seconds, args.rate, args.raw), indent=2))


if __name__ == "__main__":
    main()
