"""A purchase's decisions: its plan (quote, verdicts, confirmation) read once per call, and the
steps between the person's agreement and the upstream call.

Before anything is sent: the confirmation token is claimed (a copy of a used one replays the
earlier outcome), the quote is read from KrosAI again and must equal the agreed one price for
price, and the spend is reserved within the budget with the intent on record. The tool shapes the
results; the upstream call and its settlement follow `prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..krosai import KrosAIClient
from ..store import StoredOffer
from .confirm import Step
from .confirmation import Confirmation, open_question
from .policy import RuleVerdict
from .quotes import PurchaseTerms, quote_holds, refresh_offer
from .writes import Scope, WriteAttempt

__all__ = [
    "ConfirmationInUse",
    "NoLongerForSale",
    "PriceChanged",
    "PurchasePlan",
    "Ready",
    "Replay",
    "plan",
    "prepare",
]

TOOL = "purchase_number"


@dataclass(frozen=True)
class PurchasePlan:
    """Everything a purchase call decides from, read once per round: the question's resolver and
    the tool body act on this one object."""

    offer: StoredOffer
    terms: PurchaseTerms
    verdicts: list[RuleVerdict]
    confirmation: Confirmation
    dry_run: bool

    @property
    def refusal(self) -> RuleVerdict | None:
        """The first rule of the operator's policy that refuses this purchase, if any."""
        return next((v for v in self.verdicts if not v.allowed), None)

    @property
    def claim_key(self) -> str | None:
        claims = self.confirmation.claims
        return None if claims is None else f"token:{claims.token_id}"


async def plan(
    scope: Scope,
    offer: StoredOffer,
    arguments: dict[str, Any],
    confirmation: Confirmation,
    *,
    dry_run: bool,
    question_ttl: float,
) -> PurchasePlan:
    """The plan of a purchase of `offer`: one read of the spend for the policy's verdicts, and
    the question's reference when the person is to be asked."""
    terms = PurchaseTerms.of(offer, arguments)
    verdicts = scope.policy.purchase_verdicts(
        country=offer.country,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        spent_24h_cents=await scope.ledger.spent(),
    )
    planned = PurchasePlan(offer, terms, verdicts, confirmation, dry_run)
    if confirmation.step is Step.ASK and not dry_run and planned.refusal is None:
        asked = await open_question(
            scope.store, scope.tenant, confirmation, terms.subject(), question_ttl
        )
        planned = replace(planned, confirmation=asked)
    return planned


class ConfirmationInUse(Exception):
    """The token is acting in another call right now, or was used with other arguments."""

    def __init__(self, in_progress: bool) -> None:
        super().__init__("in progress" if in_progress else "other arguments")
        self.in_progress = in_progress


class NoLongerForSale(Exception):
    """KrosAI no longer offers the number."""


@dataclass(frozen=True)
class Replay:
    """The confirmation already acted: its stored result, to show again."""

    result: dict[str, Any]


@dataclass(frozen=True)
class PriceChanged:
    """The agreed quote no longer holds: nothing was reserved or recorded."""

    agreed: dict[str, Any]
    current: StoredOffer


@dataclass(frozen=True)
class Ready:
    """Claimed, checked, reserved and on record: the purchase may be sent, once."""

    attempt: WriteAttempt
    current: StoredOffer


async def prepare(
    scope: Scope, client: KrosAIClient, planned: PurchasePlan, audit_quote: dict[str, Any]
) -> Replay | PriceChanged | Ready:
    """Claim the token, check the quote against KrosAI's price now, reserve and record.

    Raises ConfirmationInUse, NoLongerForSale, PolicyError (the budget, on record), StoreError,
    KrosAIError; a claim is given back whenever nothing went ahead."""
    key = planned.claim_key
    claims = planned.confirmation.claims
    if key is not None and claims is not None:
        claim = await scope.claim(key, claims.args_digest)
        step = planned.confirmation.after_claim(claim.state)
        if step is Step.REPLAY and claim.result is not None:
            return Replay(claim.result)
        if step is not Step.PROCEED:
            raise ConfirmationInUse(claim.state == "in_progress")
    try:
        current = await refresh_offer(client, planned.offer)
        if current is None:
            raise NoLongerForSale(planned.offer.number)
    except BaseException:
        await scope.unclaim(key)
        raise
    agreed = claims.quote if claims is not None else planned.terms.quote()
    if not quote_holds(agreed, current):
        await scope.unclaim(key)
        return PriceChanged(agreed or {}, current)
    attempt = await scope.begin(
        TOOL,
        {**planned.terms.arguments(), "dedupe": key},
        confirmation=planned.confirmation.how,
        quote=audit_quote,
        reserve_cents=current.first_charge_cents,
        claim_key=key,
    )
    return Ready(attempt, current)
