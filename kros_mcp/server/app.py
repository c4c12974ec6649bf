"""Build the MCP server: tools, resources, prompts, and the dependencies they share."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.request_state import RequestStateSecurity
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from .. import __version__
from ..config import Settings
from ..ratelimit import RateLimiter
from ..safety import Policy, RuleVerdict
from ..store import tenant_key
from .arg_errors import invalid_arguments
from .context import deps_of
from .deps import Deps, build_policy, load_signing_keys, open_deps
from .notify import enable_legacy_subscriptions
from .prompts import register_prompts
from .reconcile import reconcile_unfinished
from .resources import register_policy_and_audit, register_resources
from .results import compact_results
from .schemas import compact_tool_schemas
from .tools import TOOL_NAMES, WRITE_TOOLS, register_tools
from .transports.auth import api_key_from_headers

__all__ = ["INSTRUCTIONS", "KrosMCPServer", "build_server"]

calls_log = logging.getLogger("kros_mcp.calls")

INSTRUCTIONS = (
    "Manage KrosAI phone numbers for AI voice agents (Africa and the Middle East). Reading is free: "
    "list_numbers, get_number, search_available. Writes: purchase_number spends money, release_number is "
    "irreversible; preview both with dry_run=true and never pass a confirmation_token the user has not "
    "approved. Costs are in US cents."
)


# The request a static resource is being read for (static resources get no Context of their own).
_READING: ContextVar[Context[Any, Any] | None] = ContextVar("kros_mcp_reading", default=None)


class KrosMCPServer(MCPServer):
    """MCPServer with kros-mcp's gates around every call: tools disabled by policy are neither
    listed nor callable, tool calls are rate limited per organisation, and each call is logged."""

    disabled_tools: dict[str, RuleVerdict]
    limiter: RateLimiter | None
    opened: list[Deps]

    def current_deps_or_none(self) -> Deps | None:
        return self.opened[-1] if self.opened else None

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        verdict = self.disabled_tools.get(name)
        if verdict is not None:
            raise ToolError(
                f"{verdict.detail}, so nothing was done ({verdict.code}; {verdict.operator_hint})."
            )
        if context is None:
            return await self._call(name, arguments, context)
        deps = deps_of(context)
        if self.limiter is not None:
            rate = self.limiter.check(deps.tenant, "tools")
            if not rate.allowed:
                raise ToolError(
                    f"RATE_LIMITED: too many tool calls for this organisation; nothing was done. "
                    f"Retry after {max(rate.retry_after, 0.01):.2f}s."
                )
        if deps.tenants is not None and deps.tenant not in deps.tenants.reconciled:
            deps.tenants.reconciled.add(deps.tenant)
            await reconcile_unfinished(deps)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._call(name, arguments, context)
            outcome = (
                "input_required"
                if isinstance(result, InputRequiredResult)
                else ("error" if result.is_error else "ok")
            )
            return result
        finally:
            if calls_log.isEnabledFor(logging.INFO):  # off on stdio: skip building the record
                _log_call(name, context, deps.tenant, outcome, started)

    async def _call(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(invalid_arguments(name, exc.__cause__)) from None
            raise

    async def read_resource(
        self, uri: Any, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        token = _READING.set(context)
        try:
            return await super().read_resource(uri, context)
        finally:
            _READING.reset(token)


def _log_call(
    name: str, context: Context[Any, Any], tenant: str, outcome: str, started: float
) -> None:
    # The name and the request id are the caller's: never log either unbounded, nor a name
    # that is not a tool (it could forge text log lines).
    tool = name if name in TOOL_NAMES else "(unknown)"
    calls_log.info(
        "tool %s %s",
        tool,
        outcome,
        extra={
            "call_id": uuid.uuid4().hex[:16],  # ours: unique, unlike the client's JSON-RPC id
            "request_id": str(context.request_id)[:64],
            "tenant": tenant,
            "tool": tool,
            "outcome": outcome,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


def _principal(ctx: Any) -> str | None:
    """The organisation a request acts for, when the caller presents its own key (multi tenant)."""
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    if not headers:
        return None
    api_key = api_key_from_headers({k.lower(): v for k, v in headers.items()})
    return tenant_key(api_key) if api_key else None


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
        reading = _READING.get()
        return deps_of(reading) if reading is not None else opened[-1]

    # Request state (elicitation across round trips) is sealed with the shared keys, so that any
    # replica can continue what another began; it is bound to the calling organisation.
    security = RequestStateSecurity(keys=load_signing_keys(settings), bind_principal=_principal)
    mcp = KrosMCPServer(
        "kros-mcp",
        title="KrosAI phone numbers",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level="WARNING",
        request_state_security=security,
    )
    mcp.opened = opened
    rate = settings.tool_rate_limit
    mcp.limiter = RateLimiter({"default": rate, "tools": rate}) if rate is not None else None
    register_tools(mcp)
    compact_tool_schemas(mcp)
    compact_results(mcp)
    _disable_tools(mcp, policy)
    register_resources(mcp, current_deps)
    register_policy_and_audit(mcp, current_deps)
    register_prompts(mcp)
    enable_legacy_subscriptions(mcp, lambda ctx: ctx.lifespan_context.subscribers)
    return mcp
