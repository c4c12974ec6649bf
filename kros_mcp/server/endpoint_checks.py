"""Is an endpoint id one calls can be routed to? Checked before a purchase or a re-routing, so a
preview shows the problem and a real call never spends money or changes routing towards nothing."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import Endpoint, KrosAIError, PhoneNumber
from ..safety.text import clean_text
from .deps import Deps
from .number_states import state_lines

__all__ = ["endpoint_lines", "routing_checks", "valid_endpoints"]

_LISTED = 10


def _label(endpoint: Endpoint) -> str:
    name = clean_text(endpoint.name, limit=60)
    kind = clean_text(endpoint.provider or endpoint.type, limit=30)
    status = clean_text(endpoint.status, limit=20) or "status unknown"
    details = ", ".join(part for part in (name, kind, status) if part)
    return f"{endpoint.id} ({details})"


def valid_endpoints(endpoints: list[Endpoint]) -> str:
    """The endpoints a number may be routed to, for an error or a plan line."""
    active = [e for e in endpoints if e.status in (None, "active")]
    if not active:
        return "This organisation has no active endpoint: create one in the KrosAI dashboard."
    shown = "; ".join(_label(e) for e in active[:_LISTED])
    more = (
        f" (and {len(active) - _LISTED} more: call list_endpoints)" if len(active) > _LISTED else ""
    )
    return f"Active endpoints: {shown}{more}."


_NEW = object()


async def endpoint_lines(
    deps: Deps, endpoint_id: str | None, *, strict: bool, what: str, replacing: object = _NEW
) -> list[str]:
    """Plan lines about routing to `endpoint_id`. With `strict`, an id that does not exist (or is
    not active) raises a ToolError naming the valid ones, before anything is `what` (bought,
    changed). `replacing`:
    the endpoint routed to now, when changing a number's routing (no line if it stays)."""
    if replacing is not _NEW and (endpoint_id is None or endpoint_id == replacing):
        return []
    if endpoint_id is None:
        return ["No endpoint: calls are not routed until update_routing sets one."]
    try:
        endpoints = [e async for e in deps.client.iter_endpoints()]
    except KrosAIError:
        # The endpoint cannot be checked; KrosAI still refuses an unknown one when it is sent.
        return [
            f"Route inbound calls to {endpoint_id} (not checked: KrosAI's endpoints unreadable)."
        ]
    found = next((e for e in endpoints if e.id == endpoint_id), None)
    if found is None:
        problem = f"ENDPOINT_NOT_FOUND: {endpoint_id} is not an endpoint of this organisation."
    elif found.status not in (None, "active"):
        status = clean_text(found.status, limit=20)
        problem = (
            f"ENDPOINT_NOT_ACTIVE: {_label(found)} is {status}: its calls would go unanswered."
        )
    else:
        return [f"Route inbound calls to {_label(found)}."]
    if strict:
        raise ToolError(f"{problem} Nothing was {what}. {valid_endpoints(endpoints)}")
    return [f"{problem} The real call would be refused. {valid_endpoints(endpoints)}"]


async def routing_checks(
    deps: Deps, number: PhoneNumber, before: str | None, after: str | None, *, strict: bool
) -> list[str]:
    """What re-routing `number` from endpoint `before` to `after` meets: its status, and the new
    endpoint. With `strict`, what KrosAI would refuse raises a ToolError first."""
    lines = state_lines(number, "re-route", strict=strict)
    return lines + await endpoint_lines(
        deps, after, strict=strict, what="changed", replacing=before
    )
