"""Run every kros-mcp benchmark, print the results as tables and write them as JSON.

    python -m tests.benchmarks [--quick | --full] [--json PATH] [--only SECTION ...]

Sections: cold_start, overhead, http, tokens, scale. Sizes:
- --quick: a smoke run (well under a minute; the figures are rough);
- default: cold start median of 10 runs, 2,000 calls a tool, 5 s a load run repeated 3 times per
  level, search over 100,000 inventory numbers, paging through 10,000 owned numbers;
- --full: the same with 15 runs, 5,000 calls, 10 s 5 times, and search over 1,000,000 numbers
  (seeding them takes about a minute).
Each section measures kros-mcp and its baseline side by side in this one run, and reports ratios;
the first table is every target with its figure, baseline, ratio, spread, and met or not. Run it
on an otherwise idle machine (the load average when it began is printed): figures from a busy one
are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from . import cold_start, http_load, overhead, report, scale, tokens
from .common import machine

SECTIONS = ("cold_start", "overhead", "http", "tokens", "scale")
SIZES: dict[str, dict[str, Any]] = {
    "quick": {
        "cold_runs": 1,
        "importtime": False,
        "calls": 100,
        "http_seconds": 0.5,
        "http_warmup": 0.2,
        "http_repetitions": 2,
        "inventory": 10_000,
        "owned": 1_000,
        "searches": 100,
    },
    "default": {
        "cold_runs": 10,
        "importtime": True,
        "calls": 2_000,
        "http_seconds": 5.0,
        "http_warmup": 1.0,
        "http_repetitions": 3,
        "inventory": 100_000,
        "owned": 10_000,
        "searches": 2_000,
    },
    "full": {
        "cold_runs": 15,
        "importtime": True,
        "calls": 5_000,
        "http_seconds": 10.0,
        "http_warmup": 1.0,
        "http_repetitions": 5,
        "inventory": 1_000_000,
        "owned": 10_000,
        "searches": 2_000,
    },
}


def _scrub_environment() -> None:
    """A developer's KrosAI key or kros-mcp options must not change (or bill) a benchmark run."""
    for name in list(os.environ):
        if name.startswith(("KROSAI_", "KROS_MCP_")):
            del os.environ[name]


def run(size: str, sections: tuple[str, ...]) -> dict[str, Any]:
    s = SIZES[size]
    result: dict[str, Any] = {"size": size, "machine": machine(), "sizes": s}
    started = time.perf_counter()
    for section in sections:
        print(f"[bench] {section} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        if section == "cold_start":
            result[section] = cold_start.run(runs=s["cold_runs"], importtime=s["importtime"])
        elif section == "overhead":
            result[section] = anyio.run(overhead.run, s["calls"])
        elif section == "http":
            result[section] = http_load.run(
                seconds=s["http_seconds"],
                warmup=s["http_warmup"],
                repetitions=s["http_repetitions"],
            )
        elif section == "tokens":
            result[section] = anyio.run(tokens.run)
        elif section == "scale":
            result[section] = scale.run(s["inventory"], s["owned"], s["searches"])
        print(
            f"[bench] {section} done in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = report.targets(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_const", dest="size", const="quick", help="smoke run, rough figures"
    )
    size.add_argument(
        "--full",
        action="store_const",
        dest="size",
        const="full",
        help="largest sizes (1,000,000 inventory numbers)",
    )
    parser.add_argument(
        "--json",
        default="bench-results.json",
        metavar="PATH",
        help="where to write the results (default: bench-results.json)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only these sections ({', '.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    _scrub_environment()
    result = run(args.size or "default", tuple(args.only or SECTIONS))
    print(report.markdown(result))
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
