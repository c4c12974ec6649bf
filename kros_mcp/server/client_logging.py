"""What the client hears while a tool call waits on KrosAI: log notifications and progress.

During each `tools/call`, retries, slow answers and reconciliation reported by the KrosAI client
(`krosai.observing`) become `notifications/message` (at the level the client set with
`logging/setLevel` in the 2025 era, or opted into per request in the 2026 era) and, when the
client sent a progress token, `notifications/progress`. The same scope caps the call's KrosAI
time at KROSAI_DEADLINE (`krosai.budget`), so the model gets this server's explanation before a
60-second client timeout.
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Final, get_args

from mcp import MCPDeprecationWarning
from mcp.server import MCPServer, ServerRequestContext
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams

from ..krosai import ClientEvent, budget, observing
from ._sdk_compat import connection_of, serve_logging_level

__all__ = ["ProgressObserver", "register_client_logging"]

log = logging.getLogger("kros_mcp.server")

LOGGER_NAME: Final = "kros_mcp.krosai"
_LEVELS: Final[tuple[str, ...]] = get_args(LoggingLevel)
# The protocol revision that dropped logging/setLevel for a per-request opt-in (versions are dates).
REQUEST_SCOPED_LOGGING_SINCE: Final = "2026-07-28"
# Until a 2025-era client sets a level, it hears retries and everything above.
DEFAULT_LEVEL: Final = "info"


class _Levels:
    """The level each 2025-era connection asked for with logging/setLevel."""

    def __init__(self) -> None:
        self._by_connection: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def set(self, ctx: ServerRequestContext[Any, Any], level: str) -> None:
        key = _connection_key(ctx)
        if key is not None:
            self._by_connection[key] = level

    def allows(self, ctx: ServerRequestContext[Any, Any], level: str) -> bool:
        if ctx.protocol_version >= REQUEST_SCOPED_LOGGING_SINCE:
            return True  # 2026-07-28: the request's own opt-in decides (the SDK filters)
        key = _connection_key(ctx)
        wanted = self._by_connection.get(key, DEFAULT_LEVEL) if key is not None else DEFAULT_LEVEL
        return _LEVELS.index(level) >= _LEVELS.index(wanted)


def _connection_key(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The connection a request arrived on (the level is the connection's, not the request's)."""
    return connection_of(ctx.session)


class ProgressObserver:
    """Turns the KrosAI client's events during one request into log and progress notifications."""

    def __init__(self, ctx: ServerRequestContext[Any, Any], levels: _Levels) -> None:
        self._ctx = ctx
        self._levels = levels
        self._step = 0

    async def __call__(self, event: ClientEvent) -> None:
        self._step += 1
        if self._levels.allows(self._ctx, event.level):
            await self._ctx.session.send_log_message(
                level=event.level,
                data=event.message,
                logger=LOGGER_NAME,
                related_request_id=self._ctx.request_id,
            )
        # A no-op unless the client sent a progress token with this request.
        await self._ctx.session.report_progress(self._step, None, event.message)


def register_client_logging(mcp: MCPServer, deadline_seconds: float) -> None:
    """Serve logging/setLevel (2025 era) and observe every tool call's KrosAI work."""
    levels = _Levels()

    async def set_level(
        ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        levels.set(ctx, params.level)
        return EmptyResult()

    async def observe_tool_calls(
        ctx: ServerRequestContext[Any, Any],
        call_next: Callable[[ServerRequestContext[Any, Any]], Awaitable[Any]],
    ) -> Any:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        with observing(ProgressObserver(ctx, levels)), budget(deadline_seconds):
            return await call_next(ctx)

    # Client logging is deprecated by the 2026 spec, and still the way to reach both eras.
    warnings.filterwarnings(
        "ignore", message="The logging capability is deprecated", category=MCPDeprecationWarning
    )
    serve_logging_level(mcp, set_level)
    mcp.middleware.append(observe_tool_calls)
