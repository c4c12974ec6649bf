"""Resource change notifications for both protocol eras."""

from __future__ import annotations

import logging
from typing import Any

from mcp import ServerSession
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from ._sdk_compat import connection_of, serve_resource_subscriptions

__all__ = ["LIST_URI", "Subscribers", "enable_legacy_subscriptions", "notify_changed", "number_uri"]

log = logging.getLogger("kros_mcp.server")

LIST_URI = "kros://phone-numbers"


def number_uri(number_id: str) -> str:
    return f"{LIST_URI}/{number_id}"


class Subscribers:
    """2025-era `resources/subscribe` callers, per URI (this process only): for each URI, one
    session to notify per subscribed connection (a new session arrives with every request, so
    unsubscribing from another request must still match, and subscribing twice notify once)."""

    def __init__(self) -> None:
        self.by_uri: dict[str, dict[object, ServerSession]] = {}

    def add(self, uri: str, session: ServerSession) -> None:
        self.by_uri.setdefault(uri, {})[connection_of(session)] = session

    def discard(self, uri: str, session: ServerSession) -> None:
        self.by_uri.get(uri, {}).pop(connection_of(session), None)


def enable_legacy_subscriptions(mcp: MCPServer, subscribers_of: Any) -> None:
    """Serve 2025-era resources/subscribe (MCPServer has no public hook for it)."""

    async def on_subscribe(
        ctx: ServerRequestContext, params: SubscribeRequestParams
    ) -> EmptyResult:
        subscribers_of(ctx).add(params.uri, ctx.session)
        return EmptyResult()

    async def on_unsubscribe(
        ctx: ServerRequestContext, params: UnsubscribeRequestParams
    ) -> EmptyResult:
        subscribers_of(ctx).discard(params.uri, ctx.session)
        return EmptyResult()

    serve_resource_subscriptions(mcp, on_subscribe, on_unsubscribe)


async def notify_changed(ctx: Context, subscribers: Subscribers, number_id: str) -> None:
    """Tell every subscriber that a number and the number list changed. Never fails the tool."""
    uris = (number_uri(number_id), LIST_URI)
    try:
        for uri in uris:
            await ctx.notify_resource_updated(uri)  # 2026-07-28 subscriptions/listen
        await ctx.notify_resources_changed()
    except Exception:
        log.warning("could not publish resource change for %s", number_id, exc_info=True)
    for uri in uris:
        for session in list(subscribers.by_uri.get(uri, {}).values()):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # noqa: BLE001 - the subscriber went away
                subscribers.discard(uri, session)
    try:
        await ctx.session.send_resource_list_changed()
    except Exception:
        log.debug("legacy list_changed not delivered", exc_info=True)
