"""Per-request plumbing for tools: the caller's dependencies, and number ids from E.164."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import e164, same_number
from .deps import Deps
from .transports.principal import current_principal

__all__ = ["can_elicit", "deps_of", "resolve_number_id"]


def deps_of(ctx: Context) -> Deps:
    """The dependencies for this request, acting for its principal: `Deps.principal` names the
    caller (a bearer-token fingerprint, the verified tenant, the OAuth subject; "stdio" locally),
    and in multi-tenant mode the client and tenant are the caller's own."""
    deps = cast(Deps, ctx.request_context.lifespan_context)
    caller = current_principal()
    if caller is None:
        if deps.tenants is not None:
            raise ToolError(
                "This server is multi-tenant: send your KrosAI API key as "
                "'Authorization: Bearer kros_...' or in the x-api-key header."
            )
        name = "stdio" if ctx.request_context.request is None else "anonymous"
        return deps if deps.principal == name else replace(deps, principal=name)
    if deps.tenants is not None:
        if caller.api_key is None:
            raise ToolError("This server is multi-tenant: this credential names no organisation.")
        deps = deps.for_api_key(caller.api_key.get_secret_value())
    return replace(deps, principal=caller.principal)


def can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    return caps is not None and caps.elicitation is not None


async def resolve_number_id(deps: Deps, number_id: str) -> str:
    """Accept a pn_ id as is; turn an E.164 number into the id of the owned number."""
    value = number_id.strip()
    compact = "".join(ch for ch in value if ch not in " -().")
    if not (compact.startswith("+") or compact.isdigit()):
        return value
    number = e164(compact if compact.startswith("+") else "+" + compact)
    if number is None:
        raise ToolError(
            f"{value!r} is neither a number id (pn_...) nor a valid E.164 number such as "
            "+2348031234567. Call list_numbers to see the organisation's numbers."
        )
    async for owned in deps.client.iter_numbers():
        if same_number(owned.number, number):
            return owned.id
    raise ToolError(
        f"{number} is not one of this organisation's numbers. Call list_numbers to see them, or "
        "search_available to buy one."
    )
