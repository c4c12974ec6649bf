"""Fixtures for the integration tests: real processes, real sockets, a shared state store (the rig
is in tests/support/sandbox_process.py).

- `sandbox_process`: the standalone sandbox (`python -m kros_mcp sandbox`) as a subprocess on a
  free 127.0.0.1 port, rate limits lifted; a kros-mcp server reaches it as if it were KrosAI.
- `pg_state_url`: a PostgreSQL URL whose search_path is a fresh schema (dropped afterwards), so a
  test has its own tables in the shared test database. Skips without KROS_MCP_TEST_POSTGRES_URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kros_mcp.config import Settings
from tests.support.postgres import POSTGRES_URL, fresh_schema, with_search_path
from tests.support.sandbox_process import SandboxProcess, start_sandbox, stop_sandbox


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment too: a developer's real key or options must not leak in."""
    for field in Settings.model_fields.values():
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[SandboxProcess]:
    sandbox = start_sandbox(tmp_path)
    try:
        yield sandbox
    finally:
        stop_sandbox(sandbox)


@pytest.fixture
def pg_state_url() -> Iterator[str]:
    """A state-store URL on a fresh schema of the test database (dropped afterwards)."""
    with fresh_schema("kros_it") as schema:
        assert POSTGRES_URL is not None
        yield with_search_path(POSTGRES_URL, schema)
