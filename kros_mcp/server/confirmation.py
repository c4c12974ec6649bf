"""Asking the person before spending or releasing: each write's plan, and the question it puts.

A write tool takes two resolved parameters: its plan (safety.purchase / safety.release, resolved
once per round from one read of the offer, the budget and the token) and the person's answer,
whose resolver asks only when the plan says so. The tool body acts on the same plan, so whether
to ask or to issue a token is decided once.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    Elicit,
    Resolve,
)
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..krosai import KrosAIError, PhoneNumber
from ..safety import Answer, Confirmation, Mode
from ..safety import confirmation as confirming
from ..safety import purchase as purchasing
from ..safety import release as releasing
from ..safety.purchase import PurchasePlan
from ..safety.release import ReleasePlan
from ..store import StoreError
from .context import can_elicit, deps_of, resolve_number_id
from .deps import Deps
from .errors import to_tool_error
from .guard import scope_of
from .wording import purchase_question, release_effects, release_question

__all__ = [
    "ConfirmPurchase",
    "ConfirmRelease",
    "NoQuestion",
    "answer_of",
    "ask_purchase",
    "ask_release",
    "lookup_number",
    "plan_purchase",
    "plan_release",
]


class ConfirmPurchase(BaseModel):
    confirm: bool = Field(description="Buy this number and pay the amount shown?")


class ConfirmRelease(BaseModel):
    confirm: bool = Field(description="Release this number? This cannot be undone.")


class NoQuestion:
    """An answer resolver's value when the plan puts no question."""


def answer_of(answer: Any) -> Answer:
    """The person's answer as an Answer (NOT_ASKED when no question was put)."""
    if isinstance(answer, AcceptedElicitation):
        if isinstance(answer.data, NoQuestion):
            return Answer.NOT_ASKED
        return Answer.ACCEPT if getattr(answer.data, "confirm", False) else Answer.DECLINE
    if isinstance(answer, DeclinedElicitation):
        return Answer.DECLINE
    if isinstance(answer, CancelledElicitation):
        return Answer.CANCEL
    return Answer.NOT_ASKED


def _assess(
    deps: Deps,
    ctx: Context,
    token: str | None,
    tool: str,
    arguments: dict[str, Any] | None,
    dry_run: bool,
) -> Confirmation:
    return confirming.assess(
        deps.tokens,
        mode=Mode(deps.confirmation),
        can_ask=can_elicit(ctx),
        token=token,
        tenant=deps.tenant,
        tool=tool,
        arguments=arguments,
        dry_run=dry_run,
    )


# -- purchase ----------------------------------------------------------------------------------


async def plan_purchase(
    inventory_id: str,
    endpoint_id: str | None,
    allow_inbound: bool,
    allow_outbound: bool,
    dry_run: bool,
    confirmation_token: str | None,
    ctx: Context,
) -> PurchasePlan:
    deps = deps_of(ctx)
    arguments = {
        "inventory_id": inventory_id,
        "endpoint_id": endpoint_id,
        "allow_inbound": allow_inbound,
        "allow_outbound": allow_outbound,
    }
    confirmation = _assess(deps, ctx, confirmation_token, "purchase_number", arguments, dry_run)
    try:
        offer = await deps.store.get_offer(deps.tenant, inventory_id)
        if offer is None:
            raise ToolError(
                f"No current quote for {inventory_id}: call search_available first (the offers "
                f"it shows are remembered for {int(deps.settings.offer_ttl // 60)} minutes) so "
                "the price is known. Nothing was bought."
            )
        return await purchasing.plan(
            scope_of(deps),
            offer,
            arguments,
            confirmation,
            dry_run=dry_run,
            question_ttl=deps.settings.confirmation_ttl,
        )
    except StoreError as exc:
        raise to_tool_error(exc, write="bought") from exc


async def ask_purchase(
    plan: Annotated[PurchasePlan, Resolve(plan_purchase)],
) -> NoQuestion | Elicit[ConfirmPurchase]:
    nonce = plan.confirmation.nonce
    if nonce is None:
        return NoQuestion()
    return Elicit(purchase_question(plan.offer, plan.terms, nonce), ConfirmPurchase)


# -- release -----------------------------------------------------------------------------------


async def plan_release(
    number_id: str, dry_run: bool, confirmation_token: str | None, ctx: Context
) -> ReleasePlan:
    deps = deps_of(ctx)
    confirmation = _assess(deps, ctx, confirmation_token, "release_number", None, dry_run)
    if confirmation.claims is not None:
        return ReleasePlan(confirmation, dry_run)  # the number is looked up after the claim
    number = await lookup_number(deps, number_id)
    try:
        return await releasing.plan(
            scope_of(deps),
            number,
            confirmation,
            dry_run=dry_run,
            question_ttl=deps.settings.confirmation_ttl,
        )
    except StoreError as exc:
        raise to_tool_error(exc, write="released") from exc


async def lookup_number(deps: Deps, number_id: str) -> PhoneNumber:
    """The owned number named by an id or an E.164 number; KrosAI errors become tool errors."""
    try:
        return await deps.client.get_number(await resolve_number_id(deps, number_id))
    except KrosAIError as exc:
        raise to_tool_error(exc, write="released") from exc


async def ask_release(
    plan: Annotated[ReleasePlan, Resolve(plan_release)], ctx: Context
) -> NoQuestion | Elicit[ConfirmRelease]:
    nonce, number = plan.confirmation.nonce, plan.number
    if nonce is None or number is None:
        return NoQuestion()
    currency = deps_of(ctx).settings.currency
    question = release_question(number, release_effects(number, currency), nonce, currency)
    return Elicit(question, ConfirmRelease)
