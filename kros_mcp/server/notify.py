"""Resource change notifications for both protocol eras."""

from __future__ import annotations

import logging
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.session import ServerSession
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

__all__ = ["LIST_URI", "Subscribers", "enable_legacy_subscriptions", "notify_changed", "number_uri"]

log = logging.getLogger("kros_mcp.server")

LIST_URI = "kros://phone-numbers"


def number_uri(number_id: str) -> str:
    return f"{LIST_URI}/{number_id}"


def _connection_of(session: ServerSession) -> object:
    """The connection behind a ServerSession. The SDK (2.3) builds a new ServerSession for every
    request, so the session object cannot identify a subscriber: unsubscribing from another request
    would never match, and subscribing twice would notify twice. Its connection is stable."""
    return getattr(session, "_connection", session)


class Subscribers:
    """2025-era `resources/subscribe` callers, per URI (this process only): for each URI, one
    session to notify per subscribed connection."""

    def __init__(self) -> None:
        self.by_uri: dict[str, dict[object, ServerSession]] = {}

    def add(self, uri: str, session: ServerSession) -> None:
        self.by_uri.setdefault(uri, {})[_connection_of(session)] = session

    def discard(self, uri: str, session: ServerSession) -> None:
        self.by_uri.get(uri, {}).pop(_connection_of(session), None)


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

    low = mcp._lowlevel_server
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)


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
