"""`python -m kros_mcp` in a clean environment: its own data directory and HOME, no KrosAI key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ..http.conftest import base_env

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def kros(data_dir: Path) -> Run:
    """`kros("call", "list_numbers", env={...})`: run the CLI on this test's data directory."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
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

    return run
