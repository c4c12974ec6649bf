"""Per-request plumbing for tools: the caller's dependencies, and number ids from E.164."""

from __future__ import annotations

from typing import cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from .deps import Deps
from .transports.auth import api_key_from_headers

__all__ = ["can_elicit", "deps_of", "resolve_number_id"]


def deps_of(ctx: Context) -> Deps:
    """The dependencies for this request: in multi-tenant mode, acting for the caller's own key."""
    deps = cast(Deps, ctx.request_context.lifespan_context)
    if deps.tenants is None:
        return deps
    headers = ctx.headers or {}
    api_key = api_key_from_headers({k.lower(): v for k, v in headers.items()})
    if api_key is None:
        raise ToolError(
            "This server is multi-tenant: send your KrosAI API key as 'Authorization: Bearer kros_...' "
            "or in the x-api-key header."
        )
    return deps.for_api_key(api_key)


def can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    return caps is not None and caps.elicitation is not None


async def resolve_number_id(deps: Deps, number_id: str) -> str:
    """Accept a pn_ id as is; turn an E.164 number into the id of the owned number."""
    value = number_id.strip()
    compact = (
        value.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").replace(".", "")
    )
    if not (compact.startswith("+") or compact.isdigit()):
        return value
    import phonenumbers

    try:
        parsed = phonenumbers.parse(compact if compact.startswith("+") else "+" + compact)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ToolError(
            f"{value!r} is neither a number id (pn_...) nor a valid E.164 number such as "
            "+2348031234567. Call list_numbers to see the organisation's numbers."
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    async for owned in deps.client.iter_numbers():
        if "".join(c for c in owned.number if c.isdigit()) == e164[1:]:
            return owned.id
    raise ToolError(
        f"{e164} is not one of this organisation's numbers. Call list_numbers to see them, or "
        "search_available to buy one."
    )
