"""Fixtures for the MCP server tests (tests/server and below): an in-process server on a throwaway
sandbox, in both protocol eras. The rig itself (Harness, Session, elicitation, ...) is in
tests/support/harness.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kros_mcp.server.deps import Deps
from tests.support.harness import Harness, record_opened_deps


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings also read the environment: never let a developer's real key or options leak in."""
    for name in (
        "KROSAI_API_KEY",
        "KROSAI_BASE_URL",
        "KROSAI_TIMEOUT",
        "KROSAI_DEADLINE",
        "KROS_MCP_DATA_DIR",
        "KROS_MCP_CONFIRMATION",
        "KROS_MCP_CONFIRMATION_TTL",
        "KROS_MCP_OFFER_TTL",
        "KROS_MCP_SECRET",
        "KROS_MCP_SANDBOX_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The protocol era: 'auto' (2026-07-28 in-process) or 'legacy' (initialize handshake)."""
    return request.param


@pytest.fixture
def opened_deps(monkeypatch: pytest.MonkeyPatch) -> list[Deps]:
    """Every Deps the server's lifespan opens during the test, in order."""
    return record_opened_deps(monkeypatch)


@pytest.fixture
def harness(tmp_path: Path, mode: str, opened_deps: list[Deps]) -> Iterator[Harness]:
    yield Harness(tmp_path / "data", mode, opened_deps)
