"""What the tools say: prices, plans and effects, in words a model (and a person) can read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, TypeVar

from ..krosai import PhoneNumber
from ..safety import RuleVerdict
from ..safety.text import clean_text
from ..store import StoredOffer
from .models import Routing

__all__ = [
    "buy_line",
    "iso_time",
    "policy_line",
    "release_effects",
    "replayed",
    "routing_effects",
    "usd",
]


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def usd(cents: int) -> str:
    return f"{cents / 100:,.2f} USD"


def buy_line(offer: StoredOffer) -> str:
    return (
        f"Buy {offer.number} ({offer.country} {offer.type or 'number'}) for {usd(offer.first_charge_cents)} "
        f"now, then {usd(offer.monthly_cost_cents)} a month."
    )


def policy_line(verdict: RuleVerdict) -> str:
    return f"Policy {verdict.rule}: {'ok' if verdict.allowed else 'REFUSED'}, {verdict.detail}."


class _Replayable(Protocol):
    message: str


_R = TypeVar("_R", bound=_Replayable)


def replayed(result: _R) -> _R:
    result.message = (
        "ALREADY USED: this confirmation_token was used before, so nothing new happened. "
        "What it did then: " + result.message
    )
    return result


def release_effects(number: PhoneNumber) -> list[str]:
    effects = []
    if number.endpoint_id:
        # Cleaned: the name is KrosAI data that also reaches the person's confirmation question.
        label = clean_text(number.endpoint.name, limit=100) if number.endpoint else None
        name = f" '{label}'" if label else ""
        effects.append(
            f"Calls to {number.number} will no longer reach endpoint{name} ({number.endpoint_id})."
        )
    else:
        effects.append(f"{number.number} stops receiving and making calls.")
    if number.monthly_cost_cents:
        effects.append(
            f"The monthly charge of {usd(number.monthly_cost_cents)} stops; nothing is refunded."
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
