"""release_number: give a number back to KrosAI, with the person's agreement."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError

from ...krosai import KrosAIError, PhoneNumber, ServerError, TransportError
from ...safety import ConfirmationError, PolicyError, TokenClaims, arguments_digest
from ...store import StoreError
from ..confirmation import ConfirmRelease, ask_release, token_step
from ..context import deps_of, resolve_number_id
from ..deps import Deps
from ..errors import to_tool_error
from ..guard import begin_write, claim_once
from ..models import (
    ReleaseResult,
)
from ..notify import notify_changed
from ..wording import iso_time, policy_line, release_effects, replayed
from ._params import DryRun, NumberId, Token

__all__ = ["release_number"]


async def release_number(
    ctx: Context,
    number_id: NumberId,
    answer: Annotated[ElicitationResult[ConfirmRelease], Resolve(ask_release)],
    dry_run: DryRun = False,
    confirmation_token: Token = None,
) -> ReleaseResult:
    """Give a number back to KrosAI. IRREVERSIBLE: its calls stop at once. dry_run=true shows
    what stops working. Needs confirmation, like purchase_number."""
    deps = deps_of(ctx)
    claims: TokenClaims | None = None
    dedupe: str | None = None
    try:
        if confirmation_token and deps.confirmation == "auto" and not dry_run:
            claims = deps.tokens.verify(
                confirmation_token, tenant=deps.tenant, tool="release_number", arguments=None
            )
            dedupe = f"token:{claims.token_id}"
            # A call re-sent with a token that already released replays that result.
            replay = await claim_once(deps, dedupe, claims.args_digest, what="released")
            if replay is not None:
                return replayed(ReleaseResult.model_validate(replay))
        try:
            prepared = await _prepare_release(ctx, deps, number_id, answer, claims, dry_run)
        except BaseException:
            if dedupe is not None:
                await deps.store.release_request(deps.tenant, dedupe)
            raise
        if isinstance(prepared, ReleaseResult):
            if dedupe is not None:
                await deps.store.release_request(deps.tenant, dedupe)
            return prepared
        number, plan, confirmation = prepared
        attempt = await begin_write(
            deps,
            tool="release_number",
            arguments={"number_id": number.id, "number": number.number, "dedupe": dedupe},
            confirmation=confirmation,
            claim_key=dedupe,
        )
    except (PolicyError, ConfirmationError, StoreError, KrosAIError) as exc:
        raise to_tool_error(exc, write="released") from exc
    try:
        released = await deps.client.release_number(number.id)
    except KrosAIError as exc:
        if isinstance(exc, (TransportError, ServerError)):
            await attempt.unknown(exc.message)
        else:
            await attempt.failed(exc.message)
        raise to_tool_error(exc, write="released") from exc
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


async def _prepare_release(
    ctx: Context, deps: Deps, number_id: str, answer: Any, claims: TokenClaims | None, dry_run: bool
) -> ReleaseResult | tuple[PhoneNumber, list[str], str]:
    """Everything before a release: lookup, policy, confirmation. A result to return as is, or
    the number, its plan and how the release was confirmed."""
    number_id = await resolve_number_id(deps, number_id)
    number = await deps.client.get_number(number_id)
    plan = release_effects(number)
    arguments = {"number_id": number.id}
    verdict = deps.policy.change_verdict(
        number_id=number.id, number=number.number, action="released"
    )
    if dry_run:
        return ReleaseResult(
            status="dry_run",
            executed=False,
            number_id=number.id,
            number=number.number,
            plan=[*plan, policy_line(verdict)],
            message="Preview only: nothing was released."
            + ("" if verdict.allowed else " The operator's policy would refuse it."),
        )
    if not verdict.allowed:
        raise PolicyError(verdict)
    if claims is not None:
        if claims.args_digest != arguments_digest(arguments):
            raise ConfirmationError(
                "mismatch",
                "this confirmation_token was issued for another number; call "
                "release_number without a token to get one for this number",
            )
        return number, plan, "token"
    step = token_step(deps, ctx, answer)
    if step == "refuse":
        raise ToolError(
            "This server requires a person to confirm releases, and this client cannot ask "
            "(no elicitation support). Nothing was released."
        )
    if step == "issue":
        token, expires = deps.tokens.issue(
            tenant=deps.tenant, tool="release_number", arguments=arguments, price_cents=None
        )
        return ReleaseResult(
            status="confirmation_required",
            executed=False,
            number_id=number.id,
            number=number.number,
            plan=plan,
            confirmation_token=token,
            token_expires_at=iso_time(expires),
            message=f"NOT RELEASED YET. Show the user what stops working and ask them. If they agree, "
            f"call release_number again with number_id={number.id} and this confirmation_token.",
        )
    if step == "elicited" and (
        not isinstance(answer, AcceptedElicitation) or not answer.data.confirm
    ):
        return ReleaseResult(
            status="declined",
            executed=False,
            number_id=number.id,
            number=number.number,
            plan=plan,
            message="The person declined: nothing was released.",
        )
    return number, plan, "none" if step == "none" else "elicitation"
