"""release_number: give a number back to KrosAI, with the person's agreement."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError

from ...krosai import KrosAIError, PhoneNumber
from ...safety import (
    ConfirmationError,
    PolicyError,
    ReleaseTerms,
    Step,
    TokenClaims,
    WriteAttempt,
)
from ...safety import release as releasing
from ...safety.confirmation import step_after
from ...safety.purchase import ConfirmationInUse
from ...safety.release import ReleasePlan
from ...store import StoreError
from ..confirmation import (
    ConfirmRelease,
    answer_of,
    ask_release,
    lookup_number,
    plan_release,
)
from ..context import deps_of
from ..deps import Deps
from ..errors import to_tool_error
from ..guard import refuse, scope_of
from ..models import ReleaseResult
from ..notify import notify_changed
from ..number_states import state_lines
from ..purchase import CLAIM_REFUSALS
from ..wording import iso_time, policy_line, release_effects, replayed
from ._params import DryRun, NumberId, Token

__all__ = ["release_number", "settle_release"]

TOOL = "release_number"


async def release_number(
    ctx: Context,
    number_id: NumberId,
    plan: Annotated[ReleasePlan, Resolve(plan_release)],
    answer: Annotated[ElicitationResult[ConfirmRelease], Resolve(ask_release)],
    dry_run: DryRun = False,
    confirmation_token: Token = None,
) -> ReleaseResult:
    """Give a number back. IRREVERSIBLE: calls stop at once. dry_run=true previews.
    Confirmed like purchase_number."""
    deps = deps_of(ctx)
    claims = plan.confirmation.claims
    if claims is not None:
        return await _release_by_token(ctx, deps, number_id, plan, claims)
    number, verdict = plan.number, plan.verdict
    if number is None or verdict is None:  # looked up whenever no token is claimed
        raise ToolError("The number could not be looked up. Nothing was released.")
    effects = release_effects(number, deps.settings.currency) + state_lines(
        number, "release", strict=not plan.dry_run
    )
    if plan.dry_run:
        return _result(
            number,
            "dry_run",
            [*effects, policy_line(verdict)],
            "Preview only: nothing was released."
            + ("" if verdict.allowed else " The operator's policy would refuse it."),
        )
    if not verdict.allowed:
        raise await refuse(deps, TOOL, _terms(number).arguments(), verdict, what="released")
    try:
        step = await step_after(
            deps.store, deps.tenant, plan.confirmation, _terms(number).subject(), answer_of(answer)
        )
    except StoreError as exc:
        raise to_tool_error(exc, write="released") from exc
    if step is not Step.PROCEED:
        return _not_released(deps, number, effects, step, plan)
    return await _release(ctx, deps, number, effects, confirmation=plan.confirmation.how)


def _terms(number: PhoneNumber) -> ReleaseTerms:
    return ReleaseTerms(number.id, number.number)


def _result(
    number: PhoneNumber, status: str, plan: list[str], message: str, **extra: str
) -> ReleaseResult:
    return ReleaseResult(
        status=status,  # type: ignore[arg-type]
        executed=False,
        number_id=number.id,
        number=number.number,
        plan=plan,
        message=message,
        **extra,
    )


def _not_released(
    deps: Deps, number: PhoneNumber, effects: list[str], step: Step, plan: ReleasePlan
) -> ReleaseResult:
    """The result (or error) of a release that confirmation stops."""
    if step is Step.CANNOT_ASK:
        raise ToolError(
            "This server requires a person to confirm releases, and this client cannot ask "
            "(no elicitation support). Nothing was released."
        )
    if step is Step.ANSWER_USED:
        raise ToolError(
            "This answer was already used by another call, so nothing new was released. Call "
            "release_number again to ask the person afresh."
        )
    if step is Step.ISSUE_TOKEN:
        token, expires = deps.tokens.issue(
            tenant=deps.tenant, tool=TOOL, arguments=_terms(number).arguments(), quote=None
        )
        return _result(
            number,
            "confirmation_required",
            effects,
            "NOT RELEASED YET. Show the user what stops working and ask them. If they agree, "
            f"call release_number again with number_id={number.id} and this confirmation_token.",
            confirmation_token=token,
            token_expires_at=iso_time(expires),
        )
    if step is Step.REFUSED_TOKEN and plan.confirmation.token_error is not None:
        raise to_tool_error(plan.confirmation.token_error, write="released")
    if step not in (Step.DECLINED, Step.CANCELLED):
        raise ToolError(
            f"This release could not be confirmed ({step.value}). Nothing was released."
        )
    dismissed = "dismissed the question" if step is Step.CANCELLED else "declined"
    return _result(number, "declined", effects, f"The person {dismissed}: nothing was released.")


async def _release_by_token(
    ctx: Context, deps: Deps, number_id: str, plan: ReleasePlan, claims: TokenClaims
) -> ReleaseResult:
    """A release confirmed by a token: claimed first, so that a copy of it replays the outcome
    (the number may be gone by then), then checked against the number it was issued for."""
    scope = scope_of(deps)
    dedupe = f"token:{claims.token_id}"
    try:
        replay = await releasing.claim(scope, plan.confirmation, claims)
    except StoreError as exc:
        raise to_tool_error(exc, write="released") from exc
    except ConfirmationInUse as exc:
        step = Step.BUSY if exc.in_progress else Step.REFUSED_TOKEN
        raise ToolError(CLAIM_REFUSALS[step].format(done="released")) from None
    if replay is not None:
        return replayed(ReleaseResult.model_validate(replay.result))
    try:
        number = await lookup_number(deps, number_id)
        releasing.bind(claims, number)
        verdict = deps.policy.change_verdict(
            number_id=number.id, number=number.number, action="released"
        )
        if not verdict.allowed:
            raise await refuse(deps, TOOL, _terms(number).arguments(), verdict, what="released")
    except BaseException as exc:
        await scope.unclaim(dedupe)
        if isinstance(exc, ConfirmationError):
            raise to_tool_error(exc, write="released") from exc
        raise
    return await _release(
        ctx,
        deps,
        number,
        release_effects(number, deps.settings.currency),
        confirmation="token",
        dedupe=dedupe,
    )


async def _release(
    ctx: Context,
    deps: Deps,
    number: PhoneNumber,
    effects: list[str],
    *,
    confirmation: str,
    dedupe: str | None = None,
) -> ReleaseResult:
    """The upstream release, recorded before and settled after."""
    try:
        attempt = await scope_of(deps).begin(
            TOOL,
            {**_terms(number).arguments(), "dedupe": dedupe},
            confirmation=confirmation,
            claim_key=dedupe,
        )
    except (PolicyError, StoreError) as exc:
        await scope_of(deps).unclaim(dedupe)
        raise to_tool_error(exc, write="released") from exc
    return await settle_release(ctx, deps, attempt, number, effects)


async def settle_release(
    ctx: Context, deps: Deps, attempt: WriteAttempt, number: PhoneNumber, plan: list[str]
) -> ReleaseResult:
    """The upstream release of a recorded attempt, settled in the audit and the claim: the one
    path for release_number and the MCP App's Release."""
    try:
        released = await deps.client.release_number(number.id)
    except KrosAIError as exc:
        await attempt.upstream_error(exc)
        raise to_tool_error(exc, write="released") from exc
    except BaseException:
        attempt.abandon()  # cancelled mid-call: recovery settles it
        raise
    result = ReleaseResult(
        status="released",
        executed=True,
        number_id=number.id,
        number=number.number,
        plan=plan,
        message=f"Released {number.number}."
        + (
            " (The first answer was lost; a retry found it already released.)"
            if released.confirmed_by_retry
            else ""
        ),
    )
    await attempt.succeeded({"result": "released"}, result=result.model_dump(mode="json"))
    await notify_changed(ctx, deps.subscribers, number.id)
    return result
