"""Fixtures for the HTTP tests. The rig (real `kros-mcp serve` processes, clients for them, raw
JSON-RPC helpers) is in tests/support/http_servers.py."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The protocol era: 'auto' (2026-07-28, per-request envelope) or 'legacy' (initialize handshake)."""
    return request.param
