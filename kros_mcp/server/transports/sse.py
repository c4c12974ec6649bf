"""The SSE transport (`GET /sse` + `POST /messages/`), sharing one set of dependencies.

The SDK's `MCPServer.sse_app()` enters the server's lifespan for every connection: a state store,
a KrosAI client and a sandbox per SSE stream. Here the lifespan is entered once, by the HTTP app's
own lifespan, and every stream is served with that state, as the streamable HTTP manager does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer, NotificationOptions
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from .._sdk_compat import SseServerTransport, serve_with_state

__all__ = ["SSE_MESSAGES_PATH", "SSE_PATH", "sse_app"]

SSE_PATH = "/sse"
SSE_MESSAGES_PATH = "/messages/"


class _Streams:
    """`GET /sse`: one MCP connection for as long as the stream stays open."""

    def __init__(
        self, server: MCPServer[Any], transport: SseServerTransport, state: Callable[[], Any]
    ) -> None:
        self._server = server
        self._transport = transport
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with self._transport.connect_sse(scope, receive, send) as (read, write):
                # SSE keeps a channel to the client open, so list changes can be pushed.
                await serve_with_state(
                    self._server,
                    read,
                    write,
                    self._state(),
                    NotificationOptions(resources_changed=True),
                )
        except ValueError:
            return  # refused by the Host/Origin checks: the SDK has already answered


def sse_app(
    server: MCPServer[Any],
    state: Callable[[], Any],
    *,
    security: TransportSecuritySettings,
    max_request_body_size: int,
) -> Starlette:
    """The SSE endpoints for `server`; `state` gives the lifespan state entered once per process."""
    transport = SseServerTransport(
        SSE_MESSAGES_PATH, security_settings=security, max_request_body_size=max_request_body_size
    )
    return Starlette(
        routes=[
            Route(SSE_PATH, endpoint=_Streams(server, transport, state), methods=["GET"]),
            Mount(SSE_MESSAGES_PATH, app=transport.handle_post_message),
        ]
    )
