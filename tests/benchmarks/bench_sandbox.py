"""Sandbox benchmark: search latency over a large inventory, and purchase throughput.

    .venv/bin/python -m tests.benchmarks.bench_sandbox [--numbers 1000000] [--searches 2000]

Prints a table and writes tests/benchmarks/results/sandbox.json. Latencies are measured through
the real KrosAI client reaching the sandbox in-process, next to the same searches on the default
inventory (the baseline, same process), so the ratio shows what size costs.

The search part also runs in the "scale" section of `python -m tests.benchmarks` (see its
__main__.py); this module adds the purchase throughput.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from kros_mcp.krosai import KrosAIClient, RetryPolicy
from kros_mcp.sandbox import BLOCKS, SANDBOX_API_KEY, SandboxTransport, create_app

from .common import percentile

RESULTS = Path(__file__).parent / "results"


def queries(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """A mix of searches a model makes: by country, by type, by area code, some paged."""
    out = []
    for _ in range(count):
        block = rng.choice(BLOCKS)
        shape = rng.random()
        query: dict[str, Any] = {"country": block.country, "limit": 20}
        if shape < 0.4:
            query["type"] = block.type
        elif shape < 0.8:
            query["area_code"] = block.area_code
        if rng.random() < 0.2:
            query["offset"] = rng.randrange(0, 2000)
        out.append(query)
    return out


async def time_searches(app: Any, plan: list[dict[str, Any]]) -> list[float]:
    # KrosAI's 50 requests/s limit would measure the limiter, not the search.
    app.state.sandbox.limiter.set_limit("default", 1e9)
    samples = []
    async with KrosAIClient(
        SANDBOX_API_KEY, base_url="http://sandbox/v1", transport=SandboxTransport(app)
    ) as client:
        await client.search_available("NG")  # warm up
        for query in plan:
            country = query.pop("country")
            started = time.perf_counter()
            await client.search_available(country, **query)
            samples.append(time.perf_counter() - started)
            query["country"] = country
    return samples


async def time_purchases(app: Any, count: int, concurrency: int) -> float:
    """Purchases per second, `concurrency` at a time (rate limit lifted for the measurement)."""
    app.state.sandbox.limiter.set_limit("purchase", 1e9)
    app.state.sandbox.limiter.set_limit("default", 1e9)
    app.state.sandbox.db.update_org("org_sandbox", kyc_status=None, balance_cents=10**11)
    retry = RetryPolicy(max_attempts=1)
    async with KrosAIClient(
        SANDBOX_API_KEY, base_url="http://sandbox/v1", transport=SandboxTransport(app), retry=retry
    ) as client:
        offers = []
        for block in BLOCKS:
            page = await client.search_available(
                block.country, type=block.type, area_code=block.area_code, limit=100
            )
            offers += [o.id for o in page.items]
        offers = offers[:count]
        limiter = anyio.Semaphore(concurrency)

        async def buy(inventory_id: str) -> None:
            async with limiter:
                await client.purchase(inventory_id)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for inventory_id in offers:
                tg.start_soon(buy, inventory_id)
        return len(offers) / (time.perf_counter() - started)


def build_app(path: Path, per_block: int) -> tuple[Any, float]:
    started = time.perf_counter()
    app = create_app(path, inventory_per_block=per_block)
    return app, time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kros-bench-"))
    per_block = math.ceil(args.numbers / len(BLOCKS))
    big_path = workdir / f"big-{per_block}.sqlite3"
    reused = big_path.exists()
    big, seed_seconds = build_app(big_path, per_block)
    inventory = big.state.sandbox.db.inventory_size()
    small, _ = build_app(workdir / "small.sqlite3", 25)
    plan = queries(random.Random(1), args.searches)
    baseline = await time_searches(small, [dict(q) for q in plan])
    large = await time_searches(big, [dict(q) for q in plan])
    sequential = await time_purchases(small, args.purchases, 1)
    small2, _ = build_app(workdir / "small2.sqlite3", 25)
    concurrent = await time_purchases(small2, args.purchases, 16)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "inventory_numbers": inventory,
        "seed_seconds": None if reused else round(seed_seconds, 1),
        "search_p50_ms": round(percentile(large, 0.5) * 1000, 3),
        "search_p99_ms": round(percentile(large, 0.99) * 1000, 3),
        "baseline_inventory_numbers": small.state.sandbox.db.inventory_size(),
        "baseline_search_p50_ms": round(percentile(baseline, 0.5) * 1000, 3),
        "baseline_search_p99_ms": round(percentile(baseline, 0.99) * 1000, 3),
        "search_p50_ratio": round(statistics.median(large) / statistics.median(baseline), 2),
        "purchases_per_second_sequential": round(sequential, 1),
        "purchases_per_second_16_concurrent": round(concurrent, 1),
        "searches": len(plan),
    }
    for app in (big, small, small2):
        app.state.sandbox.db.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--numbers", type=int, default=1_000_000, help="inventory size (default 1,000,000)"
    )
    parser.add_argument(
        "--searches", type=int, default=2000, help="searches to time (default 2000)"
    )
    parser.add_argument(
        "--purchases", type=int, default=500, help="purchases to time (default 500)"
    )
    parser.add_argument("--workdir", help="keep databases here (reused between runs)")
    args = parser.parse_args()
    result = anyio.run(run, args)
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sandbox.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS / 'sandbox.json'}")


if __name__ == "__main__":
    main()
