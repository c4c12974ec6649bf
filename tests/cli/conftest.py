"""Fixtures for the CLI tests: `python -m kros_mcp` in a clean environment (see runner.py)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tests.support.http_servers import run_kros

from .runner import Run


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def kros(data_dir: Path) -> Run:
    """`kros("call", "list_numbers", env={...})`: run the CLI on this test's data directory."""
    return functools.partial(run_kros, data_dir)
