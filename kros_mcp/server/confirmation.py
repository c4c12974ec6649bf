"""Asking the person before spending or releasing: each write's plan, and the question it puts.

A write tool takes two resolved parameters: its plan (resolved once per round, from one read of
the offer, the budget and the token) and the person's answer, whose resolver asks only when the
plan says so. The tool body acts on the same plan, so whether to ask or to issue a token is decided
once (safety.confirm.decide). A question carries a reference that is single-use: once an answer to
it has acted, re-sending that answer asks the person again instead of acting twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
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
from ..safety import (
    Answer,
    ConfirmationError,
    Mode,
    PurchaseTerms,
    ReleaseTerms,
    RuleVerdict,
    Step,
    TokenClaims,
    TokenState,
    decide,
)
from ..store import StoredOffer, StoreError
from .context import can_elicit, deps_of, resolve_number_id
from .deps import Deps
from .errors import to_tool_error
from .guard import scope_of
from .wording import purchase_question, release_effects, release_question

__all__ = [
    "ConfirmPurchase",
    "ConfirmRelease",
    "NoQuestion",
    "PurchasePlan",
    "ReleasePlan",
    "answer_of",
    "ask_purchase",
    "ask_release",
    "plan_purchase",
    "plan_release",
    "step_after",
]


class ConfirmPurchase(BaseModel):
    confirm: bool = Field(description="Buy this number and pay the amount shown?")


class ConfirmRelease(BaseModel):
    confirm: bool = Field(description="Release this number? This cannot be undone.")


class NoQuestion:
    """An answer resolver's value when the plan puts no question."""


@dataclass(frozen=True)
class Confirmation:
    """How a call stands on confirmation, before the person is asked."""

    mode: Mode
    can_ask: bool
    token: TokenState
    claims: TokenClaims | None
    token_error: ConfirmationError | None
    step: Step
    nonce: str | None = None  # the question's single-use reference, when one is put

    def after(self, answer: Answer) -> Step:
        """The step once the person's answer (or its absence) is known."""
        return decide(self.mode, can_ask=self.can_ask, token=self.token, answer=answer)

    def after_claim(self, claim: str) -> Step:
        """The step once the token's single-use claim is known ("new", "done", "in_progress",
        "conflict": see StateStore.claim_request)."""
        state = {
            "new": self.token,
            "done": TokenState.REUSED,
            "in_progress": TokenState.IN_USE,
        }.get(claim, TokenState.OTHER_ARGUMENTS)
        return decide(self.mode, can_ask=self.can_ask, token=state, answer=Answer.NOT_ASKED)

    @property
    def how(self) -> str:
        """How a proceeding call was confirmed, as the audit records it."""
        if self.mode is Mode.NONE:
            return "none"
        return "token" if self.claims is not None and self.mode is Mode.AUTO else "elicitation"


def _confirmation(
    deps: Deps,
    ctx: Context,
    token: str | None,
    tool: str,
    arguments: dict[str, Any] | None,
    *,
    dry_run: bool,
) -> Confirmation:
    mode = Mode(deps.confirmation)
    can_ask = can_elicit(ctx)
    claims: TokenClaims | None = None
    error: ConfirmationError | None = None
    state = TokenState.ABSENT
    # A token speaks for the person only in auto mode; elsewhere it is ignored.
    if token and mode is Mode.AUTO and not dry_run:
        try:
            claims = deps.tokens.verify(token, tenant=deps.tenant, tool=tool, arguments=arguments)
            state = TokenState.VALID
        except ConfirmationError as exc:
            error, state = exc, exc.state
    step = decide(mode, can_ask=can_ask, token=state, answer=Answer.NOT_ASKED)
    return Confirmation(mode, can_ask, state, claims, error, step)


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


async def step_after(deps: Deps, confirmation: Confirmation, subject: str, answer: Answer) -> Step:
    """The step once the person's answer is known. An answer acts once: the question it
    answers is closed now, so a copy of the answer sent again finds it closed (ANSWER_USED)."""
    if confirmation.nonce is not None and answer is not Answer.NOT_ASKED:
        taken = await deps.store.take_question(deps.tenant, subject, confirmation.nonce)
        if not taken:
            return confirmation.after(Answer.REPLAYED)
    return confirmation.after(answer)


async def _open_question(deps: Deps, subject: str) -> str:
    return await deps.store.open_question(
        deps.tenant, subject, secrets.token_hex(4).upper(), deps.settings.confirmation_ttl
    )


# -- purchase ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchasePlan:
    """Everything a purchase call decides from, read once per round."""

    offer: StoredOffer
    terms: PurchaseTerms
    verdicts: list[RuleVerdict]
    confirmation: Confirmation
    dry_run: bool

    @property
    def refusal(self) -> RuleVerdict | None:
        return next((v for v in self.verdicts if not v.allowed), None)


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
    try:
        offer = await deps.store.get_offer(deps.tenant, inventory_id)
        if offer is None:
            raise ToolError(
                f"No current quote for {inventory_id}: call search_available first (the offers "
                f"it shows are remembered for {int(deps.settings.offer_ttl // 60)} minutes) so "
                "the price is known. Nothing was bought."
            )
        spent = await scope_of(deps).ledger.spent()
    except StoreError as exc:
        raise to_tool_error(exc, write="bought") from exc
    arguments = {
        "inventory_id": inventory_id,
        "endpoint_id": endpoint_id,
        "allow_inbound": allow_inbound,
        "allow_outbound": allow_outbound,
    }
    terms = PurchaseTerms.of(offer, arguments)
    verdicts = deps.policy.purchase_verdicts(
        country=offer.country,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        spent_24h_cents=spent,
    )
    confirmation = _confirmation(
        deps, ctx, confirmation_token, "purchase_number", arguments, dry_run=dry_run
    )
    plan = PurchasePlan(offer, terms, verdicts, confirmation, dry_run)
    if confirmation.step is Step.ASK and not dry_run and plan.refusal is None:
        nonce = await _open_question(deps, terms.subject())
        plan = replace(plan, confirmation=_with_nonce(confirmation, nonce))
    return plan


def _with_nonce(confirmation: Confirmation, nonce: str) -> Confirmation:
    return replace(confirmation, nonce=nonce)


async def ask_purchase(
    plan: Annotated[PurchasePlan, Resolve(plan_purchase)],
) -> NoQuestion | Elicit[ConfirmPurchase]:
    nonce = plan.confirmation.nonce
    if nonce is None:
        return NoQuestion()
    return Elicit(purchase_question(plan.offer, plan.terms, nonce), ConfirmPurchase)


# -- release -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleasePlan:
    """Everything a release call decides from. With a token (auto mode) the number is looked up
    only after the token is claimed, so that a replay needs no lookup: `number` is then None."""

    confirmation: Confirmation
    dry_run: bool
    number: PhoneNumber | None = None
    verdict: RuleVerdict | None = None

    @property
    def terms(self) -> ReleaseTerms | None:
        return None if self.number is None else ReleaseTerms(self.number.id, self.number.number)


async def plan_release(
    number_id: str, dry_run: bool, confirmation_token: str | None, ctx: Context
) -> ReleasePlan:
    deps = deps_of(ctx)
    confirmation = _confirmation(
        deps, ctx, confirmation_token, "release_number", None, dry_run=dry_run
    )
    if confirmation.claims is not None:
        return ReleasePlan(confirmation, dry_run)
    number = await lookup_number(deps, number_id)
    verdict = deps.policy.change_verdict(
        number_id=number.id, number=number.number, action="released"
    )
    if confirmation.step is Step.ASK and not dry_run and verdict.allowed:
        subject = ReleaseTerms(number.id, number.number).subject()
        confirmation = _with_nonce(confirmation, await _open_question(deps, subject))
    return ReleasePlan(confirmation, dry_run, number, verdict)


async def lookup_number(deps: Deps, number_id: str) -> PhoneNumber:
    """The owned number named by an id or an E.164 number; KrosAI errors become tool errors."""
    try:
        return await deps.client.get_number(await resolve_number_id(deps, number_id))
    except KrosAIError as exc:
        raise to_tool_error(exc, write="released") from exc


async def ask_release(
    plan: Annotated[ReleasePlan, Resolve(plan_release)],
) -> NoQuestion | Elicit[ConfirmRelease]:
    nonce = plan.confirmation.nonce
    if nonce is None or plan.number is None:
        return NoQuestion()
    return Elicit(
        release_question(plan.number, release_effects(plan.number), nonce), ConfirmRelease
    )
