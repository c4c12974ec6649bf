"""Per client: the view for clients that negotiated MCP Apps, today's plain tools for the rest.

SEP-2133 asks an extension to degrade gracefully. Tools and resources are registered once for the
whole server, so this middleware shapes what each client is told: a client that advertised
`io.modelcontextprotocol/ui` with the `text/html;profile=mcp-app` MIME type sees `_meta.ui` on the
UI-bound tools, the app-only tools and the `ui://` resource; any other client gets exactly the
`tools/list` and `resources/list` it would get without the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import replace
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.apps import client_supports_apps

__all__ = ["AppsGate"]

# The SDK's middleware shape (mcp.server.context.CallNext and HandlerResult, not exported).
Result = Any
CallNext = Callable[[ServerRequestContext[Any, Any]], Awaitable[Result]]


class AppsGate:
    """Middleware rewriting `tools/list` and `resources/list` answers for each client."""

    def __init__(
        self, *, view_uri: str, ui_tools: Collection[str], app_only: Collection[str]
    ) -> None:
        self._view_uri = view_uri
        self._ui_tools = frozenset(ui_tools)
        self._app_only = frozenset(app_only)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Result:
        if ctx.method == "tools/call" and self._hidden_call(ctx):
            return await self._as_unknown_tool(ctx, call_next)
        result = await call_next(ctx)
        if ctx.method not in ("tools/list", "resources/list") or not isinstance(result, dict):
            return result
        if ctx.method == "tools/list":
            return self._tools(result, apps=client_supports_apps(ctx))
        if client_supports_apps(ctx):
            return result
        resources = [r for r in result.get("resources", ()) if r.get("uri") != self._view_uri]
        return {**result, "resources": resources}

    def _tools(self, result: Mapping[str, Any], *, apps: bool) -> dict[str, Any]:
        tools = []
        for tool in result.get("tools", ()):
            name = tool.get("name")
            if name in self._app_only and not apps:
                continue
            if name in self._ui_tools and apps:
                meta = dict(tool.get("_meta") or {})
                meta["ui"] = {"resourceUri": self._view_uri}
                tool = {**tool, "_meta": meta}
            tools.append(tool)
        return {**result, "tools": tools}

    def _hidden_call(self, ctx: ServerRequestContext[Any, Any]) -> bool:
        name = (ctx.params or {}).get("name")
        return name in self._app_only and not client_supports_apps(ctx)

    async def _as_unknown_tool(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> Result:
        """Answer a call to an app-only tool from a client without Apps as the server answers a
        tool it does not have: the same path, the same words (its arguments are not even read)."""
        name = str((ctx.params or {}).get("name"))
        absent = f"{name} (app only)"  # no tool can have this name: the SDK's own 'Unknown tool'
        params = {**(ctx.params or {}), "name": absent, "arguments": {}}
        result = await call_next(replace(ctx, params=params))
        if isinstance(result, dict):
            for block in result.get("content") or ():
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    block["text"] = block["text"].replace(absent, name)
        return result
