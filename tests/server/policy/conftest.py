"""Fixtures for the operator-policy tests. The server fixtures of tests/server/conftest.py (both
protocol eras through `mode`, `harness` with the server's own Deps and the sandbox controls) apply
here as is; this file adds what policy tests need on top: a clean policy environment, a store clock
the tests can move and a data directory for `python -m kros_mcp` (see helpers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kros_mcp.server import deps as deps_module
from kros_mcp.store import open_store as real_open_store
from tests.support.clocks import OffsetClock

POLICY_ENV = (
    "KROS_MCP_READ_ONLY",
    "KROS_MCP_TOOLS",
    "KROS_MCP_EXCLUDE_TOOLS",
    "KROS_MCP_ALLOWED_COUNTRIES",
    "KROS_MCP_MAX_MONTHLY_COST_CENTS",
    "KROS_MCP_DAILY_BUDGET_CENTS",
    "KROS_MCP_PROTECTED_NUMBERS",
    "KROS_MCP_STATE_URL",
)


@pytest.fixture(autouse=True)
def _clean_policy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/server's clean-up leaves the policy variables alone; an operator's shell must not leak in."""
    for name in POLICY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store_clock(monkeypatch: pytest.MonkeyPatch) -> OffsetClock:
    """Make every state store the server opens use a clock this test controls (the ledger window,
    offer expiry). The store takes its clock as an argument, so nothing global is patched."""
    clock = OffsetClock()

    async def open_with_clock(url_or_path: Any, **kwargs: Any) -> Any:
        return await real_open_store(url_or_path, clock=clock)

    monkeypatch.setattr(deps_module, "open_store", open_with_clock)
    return clock


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cli-data"
    path.mkdir()
    yield path
