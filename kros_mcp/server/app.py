"""Build the MCP server: tools, resources, prompts, and the dependencies they share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult

from .. import __version__
from ..config import Settings
from ..safety import Policy, RuleVerdict
from .deps import Deps, build_policy, open_deps
from .names import TOOL_NAMES, WRITE_TOOLS
from .notify import enable_legacy_subscriptions
from .prompts import register_prompts
from .resources import register_policy_and_audit, register_resources
from .schemas import compact_tool_schemas
from .tools import register_tools

__all__ = ["INSTRUCTIONS", "build_server"]

INSTRUCTIONS = (
    "Manage KrosAI phone numbers for AI voice agents (Africa and the Middle East). Reading is free: "
    "list_numbers, get_number, search_available. Writes: purchase_number spends money, release_number is "
    "irreversible; preview both with dry_run=true and never pass a confirmation_token the user has not "
    "approved. Costs are in US cents."
)


class KrosMCPServer(MCPServer):
    """MCPServer whose tools disabled by policy are neither listed nor callable."""

    disabled_tools: dict[str, RuleVerdict]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        verdict = self.disabled_tools.get(name)
        if verdict is not None:
            raise ToolError(f"{verdict.detail}, so nothing was done ({verdict.code}; {verdict.operator_hint}).")
        return await super().call_tool(name, arguments, context)


def _disable_tools(mcp: KrosMCPServer, policy: Policy) -> None:
    mcp.disabled_tools = {}
    for name in TOOL_NAMES:
        verdict = policy.tool_enabled(name, write=name in WRITE_TOOLS)
        if not verdict.allowed:
            mcp.remove_tool(name)
            mcp.disabled_tools[name] = verdict


def build_server(settings: Settings | None = None) -> KrosMCPServer:
    """The kros-mcp server. Settings are read from the environment when not given.

    Raises ValueError for a policy naming unknown tools."""
    settings = settings or Settings()
    policy = build_policy(settings)
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

    mcp = KrosMCPServer("kros-mcp", title="KrosAI phone numbers", version=__version__, instructions=INSTRUCTIONS,
                    lifespan=lifespan, log_level="WARNING")
    register_tools(mcp)
    compact_tool_schemas(mcp)
    _disable_tools(mcp, policy)
    register_resources(mcp, current_deps)
    register_policy_and_audit(mcp, current_deps)
    register_prompts(mcp)
    enable_legacy_subscriptions(mcp, lambda ctx: ctx.lifespan_context.subscribers)
    return mcp
