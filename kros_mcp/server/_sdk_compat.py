"""Every use of the mcp SDK beyond its public surface, one small function each.

The SDK (2.3) has no public hook for these; each function says what it does and how. The rest of
kros_mcp uses the SDK's public names only. `tests/server/test_sdk_compat.py` runs every function
here against the installed SDK and fails loudly when its shape changes; pyproject.toml pins `mcp`
to the minor versions that test has seen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer, NotificationOptions
from mcp.server.lowlevel.helper_types import ReadResourceContents  # not exported by the SDK
from mcp.server.mcpserver.tools import Tool
from mcp.server.sse import (
    SseServerTransport,  # the SDK's SSE transport; mcp.server does not export it
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from mcp import ServerSession
    from mcp.server import ServerRequestContext
    from mcp.types import (
        EmptyResult,
        SetLevelRequestParams,
        SubscribeRequestParams,
        UnsubscribeRequestParams,
    )

__all__ = [
    "ReadResourceContents",
    "SseServerTransport",
    "connection_of",
    "publish_output_schema",
    "run_with_notifications",
    "sdk_logging_setup_skipped",
    "serve_logging_level",
    "serve_resource_subscriptions",
    "serve_with_state",
    "server_lifespan",
]


def publish_output_schema(tool: Tool, schema: dict[str, Any]) -> None:
    """Make `schema` the output schema `tools/list` shows for `tool`.

    `Tool.output_schema` is a cached property over the tool's function metadata, with no setter
    of its own: assigning it replaces the cached value. kros_mcp publishes a compact schema for a
    tool whose results it shapes itself (see tools/_build.py)."""
    tool.output_schema = schema
    if tool.output_schema != schema:
        raise RuntimeError("the SDK's Tool no longer lets a tool publish its own output schema")


def serve_resource_subscriptions(
    mcp: MCPServer[Any],
    subscribe: Callable[
        [ServerRequestContext[Any, Any], SubscribeRequestParams], Awaitable[EmptyResult]
    ],
    unsubscribe: Callable[
        [ServerRequestContext[Any, Any], UnsubscribeRequestParams], Awaitable[EmptyResult]
    ],
) -> None:
    """Serve 2025-era `resources/subscribe` and `resources/unsubscribe`.

    MCPServer registers no handler for them and offers none to register (an Extension may not bind
    a spec method); its low-level server does."""
    from mcp.types import SubscribeRequestParams, UnsubscribeRequestParams

    low = mcp._lowlevel_server
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)


def serve_logging_level(
    mcp: MCPServer[Any],
    set_level: Callable[
        [ServerRequestContext[Any, Any], SetLevelRequestParams], Awaitable[EmptyResult]
    ],
) -> None:
    """Serve 2025-era `logging/setLevel` (the SDK then advertises the logging capability).

    MCPServer registers no handler for it and offers none to register; its low-level server
    does (the SDK's extension guide names this very case)."""
    from mcp.types import SetLevelRequestParams

    mcp._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


async def run_with_notifications(
    mcp: MCPServer[Any], read_stream: Any, write_stream: Any, notifications: NotificationOptions
) -> None:
    """Serve one connection on `read_stream`/`write_stream`, advertising `notifications`.

    `MCPServer.run_stdio_async` always advertises `listChanged: false` to 2025-era clients; its
    low-level server takes the options to advertise."""
    low = mcp._lowlevel_server
    await low.run(read_stream, write_stream, low.create_initialization_options(notifications))


def connection_of(session: ServerSession) -> object:
    """The client connection behind `session`, stable across its requests.

    The SDK builds a new ServerSession for every request, so the session object cannot tell one
    subscriber from another; its connection can. ServerSession does not expose it."""
    return session._connection


@asynccontextmanager
async def server_lifespan(mcp: MCPServer[Any]) -> AsyncIterator[Any]:
    """Enter `mcp`'s lifespan once, for a transport that serves many connections with its state.

    The streamable HTTP session manager does this itself; `MCPServer.sse_app()` instead enters the
    lifespan for every SSE connection (a store and a client per stream). The lifespan lives on the
    low-level server."""
    low = mcp._lowlevel_server
    async with low.lifespan(low) as state:
        yield state


async def serve_with_state(
    mcp: MCPServer[Any],
    read_stream: Any,
    write_stream: Any,
    state: Any,
    notifications: NotificationOptions,
) -> None:
    """Serve one connection (either protocol era) with lifespan `state` entered by
    `server_lifespan`, advertising `notifications` to 2025-era clients."""
    from mcp.server.runner import serve_dual_era_loop

    low = mcp._lowlevel_server
    await serve_dual_era_loop(
        low,
        read_stream,
        write_stream,
        lifespan_state=state,
        init_options=low.create_initialization_options(notifications),
    )


_SDK_LOGGING_SETUP = "configure_logging"  # what MCPServer.__init__ calls, in its server module


@contextmanager
def sdk_logging_setup_skipped() -> Iterator[None]:
    """Construct an MCPServer inside this block to skip the SDK's logging set-up when the root
    logger has handlers already (otherwise the SDK sets logging up as usual).

    `MCPServer.__init__` always calls `configure_logging`, which imports rich and builds a
    RichHandler for `logging.basicConfig`, a call that does nothing once the root logger has
    handlers (the CLI sets them up first): tens of milliseconds of start-up for nothing. The SDK
    has no argument to skip it, so for the constructor's duration the name it calls, in its server
    module, stands for a no-op."""
    from mcp.server.mcpserver import server as sdk_server

    real = getattr(sdk_server, _SDK_LOGGING_SETUP, None)
    if real is None or not logging.getLogger().handlers:
        yield
        return
    setattr(sdk_server, _SDK_LOGGING_SETUP, _logging_already_configured)
    try:
        yield
    finally:
        setattr(sdk_server, _SDK_LOGGING_SETUP, real)


def _logging_already_configured(level: Any = None) -> None:
    """Stands in for the SDK's configure_logging: the application's handlers stay as they are."""
