"""update_routing: where a number's calls go, and which directions are allowed."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from ...krosai import UNSET, KrosAIError, PhoneNumber
from ...safety import PolicyError, RuleVerdict, WriteAttempt
from ...safety.text import ENDPOINT_OR_KEEP_ARGUMENT
from ...store import StoreError
from ..context import deps_of, resolve_number_id
from ..deps import Deps
from ..endpoint_checks import routing_checks
from ..errors import to_tool_error
from ..guard import refuse, scope_of
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
        str | None,
        Field(
            pattern=ENDPOINT_OR_KEEP_ARGUMENT,
            description="null detaches",
        ),
    ] = KEEP,
    allow_inbound: bool | None = None,
    allow_outbound: bool | None = None,
    dry_run: DryRun = False,
) -> RoutingResult:
    """Route a number's calls to an endpoint; allow or block inbound/outbound. Free; repeatable.
    dry_run=true previews."""
    deps = deps_of(ctx)
    changes: dict[str, Any] = {
        "endpoint_id": UNSET if endpoint_id == KEEP else endpoint_id,
        "allow_inbound": UNSET if allow_inbound is None else allow_inbound,
        "allow_outbound": UNSET if allow_outbound is None else allow_outbound,
    }
    try:
        current = await deps.client.get_number(await resolve_number_id(deps, number_id))
        before = _routing(current)
        after = before.model_copy(update={k: v for k, v in changes.items() if v is not UNSET})
        effects = routing_effects(current, before, after)
        effects += await routing_checks(
            deps, current, before.endpoint_id, after.endpoint_id, strict=not dry_run
        )
        verdict = deps.policy.change_verdict(
            number_id=current.id, number=current.number, action="re-routed"
        )
        if dry_run:
            return _preview(current, before, after, effects, verdict)
        arguments = {
            "number_id": current.id,
            "number": current.number,
            "before": before.model_dump(),
            "after": after.model_dump(),
        }
        if not verdict.allowed:
            raise await refuse(deps, "update_routing", arguments, verdict, what="changed")
        attempt = await scope_of(deps).begin("update_routing", arguments, confirmation="none")
    except (StoreError, KrosAIError, PolicyError) as exc:
        raise to_tool_error(exc, write="changed") from exc
    updated = await _update(deps, attempt, current.id, changes)
    await notify_changed(ctx, deps.subscribers, updated.id)
    return RoutingResult(
        status="updated",
        executed=True,
        message=f"Routing of {updated.number} updated.",
        number_id=updated.id,
        number=updated.number,
        before=before,
        after=_routing(updated),
        effects=effects,
    )


def _preview(
    number: PhoneNumber, before: Routing, after: Routing, effects: list[str], verdict: RuleVerdict
) -> RoutingResult:
    return RoutingResult(
        status="dry_run",
        executed=False,
        number_id=number.id,
        number=number.number,
        before=before,
        after=after,
        effects=[*effects, policy_line(verdict)],
        message="Preview only: nothing changed."
        + ("" if verdict.allowed else " The operator's policy would refuse it."),
    )


def _routing(number: PhoneNumber) -> Routing:
    return Routing(
        endpoint_id=number.endpoint_id,
        allow_inbound=number.allow_inbound,
        allow_outbound=number.allow_outbound,
    )


async def _update(
    deps: Deps, attempt: WriteAttempt, number_id: str, changes: dict[str, Any]
) -> PhoneNumber:
    """The upstream change, with its outcome settled in the audit trail."""
    try:
        updated = await deps.client.update_number(number_id, **changes)
    except KrosAIError as exc:
        await attempt.upstream_error(exc)
        raise to_tool_error(exc, write="changed") from exc
    except BaseException:
        attempt.abandon()  # cancelled mid-call: recovery settles it
        raise
    await attempt.succeeded(
        {"result": "updated", **_routing(updated).model_dump(exclude_none=False)}
    )
    return updated
