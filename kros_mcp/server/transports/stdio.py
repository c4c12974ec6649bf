"""Running the server over stdio."""

from __future__ import annotations

from mcp.server import NotificationOptions
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

__all__ = ["serve_stdio"]


async def serve_stdio(mcp: MCPServer) -> None:
    """Serve on stdin/stdout, advertising resource listChanged (MCPServer.run() does not)."""
    low = mcp._lowlevel_server
    options = low.create_initialization_options(NotificationOptions(resources_changed=True))
    async with stdio_server() as (read_stream, write_stream):
        await low.run(read_stream, write_stream, options)
