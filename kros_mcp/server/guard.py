"""The tools' way into safety/: the scope of a call, and policy refusals that are audited."""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from ..safety import PolicyError, RuleVerdict, Scope, caller_fingerprint
from ..store import StoreError
from .deps import Deps
from .errors import to_tool_error

__all__ = ["refuse", "scope_of"]

log = logging.getLogger("kros_mcp.server")


def scope_of(deps: Deps) -> Scope:
    """Whose write this is: the tenant, the caller (fingerprinted) and the state store."""
    return Scope(deps.store, deps.tenant, deps.policy, caller_fingerprint(deps.principal))


async def refuse(
    deps: Deps,
    tool: str,
    arguments: dict[str, Any],
    verdict: RuleVerdict,
    *,
    what: str,
    quote: dict[str, Any] | None = None,
) -> ToolError:
    """Record a policy refusal in the audit trail; the ToolError to raise for it."""
    try:
        await scope_of(deps).trail.refusal(tool, arguments, verdict, quote=quote)
    except StoreError as exc:
        log.warning("could not record a refusal of %s in the audit trail: %s", tool, exc)
    return to_tool_error(PolicyError(verdict), write=what)
