"""What an MCP tool result says."""

from __future__ import annotations

from mcp.types import CallToolResult

__all__ = ["text_of"]


def text_of(result: CallToolResult) -> str:
    """The result's text blocks, one per line."""
    return "\n".join(getattr(block, "text", "") for block in result.content)
