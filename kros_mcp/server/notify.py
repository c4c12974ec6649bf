"""Resource change notifications for both protocol eras, kept within the tenant that wrote.

A change made for one organisation is announced only to subscribers acting for that same
organisation: 2025-era `resources/subscribe` callers through `Subscribers`, 2026-07-28
`subscriptions/listen` streams through `TenantBus`. A 2025-era subscriber is forgotten when its
connection closes. Over `--stateless` HTTP there is no connection to push on, so the server does not
advertise `resources.subscribe` or `listChanged` to 2025-era clients there, and refuses
`resources/subscribe` saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import MCPError, ServerSession
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ServerEvent
from mcp.types import INVALID_REQUEST, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from ._sdk_compat import connection_of, serve_resource_subscriptions
from .transports.principal import current_principal

__all__ = [
    "LIST_URI",
    "Subscribers",
    "TenantBus",
    "enable_legacy_subscriptions",
    "notify_changed",
    "number_uri",
    "stateless_capabilities",
]

log = logging.getLogger("kros_mcp.server")

LIST_URI = "kros://phone-numbers"
OWN = ""  # the scope of callers acting for the server's own organisation


def number_uri(number_id: str) -> str:
    return f"{LIST_URI}/{number_id}"


def current_scope() -> str:
    """The organisation the request being served acts for: a tenant, or the server's own."""
    caller = current_principal()
    return (caller.tenant or OWN) if caller is not None else OWN


class Subscribers:
    """2025-era `resources/subscribe` callers in this process: per URI, per connection, the
    session to notify and the organisation it acts for."""

    def __init__(self) -> None:
        self.by_uri: dict[str, dict[object, tuple[ServerSession, str]]] = {}

    def add(self, uri: str, session: ServerSession, scope: str = OWN) -> None:
        # The connection's exit stack (a public attribute) runs when it closes.
        connection = connection_of(session)
        first = not any(connection in held for held in self.by_uri.values())
        self.by_uri.setdefault(uri, {})[connection] = (session, scope)
        exit_stack = getattr(connection, "exit_stack", None)
        if first and exit_stack is not None:
            exit_stack.callback(self.forget, connection)

    def discard(self, uri: str, session: ServerSession) -> None:
        self._drop(uri, connection_of(session))

    def forget(self, connection: object) -> None:
        """Drop every subscription of a connection (it closed)."""
        for uri in list(self.by_uri):
            self._drop(uri, connection)

    def sessions(self, uri: str, scope: str) -> list[ServerSession]:
        return [s for s, owner in self.by_uri.get(uri, {}).values() if owner == scope]

    def _drop(self, uri: str, connection: object) -> None:
        held = self.by_uri.get(uri)
        if held is not None:
            held.pop(connection, None)
            if not held:
                del self.by_uri[uri]


class TenantBus(InMemorySubscriptionBus):
    """The 2026-07-28 `subscriptions/listen` fan-out, delivering an event only to streams opened
    for the organisation the publishing request acted for."""

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        scope = current_scope()  # the listen request's organisation

        def scoped(event: ServerEvent) -> None:
            if current_scope() == scope:  # the publishing request's organisation
                listener(event)

        return super().subscribe(scoped)


def enable_legacy_subscriptions(mcp: MCPServer, subscribers_of: Any) -> None:
    """Serve 2025-era resources/subscribe (MCPServer has no public hook for it)."""

    async def on_subscribe(
        ctx: ServerRequestContext, params: SubscribeRequestParams
    ) -> EmptyResult:
        subscribers_of(ctx).add(params.uri, ctx.session, current_scope())
        return EmptyResult()

    async def on_unsubscribe(
        ctx: ServerRequestContext, params: UnsubscribeRequestParams
    ) -> EmptyResult:
        subscribers_of(ctx).discard(params.uri, ctx.session)
        return EmptyResult()

    serve_resource_subscriptions(mcp, on_subscribe, on_unsubscribe)


async def notify_changed(ctx: Context, subscribers: Subscribers, number_id: str) -> None:
    """Tell the writer's organisation that a number and the number list changed. Never fails."""
    uris = (number_uri(number_id), LIST_URI)
    try:
        for uri in uris:
            await ctx.notify_resource_updated(uri)  # 2026-07-28 subscriptions/listen
        await ctx.notify_resources_changed()
    except Exception:
        log.warning("could not publish resource change for %s", number_id, exc_info=True)
    scope = current_scope()
    for uri in uris:
        for session in subscribers.sessions(uri, scope):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # noqa: BLE001 - the subscriber went away
                subscribers.discard(uri, session)
    try:
        await ctx.session.send_resource_list_changed()
    except Exception:
        log.debug("legacy list_changed not delivered", exc_info=True)


async def stateless_capabilities(
    ctx: ServerRequestContext[Any, Any],
    call_next: Callable[[ServerRequestContext[Any, Any]], Awaitable[Any]],
) -> Any:
    """Server middleware for `--stateless` HTTP: no connection outlives a request there, so a
    2025-era client is neither promised subscriptions and list-change notifications nor allowed to
    subscribe."""
    if ctx.method == "resources/subscribe":
        raise MCPError(
            INVALID_REQUEST,
            "resources/subscribe needs a session, and this server runs without sessions "
            "(--stateless): read kros://phone-numbers again after a change instead",
        )
    result = await call_next(ctx)
    if ctx.method == "initialize" and isinstance(result, dict):
        capabilities = dict(result.get("capabilities") or {})
        for name in ("resources", "tools", "prompts"):
            if isinstance(capabilities.get(name), dict):
                capability = dict(capabilities[name])
                capability.pop("subscribe", None)
                capability.pop("listChanged", None)
                capabilities[name] = capability
        result = {**result, "capabilities": capabilities}
    return result
