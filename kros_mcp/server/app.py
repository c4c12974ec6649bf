"""The MCP server: tools, resources and prompts over the dependencies they share, with the gates
(kros_mcp.server.middleware) every tool call passes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from mcp.server.mcpserver import Context, MCPServer, RequestStateSecurity
from mcp.types import InputRequiredResult

from .. import __version__
from ..config import Settings
from ..safety import Policy, RuleVerdict
from ._sdk_compat import ReadResourceContents, sdk_logging_setup_skipped
from .apps import app_for
from .client_logging import register_client_logging
from .completions import register_completions
from .context import deps_of
from .deps import Deps, build_policy, load_signing_keys, open_deps
from .middleware import (
    ArgumentErrors,
    CallLog,
    DisabledTools,
    FirstCallReconcile,
    ToolCall,
    ToolCallMiddleware,
    ToolCallResult,
    ToolRateLimit,
    run_chain,
)
from .notify import TenantBus, enable_legacy_subscriptions
from .prompts import register_prompts
from .resources import register_policy_and_audit, register_resources
from .tools import ALL_TOOLS, TOOL_NAMES, ToolSpec
from .tools.endpoints import register_endpoints_resource
from .upstream import Upstream

__all__ = ["INSTRUCTIONS", "KrosMCPServer"]

INSTRUCTIONS = (
    "Manage KrosAI phone numbers for AI voice agents (Africa and the Middle East). Reading is "
    "free: list_numbers, get_number, search_available, list_endpoints. Writes: purchase_number "
    "spends money, release_number is irreversible; preview both with dry_run=true and never pass "
    "a confirmation_token the user has not approved. Amounts are in cents of the currency each "
    "result names."
)

# The request a static resource is being read for (static resources get no Context of their own).
_READING: ContextVar[Context[Any, Any] | None] = ContextVar("kros_mcp_reading", default=None)


class KrosMCPServer(MCPServer[Deps]):
    """The kros-mcp server for `settings`, reaching KrosAI through what `open_upstream` gives
    each time the server starts (see kros_mcp.cli.wiring).

    Tools the policy disables are not registered; every call passes `call_middleware` in order.
    Raises ConfigError for a policy naming unknown tools or unusable signing keys."""

    def __init__(self, settings: Settings, open_upstream: Callable[[], Upstream]) -> None:
        self.configuration = settings
        self._open_upstream = open_upstream
        self.opened: list[Deps] = []
        enabled, disabled = _split_by_policy(build_policy(settings))
        # The MCP App (view and app-only tools) for clients that negotiate MCP Apps; none when off.
        app = app_for(settings)
        # Request state (elicitation across round trips) is sealed with the shared keys, so that
        # any replica can continue what another began; it is bound to the caller's principal (the
        # SDK's default binding: the authenticated token's client, issuer and subject).
        security = RequestStateSecurity(keys=load_signing_keys(settings))
        with sdk_logging_setup_skipped():  # the CLI configured logging: no rich import
            super().__init__(
                "kros-mcp",
                title="KrosAI phone numbers",
                version=__version__,
                instructions=INSTRUCTIONS,
                tools=[spec.build(settings.result_text) for spec in enabled],
                lifespan=self._lifespan,
                log_level="WARNING",
                request_state_security=security,
                subscriptions=TenantBus(),
                extensions=app.extensions,
                middleware=app.middleware,
            )
        self.call_middleware: list[ToolCallMiddleware] = _call_middleware(
            settings, disabled, app.tool_names
        )
        register_resources(self, self.current_deps)
        register_policy_and_audit(self, self.current_deps)
        register_prompts(self)
        register_completions(self)
        register_client_logging(self, settings.krosai_deadline)
        register_endpoints_resource(self, self.current_deps)
        enable_legacy_subscriptions(self, lambda ctx: ctx.lifespan_context.subscribers)

    @asynccontextmanager
    async def _lifespan(self, server: MCPServer[Deps]) -> AsyncIterator[Deps]:
        async with open_deps(self.configuration, self._open_upstream()) as deps:
            self.opened.append(deps)
            try:
                yield deps
            finally:
                self.opened.remove(deps)

    def current_deps_or_none(self) -> Deps | None:
        return self.opened[-1] if self.opened else None

    def current_deps(self) -> Deps:
        """The dependencies of the request being served (the latest run's outside a request)."""
        if not self.opened:
            raise RuntimeError("the server is not running")
        reading = _READING.get()
        return deps_of(reading) if reading is not None else self.opened[-1]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> ToolCallResult:
        call = ToolCall(name, arguments, context)
        return await run_chain(self.call_middleware, self._call_tool, call)

    async def _call_tool(self, call: ToolCall) -> ToolCallResult:
        return await super().call_tool(call.name, call.arguments, call.context)

    async def read_resource(
        self, uri: Any, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        token = _READING.set(context)
        try:
            return await super().read_resource(uri, context)
        finally:
            _READING.reset(token)


def _split_by_policy(policy: Policy) -> tuple[list[ToolSpec], dict[str, RuleVerdict]]:
    """The tools the policy enables, and why each other one is disabled."""
    enabled: list[ToolSpec] = []
    disabled: dict[str, RuleVerdict] = {}
    for spec in ALL_TOOLS:
        verdict = policy.tool_enabled(spec.name, write=spec.writes)
        if verdict.allowed:
            enabled.append(spec)
        else:
            disabled[spec.name] = verdict
    return enabled, disabled


def _call_middleware(
    settings: Settings, disabled: dict[str, RuleVerdict], app_tools: tuple[str, ...] = ()
) -> list[ToolCallMiddleware]:
    """The gates, outermost first: refuse disabled tools and calls over the rate, settle an
    organisation's unfinished writes before its first call, log, and word invalid arguments."""
    gates: list[ToolCallMiddleware] = [DisabledTools(disabled)]
    if settings.tool_rate_limit is not None:
        gates.append(ToolRateLimit(settings.tool_rate_limit))
    gates += [FirstCallReconcile(), CallLog((*TOOL_NAMES, *app_tools)), ArgumentErrors()]
    return gates
