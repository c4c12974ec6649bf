"""`python -m kros_mcp` in a clean environment: its own data directory and HOME, no KrosAI key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

Run = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Only what a run needs, so a developer's real key or settings never leak in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "KROS_MCP_DATA_DIR": str(data_dir),
    }
    env.update(extra or {})
    return env


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def kros(data_dir: Path) -> Run:
    """`kros("call", "list_numbers", env={...})`: run the CLI on this test's data directory."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kros_mcp", *args], env=clean_env(data_dir, env),
                              cwd=str(data_dir), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    return run
