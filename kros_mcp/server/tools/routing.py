"""update_routing: where a number's calls go, and which directions are allowed."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from ...krosai import UNSET, KrosAIError, ServerError, TransportError
from ...store import StoreError
from ..context import deps_of, resolve_number_id
from ..errors import to_tool_error
from ..guard import begin_write, refusal
from ..models import (
    Routing,
    RoutingResult,
)
from ..notify import notify_changed
from ..wording import policy_line, routing_effects
from ._params import KEEP, DryRun, NumberId

__all__ = ["update_routing"]


async def update_routing(
    ctx: Context,
    number_id: NumberId,
    endpoint_id: Annotated[
        str | None, Field(description=("ep_...; null detaches; 'keep' leaves it"))
    ] = KEEP,
    allow_inbound: bool | None = None,
    allow_outbound: bool | None = None,
    dry_run: DryRun = False,
) -> RoutingResult:
    """Route a number's calls to an endpoint; allow or block inbound/outbound calls (omitted:
    unchanged). Free; safe to repeat. dry_run=true shows before and after."""
    deps = deps_of(ctx)
    try:
        number_id = await resolve_number_id(deps, number_id)
        current = await deps.client.get_number(number_id)
        before = Routing(
            endpoint_id=current.endpoint_id,
            allow_inbound=current.allow_inbound,
            allow_outbound=current.allow_outbound,
        )
        after = Routing(
            endpoint_id=before.endpoint_id if endpoint_id == KEEP else endpoint_id,
            allow_inbound=before.allow_inbound if allow_inbound is None else allow_inbound,
            allow_outbound=before.allow_outbound if allow_outbound is None else allow_outbound,
        )
        effects = routing_effects(current, before, after)
        verdict = deps.policy.change_verdict(
            number_id=current.id, number=current.number, action="re-routed"
        )
        if dry_run:
            return RoutingResult(
                status="dry_run",
                executed=False,
                number_id=current.id,
                number=current.number,
                before=before,
                after=after,
                effects=[*effects, policy_line(verdict)],
                message="Preview only: nothing changed."
                + ("" if verdict.allowed else " The operator's policy would refuse it."),
            )
        if not verdict.allowed:
            raise refusal(verdict, what="changed")
        attempt = await begin_write(
            deps,
            tool="update_routing",
            confirmation="none",
            arguments={
                "number_id": current.id,
                "number": current.number,
                "before": before.model_dump(),
                "after": after.model_dump(),
            },
        )
    except (StoreError, KrosAIError) as exc:
        raise to_tool_error(exc, write="changed") from exc
    try:
        updated = await deps.client.update_number(
            number_id,
            endpoint_id=UNSET if endpoint_id == KEEP else endpoint_id,
            allow_inbound=UNSET if allow_inbound is None else allow_inbound,
            allow_outbound=UNSET if allow_outbound is None else allow_outbound,
        )
    except KrosAIError as exc:
        if isinstance(exc, (TransportError, ServerError)):
            await attempt.unknown(exc.message)
        else:
            await attempt.failed(exc.message)
        raise to_tool_error(exc, write="changed") from exc
    await attempt.succeeded(
        {
            "result": "updated",
            "endpoint_id": updated.endpoint_id,
            "allow_inbound": updated.allow_inbound,
            "allow_outbound": updated.allow_outbound,
        }
    )
    await notify_changed(ctx, deps.subscribers, updated.id)
    final = Routing(
        endpoint_id=updated.endpoint_id,
        allow_inbound=updated.allow_inbound,
        allow_outbound=updated.allow_outbound,
    )
    return RoutingResult(
        status="updated",
        executed=True,
        message=f"Routing of {updated.number} updated.",
        number_id=updated.id,
        number=updated.number,
        before=before,
        after=final,
        effects=effects,
    )
