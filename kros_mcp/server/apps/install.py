"""What the app adds to a server: the `ui://` view, the app-only tools, and the per-client gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.apps import Apps, ResourceCsp
from mcp.server.mcpserver import Extension
from mcp.types import ToolAnnotations

from ...config import Settings
from ..deps import build_policy
from ..tools import TOOL_NAMES, WRITE_TOOLS
from .buy import app_buy, app_quote_purchase
from .gate import AppsGate
from .offers import app_context, app_offers
from .release import app_preview_release, app_release
from .view import view_html

__all__ = ["APP_TOOLS", "NO_APP", "UI_BOUND_TOOLS", "VIEW_URI", "AppFeature", "AppTool", "app_for"]

VIEW_URI = "ui://kros-mcp/numbers.html"
# The model-facing tools whose results the view renders (offers, and the owned numbers).
UI_BOUND_TOOLS = ("search_available", "list_numbers")

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


@dataclass(frozen=True)
class AppTool:
    """An app-only tool, present only while the model-facing tool it stands for is enabled."""

    fn: Callable[..., Any]
    title: str
    annotations: ToolAnnotations
    stands_for: str | None  # a tool in ALL_TOOLS; None: always present with the view

    @property
    def name(self) -> str:
        return self.fn.__name__


APP_TOOLS: tuple[AppTool, ...] = (
    AppTool(app_context, "App: what the view may do", _READ, None),
    AppTool(app_offers, "App: offers with verdicts", _READ, "search_available"),
    AppTool(app_quote_purchase, "App: quote a purchase", _READ, "purchase_number"),
    AppTool(
        app_buy,
        "App: buy on a click",
        ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
        "purchase_number",
    ),
    AppTool(app_preview_release, "App: preview a release", _READ, "release_number"),
    AppTool(
        app_release,
        "App: release on a click",
        ToolAnnotations(
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=True,
        ),
        "release_number",
    ),
)


@dataclass(frozen=True)
class AppFeature:
    """What the app adds to a server: the extension (view and app-only tools, advertised under
    `capabilities.extensions`), the per-client gate, and the names of the app-only tools."""

    extensions: list[Extension]
    middleware: list[AppsGate]
    tool_names: tuple[str, ...]


NO_APP = AppFeature([], [], ())


def app_for(settings: Settings) -> AppFeature:
    """The app for a server with `settings`, within the operator's policy: clients that negotiate
    MCP Apps get the view, other clients keep exactly the plain tools. Nothing when KROS_MCP_APPS
    is false, or when the policy leaves no tool for the view to show."""
    if not settings.apps:
        return NO_APP
    policy = build_policy(settings)
    enabled = {n for n in TOOL_NAMES if policy.tool_enabled(n, write=n in WRITE_TOOLS).allowed}
    bound = [name for name in UI_BOUND_TOOLS if name in enabled]
    if not bound:
        return NO_APP
    apps = Apps()
    apps.add_html_resource(
        VIEW_URI,
        view_html(),
        name="numbers_app",
        title="KrosAI numbers",
        description="Find, buy, route and release phone numbers (MCP App view)",
        csp=ResourceCsp(
            connect_domains=[], resource_domains=[], frame_domains=[], base_uri_domains=[]
        ),
        prefers_border=True,
    )
    tools = [t for t in APP_TOOLS if t.stands_for is None or t.stands_for in enabled]
    for tool in tools:
        apps.tool(
            resource_uri=VIEW_URI,
            visibility=["app"],
            title=tool.title,
            annotations=tool.annotations,
        )(tool.fn)
    names = tuple(t.name for t in tools)
    gate = AppsGate(view_uri=VIEW_URI, ui_tools=bound, app_only=names)
    return AppFeature([apps], [gate], names)
