"""Fixtures for the state-store suite: one suite, run against every backend (backends.py).

`backend` is parametrized: `sqlite` (a file in tmp_path) always, `postgres` when
KROS_MCP_TEST_POSTGRES_URL is set (each test gets its own random schema, dropped afterwards).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kros_mcp.store import StateStore

from .backends import (
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    Backend,
    FakeClock,
    PostgresBackend,
    SQLiteBackend,
)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres", marks=pytest.mark.skipif(POSTGRES_URL is None, reason=POSTGRES_SKIP_REASON)
        ),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b: Backend = (
        SQLiteBackend(tmp_path / "state.sqlite3")
        if request.param == "sqlite"
        else PostgresBackend(POSTGRES_URL or "")
    )
    try:
        yield b
    finally:
        await b.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(backend: Backend, clock: FakeClock) -> StateStore:
    return await backend.open(clock)
