"""Asking the person before spending or releasing: elicitation resolvers and how a call is confirmed."""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit
from pydantic import BaseModel, Field

from ..krosai import KrosAIError
from ..store import StoredOffer, StoreError
from .context import can_elicit, deps_of, resolve_number_id
from .deps import Deps
from .errors import to_tool_error
from .guard import DAY
from .wording import release_effects, usd

__all__ = [
    "ConfirmPurchase",
    "ConfirmRelease",
    "NoQuestion",
    "ask_purchase",
    "ask_release",
    "token_step",
]


class ConfirmPurchase(BaseModel):
    confirm: bool = Field(description="Buy this number and pay the amount shown?")


class ConfirmRelease(BaseModel):
    confirm: bool = Field(description="Release this number? This cannot be undone.")


class NoQuestion:
    """A resolver's answer when no person was asked (dry run, token given, or no elicitation)."""

    def __init__(self, why: Literal["skipped", "unsupported"]) -> None:
        self.why = why


async def ask_purchase(
    inventory_id: str,
    endpoint_id: str | None,
    allow_inbound: bool,
    allow_outbound: bool,
    dry_run: bool,
    confirmation_token: str | None,
    ctx: Context,
) -> NoQuestion | Elicit[ConfirmPurchase]:
    deps = deps_of(ctx)
    if (
        dry_run
        or deps.confirmation == "none"
        or (confirmation_token and deps.confirmation == "auto")
    ):
        return NoQuestion("skipped")
    if not can_elicit(ctx):
        return NoQuestion("unsupported")
    offer = await deps.store.get_offer(deps.tenant, inventory_id)
    if offer is None:
        return NoQuestion("skipped")  # the tool explains: search first
    if await policy_refuses_purchase(deps, offer):
        return NoQuestion("skipped")  # the tool refuses it: never ask the person to approve that
    route = (
        f", routed to endpoint {endpoint_id}" if endpoint_id else ", not routed to any endpoint yet"
    )
    return Elicit(
        f"Buy {offer.number} ({offer.country} {offer.type or 'number'}){route}? "
        f"It costs {usd(offer.first_charge_cents)} now (setup {usd(offer.setup_cost_cents)} + first month), "
        f"then {usd(offer.monthly_cost_cents)} a month.",
        ConfirmPurchase,
    )


async def ask_release(
    number_id: str, dry_run: bool, confirmation_token: str | None, ctx: Context
) -> NoQuestion | Elicit[ConfirmRelease]:
    deps = deps_of(ctx)
    if (
        dry_run
        or deps.confirmation == "none"
        or (confirmation_token and deps.confirmation == "auto")
    ):
        return NoQuestion("skipped")
    if not can_elicit(ctx):
        return NoQuestion("unsupported")
    try:
        number = await deps.client.get_number(await resolve_number_id(deps, number_id))
    except KrosAIError as exc:
        # Fail here: skipping the question would let the tool, if KrosAI answers it a moment later,
        # fall back to a confirmation token although this person could have been asked.
        raise to_tool_error(exc, write="released") from exc
    if not deps.policy.change_verdict(
        number_id=number.id, number=number.number, action="released"
    ).allowed:
        return NoQuestion("skipped")  # the tool refuses it: never ask the person to approve that
    return Elicit(
        f"Release {number.number}? {release_effects(number)[0]} This cannot be undone.",
        ConfirmRelease,
    )


async def policy_refuses_purchase(deps: Deps, offer: StoredOffer) -> bool:
    """Would the operator's policy refuse buying this offer now? (A store failure: the tool reports it.)"""
    try:
        spent = await deps.store.spent_in_window(deps.tenant, DAY)
    except StoreError:
        return True
    verdicts = deps.policy.purchase_verdicts(
        country=offer.country,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        spent_24h_cents=spent,
    )
    return not all(v.allowed for v in verdicts)


def token_step(
    deps: Deps, ctx: Context, answer: Any
) -> Literal["elicited", "none", "issue", "refuse"]:
    """How a call without a usable token is confirmed."""
    if deps.confirmation == "none":
        return "none"
    if isinstance(answer, AcceptedElicitation) and isinstance(answer.data, NoQuestion):
        if answer.data.why == "unsupported" and deps.confirmation == "human":
            return "refuse"
        return "issue"
    return "elicited"
