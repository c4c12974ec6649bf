"""Shared pieces of the benchmarks: statistics, the machine, subprocess environments."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.processes import free_port as free_port
from tests.support.tokens import count_tokens as count_tokens

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1) of `samples`."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float, digits: int = 3) -> float:
    return round(seconds * 1000, digits)


def ratio(ours: float, baseline: float) -> float:
    return round(ours / baseline, 3) if baseline else float("nan")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def subprocess_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: a developer's real KrosAI key or options never leak into a run."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "KROS_MCP_DATA_DIR": str(data_dir),
    }
    env.update(extra or {})
    return env


def approx_tokens(chars: int) -> int:
    """The usual rough estimate for English and JSON: four characters a token (it undercounts
    ids and numbers, which split into many tokens; shown only next to real counts)."""
    return round(chars / 4)
