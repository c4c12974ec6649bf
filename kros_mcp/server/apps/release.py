"""Releasing in the view: a preview of what stops working, carrying the proof, and the click."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from ...krosai import KrosAIError, PhoneNumber
from ...safety import ConfirmationError, PolicyError, TokenClaims, arguments_digest
from ...store import StoreError
from ..context import deps_of, resolve_number_id
from ..deps import Deps
from ..errors import to_tool_error
from ..tools._params import NumberId
from ..wording import iso_time, release_effects
from . import _adapter as core
from .common import ProofArg, app_result, person_verdicts, require_app_client
from .models import ReleaseOutcome, ReleaseQuote
from .proof import ReleaseTerms, issue_proof, refusal_text, verify_proof

__all__ = ["app_preview_release", "app_release"]


async def app_preview_release(
    ctx: Context, number_id: NumberId
) -> Annotated[CallToolResult, ReleaseQuote]:
    """For the kros-mcp app: what releasing this number stops, and (when the policy allows it)
    the proof its Release button needs."""
    require_app_client(ctx, "app_preview_release")
    deps = deps_of(ctx)
    try:
        number = await deps.client.get_number(await resolve_number_id(deps, number_id))
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc
    verdict = deps.policy.change_verdict(
        number_id=number.id, number=number.number, action="released"
    )
    refusals = person_verdicts(deps, [verdict])
    preview = ReleaseQuote(
        number_id=number.id,
        number=number.number,
        status=number.status,
        endpoint_id=number.endpoint_id,
        monthly_cost_cents=number.monthly_cost_cents,
        currency=number.currency or deps.settings.currency,
        effects=release_effects(number, deps.settings.currency),
        releasable=verdict.allowed,
        refusals=refusals,
    )
    proof = None
    if verdict.allowed:
        proof, expires = issue_proof(deps, ReleaseTerms(number.id, number.number))
        preview.expires_at = iso_time(expires)
    line = f"Releasing {number.number} cannot be undone." + (
        "" if verdict.allowed else " The operator's policy refuses it."
    )
    return app_result(preview, line, proof=proof)


async def app_release(
    ctx: Context, number_id: NumberId, number: str, proof: ProofArg
) -> Annotated[CallToolResult, ReleaseOutcome]:
    """For the kros-mcp app's Release button only: releases the previewed number. It needs the
    proof of a click, which only the app receives; without it nothing is released."""
    require_app_client(ctx, "app_release")
    deps = deps_of(ctx)
    terms = ReleaseTerms(number_id=number_id, number=number)
    try:
        claims = verify_proof(deps, proof, terms)
    except ConfirmationError as exc:
        raise ToolError(refusal_text(exc, what="released")) from None
    try:
        outcome = await _release(ctx, deps, terms, claims)
    except (PolicyError, StoreError, KrosAIError) as exc:
        raise to_tool_error(exc, write="released") from exc
    return app_result(outcome, outcome.message)


async def _release(
    ctx: Context, deps: Deps, terms: ReleaseTerms, claims: TokenClaims
) -> ReleaseOutcome:
    """Release on a verified click: once, and only a number the policy does not protect."""
    key = f"app:{claims.token_id}"
    replay = await core.claim_click(deps, key, arguments_digest(terms.binding()), what="released")
    if replay is not None:
        return ReleaseOutcome(
            status="released",
            executed=bool(replay.get("executed")),
            number_id=terms.number_id,
            number=terms.number,
            message="ALREADY DONE: this click was handled before, so nothing new was released. "
            + str(replay.get("message", "")),
        )
    try:
        number = await deps.client.get_number(terms.number_id)
        _same_number(number, terms)
        verdict = deps.policy.change_verdict(
            number_id=number.id, number=number.number, action="released"
        )
        if not verdict.allowed:
            raise PolicyError(verdict)
        attempt = await core.start_write(
            deps,
            tool="release_number",
            arguments={"number_id": number.id, "number": number.number, "dedupe": key},
            claim_key=key,
        )
    except BaseException:
        await core.free_click(deps, key)  # nothing was released under this proof
        raise
    result = await core.execute_release(
        ctx, deps, attempt, number, release_effects(number, deps.settings.currency)
    )
    return ReleaseOutcome(
        status="released",
        executed=True,
        message=result.message,
        number_id=result.number_id,
        number=result.number,
    )


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _same_number(number: PhoneNumber, terms: ReleaseTerms) -> None:
    if _digits(number.number) != _digits(terms.number):
        raise ToolError(
            f"{terms.number_id} is now {number.number}, not the {terms.number} shown. Nothing was "
            "released. Open the release preview again."
        )
