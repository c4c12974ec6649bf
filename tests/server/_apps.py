"""Helpers for the MCP App tests: a client that negotiates MCP Apps, and app-only tool calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from kros_mcp.server.apps import PROOF_KEY
from tests.support.harness import Session
from tests.support.results import text_of


def apps_client() -> dict[str, Any]:
    """Client options of a host that renders MCP Apps (as Claude, VS Code or Goose advertise)."""
    return {"extensions": [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]}


@dataclass
class AppAnswer:
    data: dict[str, Any]
    proof: str | None
    text: str


async def app_ok(s: Session, name: str, arguments: dict[str, Any] | None = None) -> AppAnswer:
    """Call an app-only tool as the view does; it must succeed."""
    result = await s.call(name, arguments)
    assert result.is_error is False, text_of(result)
    assert result.structured_content is not None
    meta = result.meta or {}
    return AppAnswer(result.structured_content, meta.get(PROOF_KEY), text_of(result))
