"""Build the MCP server: tools, resources, prompts, and the dependencies they share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from .. import __version__
from ..config import Settings
from .deps import Deps, open_deps
from .notify import enable_legacy_subscriptions
from .prompts import register_prompts
from .resources import register_resources
from .schemas import compact_tool_schemas
from .tools import register_tools

__all__ = ["INSTRUCTIONS", "build_server"]

INSTRUCTIONS = (
    "Manage KrosAI phone numbers for AI voice agents (Africa and the Middle East). Reading is free: "
    "list_numbers, get_number, search_available. Writes: purchase_number spends money, release_number is "
    "irreversible; preview both with dry_run=true and never pass a confirmation_token the user has not "
    "approved. Costs are in US cents."
)


def build_server(settings: Settings | None = None) -> MCPServer:
    """The kros-mcp server. Settings are read from the environment when not given."""
    settings = settings or Settings()
    opened: list[Deps] = []

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[Deps]:
        async with open_deps(settings) as deps:
            opened.append(deps)
            try:
                yield deps
            finally:
                opened.remove(deps)

    def current_deps() -> Deps:
        if not opened:
            raise RuntimeError("the server is not running")
        return opened[-1]

    mcp = MCPServer("kros-mcp", title="KrosAI phone numbers", version=__version__, instructions=INSTRUCTIONS,
                    lifespan=lifespan, log_level="WARNING")
    register_tools(mcp)
    compact_tool_schemas(mcp)
    register_resources(mcp, current_deps)
    register_prompts(mcp)
    enable_legacy_subscriptions(mcp, lambda ctx: ctx.lifespan_context.subscribers)
    return mcp
