"""`python -m kros_mcp ARGS` run to completion in a clean environment: its own data directory and
HOME, no KrosAI key (tests.support.http_servers.base_env). The `kros` fixture is `run_kros` bound to
the test's data directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.http_servers import base_env

Run = Callable[..., subprocess.CompletedProcess[str]]


def run_kros(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kros_mcp", *args],
        env=base_env(data_dir, env),
        cwd=str(data_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
