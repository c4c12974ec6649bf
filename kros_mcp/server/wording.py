"""What the tools say: prices, plans, questions and effects, in words a model (and a person) reads.

Every value shown here is either checked against its pattern (ids, numbers, countries, types: see
krosai/formats.py) or cleaned (names, messages); model-supplied values are quoted. Every question
to a person states the money first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from ..krosai import PhoneNumber
from ..safety import PurchaseTerms, RuleVerdict, clean_text, quoted
from ..store import StoredOffer
from .models import PurchaseResult, ReleaseResult, Routing

_Result = TypeVar("_Result", PurchaseResult, ReleaseResult)

__all__ = [
    "buy_line",
    "iso_time",
    "money",
    "payment_checks",
    "policy_line",
    "purchase_question",
    "release_effects",
    "release_question",
    "replayed",
    "routing_effects",
]


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def money(cents: int, currency: str) -> str:
    """An amount in cents, in words, in `currency` (KrosAI's when stated, else the operator's:
    never assumed, since a person agrees to the amount and its currency together)."""
    return f"{cents / 100:,.2f} {currency}"


def buy_line(offer: StoredOffer) -> str:
    return (
        f"Buy {offer.number} ({offer.country} {offer.type or 'number'}) for "
        f"{money(offer.first_charge_cents, offer.currency)} now, then "
        f"{money(offer.monthly_cost_cents, offer.currency)} a month."
    )


def policy_line(verdict: RuleVerdict) -> str:
    return f"Policy {verdict.rule}: {'ok' if verdict.allowed else 'REFUSED'}, {verdict.detail}."


def payment_checks(blocker: tuple[str, float] | None) -> list[str]:
    """Plan lines on what a dry run cannot know: KrosAI has no read of KYC or balance."""
    lines = [
        "KYC and balance: checked by KrosAI only when buying (KrosAI offers no way to read them "
        "first), so a purchase can still fail for either."
    ]
    if blocker is not None:
        code, when = blocker
        lines.append(
            f"WARNING: this organisation's last purchase failed with {code} ({iso_time(when)}); "
            "it will likely fail again until that is fixed in the KrosAI dashboard."
        )
    return lines


def purchase_question(offer: StoredOffer, terms: PurchaseTerms, ref: str) -> str:
    route = (
        f"routed to endpoint {quoted(terms.endpoint_id)}"
        if terms.endpoint_id
        else "not routed to any endpoint yet"
    )
    directions = ", ".join(
        f"{label} calls {'allowed' if allowed else 'blocked'}"
        for label, allowed in (("inbound", terms.allow_inbound), ("outbound", terms.allow_outbound))
    )
    return (
        f"Pay {money(terms.first_charge_cents, offer.currency)} now (setup "
        f"{money(terms.setup_cost_cents, offer.currency)} + first month), then "
        f"{money(terms.monthly_cost_cents, offer.currency)} a month, to buy {offer.number} "
        f"({offer.country} {offer.type or 'number'}), {route}, {directions}? (ref {ref})"
    )


def release_question(
    number: PhoneNumber, effects: list[str], ref: str, operator_currency: str
) -> str:
    monthly = number.monthly_cost_cents
    stop = (
        f"Stop paying {money(monthly, number.currency or operator_currency)} a month "
        "(nothing is refunded) and release "
        if monthly
        else "Release "
    )
    return f"{stop}{number.number}? {effects[0]} This cannot be undone. (ref {ref})"


def replayed(result: _Result) -> _Result:
    """An earlier outcome, shown again for a confirmation that already acted: nothing was
    executed in this call."""
    result.executed = False
    result.message = (
        "ALREADY USED: this confirmation was used before, so nothing new was executed in this "
        "call. What it did then: " + result.message
    )
    return result


def release_effects(number: PhoneNumber, operator_currency: str) -> list[str]:
    effects = []
    if number.endpoint_id:
        # Cleaned: the name is KrosAI data that also reaches the person's confirmation question.
        label = clean_text(number.endpoint.name, limit=100) if number.endpoint else None
        name = f" {quoted(label, limit=100)}" if label else ""
        effects.append(
            f"Calls to {number.number} will no longer reach endpoint{name} ({number.endpoint_id})."
        )
    else:
        effects.append(f"{number.number} stops receiving and making calls.")
    if number.monthly_cost_cents:
        effects.append(
            "The monthly charge of "
            f"{money(number.monthly_cost_cents, number.currency or operator_currency)} stops; "
            "nothing is refunded."
        )
    effects.append(
        "The number goes back to KrosAI's pool; anyone may buy it, and it may not be available again."
    )
    return effects


def routing_effects(number: PhoneNumber, before: Routing, after: Routing) -> list[str]:
    effects = []
    if before.endpoint_id != after.endpoint_id:
        if after.endpoint_id is None:
            effects.append(
                f"Calls to {number.number} will no longer be routed to {before.endpoint_id}; "
                "they go nowhere until an endpoint is set."
            )
        elif before.endpoint_id is None:
            effects.append(f"Calls to {number.number} will be routed to {after.endpoint_id}.")
        else:
            effects.append(
                f"Calls to {number.number} move from {before.endpoint_id} to {after.endpoint_id}."
            )
    for flag, label in (("allow_inbound", "Inbound"), ("allow_outbound", "Outbound")):
        old, new = getattr(before, flag), getattr(after, flag)
        if old != new:
            effects.append(f"{label} calls will be {'allowed' if new else 'blocked'}.")
    return effects or ["No change: the number is already routed this way."]
