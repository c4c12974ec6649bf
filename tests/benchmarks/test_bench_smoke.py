"""The benchmark command still runs: `python -m tests.benchmarks --quick` writes every section with
numeric figures. Timings are not asserted (CI machines are noisy); the benchmark reports them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .common import REPO_ROOT

# Figures every quick run must report, as paths into the JSON.
FIGURES = [
    ("cold_start", "baseline", "tools_list_ms"),
    ("cold_start", "warm", "tools_list_ms"),
    ("cold_start", "warm_ratio_fastest"),
    ("cold_start", "first_run", "tools_list_ms"),
    ("cold_start", "warm_ratio"),
    ("cold_start", "warm_ratio_spread", "min"),
    ("cold_start", "first_run_ratio"),
    ("overhead", "auto", "list_numbers", "overhead_p50_ms"),
    ("overhead", "auto", "list_numbers", "overhead_p99_ms"),
    ("overhead", "auto", "search_available", "overhead_p50_ms"),
    ("overhead", "legacy", "search_available", "overhead_p99_ms"),
    ("http", "legacy", "vs_fair"),
    ("tokens", "2026-07-28", "tools_list", "tokens"),
    ("tokens", "2025-11-25", "tools_list", "tokens"),
    ("tokens", "2026-07-28", "list_numbers_20", "text_tokens"),
    ("tokens", "2026-07-28", "list_numbers_20", "json_tokens"),
    ("tokens", "2026-07-28", "list_numbers_20", "passthrough_tokens"),
    ("tokens", "2025-11-25", "search_available_20", "text_tokens"),
    ("tokens", "2026-07-28", "purchase", "passthrough_tokens"),
    ("tokens", "2026-07-28", "error", "text_tokens"),
    ("scale", "search", "p50_ms"),
    ("scale", "search", "inventory_numbers"),
    ("scale", "list_numbers_paging", "total_s"),
    ("scale", "list_numbers_paging", "tracemalloc_peak_mb"),
    ("scale", "peak_rss_mb"),
]


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        assert isinstance(data, dict) and key in data, f"{'.'.join(path)}: no {key!r}"
        data = data[key]
    return data


def _number(value: Any, where: str) -> None:
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{where} is {value!r}"
    assert math.isfinite(value), f"{where} is {value!r}"


@pytest.mark.timeout(300)
def test_quick_benchmark_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--quick", "--json", str(out)],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| target | figure | baseline | ratio | spread | goal | met |" in done.stdout
    result = json.loads(out.read_text())

    for section in ("cold_start", "overhead", "http", "tokens", "scale", "machine", "targets"):
        assert section in result, f"no {section} section"
    for path in FIGURES:
        _number(_at(result, path), ".".join(path))
    levels = result["http"]["levels"]
    assert [level["concurrency"] for level in levels] == [1, 8, 32]
    for level in levels:
        for name in ("kros-mcp", "fair", "floor"):
            _number(level["calls_per_s"][name]["median"], f"http {level['concurrency']} {name}")
            _number(level["cpu_ms_per_call"][name]["median"], f"cpu {level['concurrency']} {name}")
        _number(level["vs_fair"]["median"], f"x fair at {level['concurrency']}")
        for run in level["runs"]:
            for name, figures in run.items():
                assert figures["errors"] == 0, (name, figures.get("last_error"))
    assert len(result["targets"]) >= 8  # every row of the target table, and more
    for target in result["targets"]:
        _number(target["figure"], target["target"])
        assert target["met"] in (True, False, None)
