"""Running the server over stdio."""

from __future__ import annotations

from typing import Any

from mcp import stdio_server
from mcp.server import MCPServer, NotificationOptions

from .._sdk_compat import run_with_notifications

__all__ = ["serve_stdio"]


async def serve_stdio(mcp: MCPServer[Any]) -> None:
    """Serve on stdin/stdout, advertising resource listChanged (MCPServer.run() does not)."""
    async with stdio_server() as (read_stream, write_stream):
        await run_with_notifications(
            mcp, read_stream, write_stream, NotificationOptions(resources_changed=True)
        )
