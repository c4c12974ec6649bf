"""Fixtures for the safety decisions: a real state store on a temporary file and a process
identity (helpers.py has the scope and a fake KrosAI client for recovery). No server and no sandbox
process is started."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kros_mcp.safety import ProcessIdentity
from kros_mcp.store import SQLiteStateStore, StateStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StateStore]:
    opened = SQLiteStateStore(tmp_path / "state.sqlite3")
    yield opened
    await opened.close()


@pytest.fixture
def process() -> ProcessIdentity:
    """A process identity of the test's own (not the module-wide one)."""
    return ProcessIdentity.new()
