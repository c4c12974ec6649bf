"""Scale: sandbox search over a large inventory, list_numbers paging through an organisation with
many numbers (through the MCP tool), and the peak memory of the process doing it.

Runs in a process of its own, so that its peak RSS (ru_maxrss) is this section's alone:

    python -m tests.benchmarks.scale '{"inventory": 100000, "owned": 10000, "searches": 2000}'

Search latency is measured as bench_sandbox measures it (KrosAI client, in-process sandbox), next
to the same searches on the default inventory. Paging goes through an in-process MCP client,
100 numbers a page; tracemalloc then watches a second, untimed pass (it slows Python down).
"""

from __future__ import annotations

import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.sandbox import BLOCKS, create_app

from .bench_sandbox import queries, time_searches
from .common import PYTHON, REPO_ROOT, ms, percentile, ratio
from .seed import lift_rate_limits, seed_owned

PAGE = 100


def search_scale(workdir: Path, inventory: int, searches: int) -> dict[str, Any]:
    per_block = math.ceil(inventory / len(BLOCKS))
    started = time.perf_counter()
    big = create_app(workdir / "big.sqlite3", inventory_per_block=per_block)
    seed_seconds = time.perf_counter() - started
    small = create_app(workdir / "small.sqlite3")
    try:
        plan = queries(random.Random(1), searches)
        baseline = anyio.run(time_searches, small, [dict(q) for q in plan])
        large = anyio.run(time_searches, big, [dict(q) for q in plan])
        return {
            "inventory_numbers": big.state.sandbox.db.inventory_size(),
            "seed_seconds": round(seed_seconds, 1),
            "searches": len(plan),
            "p50_ms": ms(percentile(large, 0.5)),
            "p99_ms": ms(percentile(large, 0.99)),
            "baseline_inventory_numbers": small.state.sandbox.db.inventory_size(),
            "baseline_p50_ms": ms(percentile(baseline, 0.5)),
            "baseline_p99_ms": ms(percentile(baseline, 0.99)),
            "p50_ratio": ratio(percentile(large, 0.5), percentile(baseline, 0.5)),
        }
    finally:
        big.state.sandbox.db.close()
        small.state.sandbox.db.close()


async def _page_through(client: Client, times: list[float] | None) -> int:
    seen = 0
    offset: int | None = 0
    while offset is not None:
        started = time.perf_counter()
        result = await client.call_tool("list_numbers", {"limit": PAGE, "offset": offset})
        if times is not None:
            times.append(time.perf_counter() - started)
        assert not result.is_error, result
        page = result.structured_content
        seen += len(page["numbers"])
        offset = page.get("next_offset")
    return seen


async def paging_scale(workdir: Path, owned: int) -> dict[str, Any]:
    data_dir = workdir / "paging"
    app = create_app(data_dir / "sandbox.sqlite3")
    seeded = seed_owned(app.state.sandbox.db, owned)
    app.state.sandbox.db.close()
    server = build_server(Settings(KROS_MCP_DATA_DIR=data_dir))
    async with Client(server) as client:
        deps = server.current_deps_or_none()
        assert deps is not None
        lift_rate_limits(deps.sandbox_app)
        await client.call_tool("list_numbers", {"limit": PAGE})  # warm-up: validators, SQLite pages
        times: list[float] = []
        started = time.perf_counter()
        seen = await _page_through(client, times)
        elapsed = time.perf_counter() - started
        assert seen == seeded, (seen, seeded)
        tracemalloc.start()
        await _page_through(client, None)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "owned_numbers": seen,
        "page_size": PAGE,
        "pages": len(times),
        "total_s": round(elapsed, 2),
        "page_p50_ms": ms(percentile(times, 0.5)),
        "page_p99_ms": ms(percentile(times, 0.99)),
        "first_page_ms": ms(times[0]),
        "last_page_ms": ms(times[-1]),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 2),
    }


def measure(inventory: int, owned: int, searches: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kros-bench-scale-") as tmp:
        result = {
            "search": search_scale(Path(tmp), inventory, searches),
            "list_numbers_paging": anyio.run(paging_scale, Path(tmp), owned),
        }
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def run(inventory: int, owned: int, searches: int) -> dict[str, Any]:
    """This section in a process of its own (its peak RSS is then its own)."""
    spec = json.dumps({"inventory": inventory, "owned": owned, "searches": searches})
    done = subprocess.run(
        [PYTHON, "-m", "tests.benchmarks.scale", spec],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale benchmark failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(**json.loads(sys.argv[1]))))
