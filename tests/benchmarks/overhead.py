"""Per-call overhead: a tool called through an in-process MCP client against the same KrosAI call
made directly with the server's own KrosAIClient (same in-process sandbox, same connection).

The overhead is everything MCP and the tool add: the client's request and result validation, the
server's argument validation, the tool body (for search_available that includes remembering the
offers in the state store), result conversion and serialization. Part of it is the SDK's own
floor, measured alongside: the baseline server's no-op tool through the same kind of client.
The three calls take turns, first one then another going first, so noise falls on all alike.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import Client

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings

from .baseline_server import mcp as baseline
from .common import ms, percentile
from .seed import lift_rate_limits, seed_owned

OWNED = 20


def _calls(
    client: Client, direct: Any
) -> dict[str, tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]]:
    async def mcp_list() -> None:
        result = await client.call_tool("list_numbers", {"limit": 20})
        assert not result.is_error and len(result.structured_content["numbers"]) == OWNED, result

    async def direct_list() -> None:
        page = await direct.list_numbers(status=None, country=None, limit=20, offset=0)
        assert len(page.items) == OWNED

    async def mcp_search() -> None:
        result = await client.call_tool("search_available", {"country": "NG", "limit": 10})
        assert not result.is_error and len(result.structured_content["offers"]) == 10, result

    async def direct_search() -> None:
        page = await direct.search_available("NG", type=None, area_code=None, limit=10)
        assert len(page.items) == 10

    return {
        "list_numbers": (mcp_list, direct_list),
        "search_available": (mcp_search, direct_search),
    }


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def _summary(mcp: list[float], direct: list[float], floor: list[float]) -> dict[str, Any]:
    # Added latency from paired differences (calls made back to back), so that slow spells of a
    # noisy machine fall on both sides of a pair instead of skewing one distribution.
    added = [a - b for a, b in zip(mcp, direct, strict=True)]
    return {
        "calls": len(mcp),
        "mcp_p50_ms": ms(percentile(mcp, 0.5)),
        "mcp_p99_ms": ms(percentile(mcp, 0.99)),
        "direct_p50_ms": ms(percentile(direct, 0.5)),
        "direct_p99_ms": ms(percentile(direct, 0.99)),
        "overhead_p50_ms": ms(percentile(added, 0.5)),
        "overhead_p99_ms": ms(percentile(added, 0.99)),
        "sdk_floor_p50_ms": ms(percentile(floor, 0.5)),
        "sdk_floor_p99_ms": ms(percentile(floor, 0.99)),
    }


async def measure(calls: int, mode: str, data_dir: Path) -> dict[str, Any]:
    server = build_server(Settings(KROS_MCP_DATA_DIR=data_dir))
    async with Client(server, mode=mode) as client, Client(baseline, mode=mode) as floor_client:
        deps = server.current_deps_or_none()
        assert deps is not None and deps.sandbox_app is not None
        lift_rate_limits(deps.sandbox_app)
        owned = seed_owned(deps.sandbox_app.state.sandbox.db, 0)
        if owned < OWNED:
            seed_owned(deps.sandbox_app.state.sandbox.db, OWNED - owned)

        async def noop() -> None:
            await floor_client.call_tool("noop", {})

        out: dict[str, Any] = {}
        for tool, (via_mcp, direct) in _calls(client, deps.client).items():
            for _ in range(max(20, calls // 20)):  # warm-up: caches, validators, SQLite pages
                await via_mcp()
                await direct()
                await noop()
            times: dict[str, list[float]] = {"mcp": [], "direct": [], "floor": []}
            order = [("mcp", via_mcp), ("direct", direct), ("floor", noop)]
            for i in range(calls):
                for name, call in order[i % 3 :] + order[: i % 3]:  # rotate who goes first
                    times[name].append(await _timed(call))
            out[tool] = _summary(times["mcp"], times["direct"], times["floor"])
    return out


async def run(calls: int = 2000, modes: tuple[str, ...] = ("auto", "legacy")) -> dict[str, Any]:
    result: dict[str, Any] = {"target_p50_overhead_ms": 1.0}
    with tempfile.TemporaryDirectory(prefix="kros-bench-overhead-") as tmp:
        for mode in modes:
            result[mode] = await measure(calls, mode, Path(tmp) / mode)
    return result
